"""Issue 25: indexes for a million audit rows and 100k tokens.

Every admin filter of the audit list gets an index ending in the list's order (time, id), so
each page is an index range read; sweeps select tokens by ``expiry_time``. On PostgreSQL the
user name prefix search (``istartswith``: ``UPPER(user_name) LIKE 'ANN%'``) gets expression
indexes with ``text_pattern_ops``; they are created here, outside the model state, because
MySQL/MariaDB have no expression indexes (their case-insensitive collation lets the plain
``user_name`` index serve the same search).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

UPPER_INDEXES = {
    "zt_token_user_name_upper": "zoho_tokens_zohotoken",
    "zt_audit_user_name_upper": "zoho_tokens_tokenauditevent",
}


def create_upper_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for name, table in UPPER_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} "
            f'(UPPER("user_name"::text) text_pattern_ops)'
        )


def drop_upper_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in UPPER_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("zoho_tokens", "0007_audit_source_task"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The (actor, time) index comes before the actor column loses its own index: on
        # MySQL/MariaDB, removing the last index that starts with a foreign key column
        # re-creates that column's index first, so in the other order migrating back created
        # it twice ("Duplicate key name").
        migrations.AddIndex(
            model_name="tokenauditevent",
            index=models.Index(fields=["actor", "created_at", "id"], name="zt_audit_actor_time"),
        ),
        migrations.AlterField(
            model_name="tokenauditevent",
            name="action",
            field=models.CharField(max_length=32, verbose_name="action"),
        ),
        migrations.AlterField(
            model_name="tokenauditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="actor",
            ),
        ),
        migrations.AlterField(
            model_name="tokenauditevent",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="time"),
        ),
        migrations.AlterField(
            model_name="tokenauditevent",
            name="token_id",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="token id"),
        ),
        migrations.AddIndex(
            model_name="tokenauditevent",
            index=models.Index(fields=["created_at", "id"], name="zt_audit_time"),
        ),
        migrations.AddIndex(
            model_name="tokenauditevent",
            index=models.Index(fields=["token_id", "created_at", "id"], name="zt_audit_token_time"),
        ),
        migrations.AddIndex(
            model_name="tokenauditevent",
            index=models.Index(fields=["action", "created_at", "id"], name="zt_audit_action_time"),
        ),
        migrations.AddIndex(
            model_name="tokenauditevent",
            index=models.Index(fields=["tenant", "created_at", "id"], name="zt_audit_tenant_time"),
        ),
        migrations.AddIndex(
            model_name="tokenauditevent",
            index=models.Index(fields=["source", "created_at", "id"], name="zt_audit_source_time"),
        ),
        migrations.AddIndex(
            model_name="tokenauditevent",
            index=models.Index(fields=["user_name"], name="zt_audit_user_name"),
        ),
        migrations.AddIndex(
            model_name="zohotoken",
            index=models.Index(fields=["expiry_time", "id"], name="zt_token_expiry"),
        ),
        migrations.AddIndex(
            model_name="zohotoken",
            index=models.Index(fields=["user_name"], name="zt_token_user_name"),
        ),
        migrations.RunPython(create_upper_indexes, drop_upper_indexes, elidable=False),
    ]
