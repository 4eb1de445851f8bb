"""The audit keeps who acted after the user is deleted: ``actor_name``, filled for existing
rows from the user table, and an ``actor`` foreign key without a database constraint or
cascade (with django-tenants the users live in the public schema and the audit rows in each
tenant's schema, so a constraint there blocked deleting a user who acted in two tenants)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def fill_actor_names(apps, schema_editor):
    from django.contrib.auth import get_user_model

    alias = schema_editor.connection.alias
    event_model = apps.get_model("zoho_tokens", "TokenAuditEvent")
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    username_field = get_user_model().USERNAME_FIELD
    events = event_model.objects.db_manager(alias).filter(actor_id__isnull=False, actor_name="")
    actor_ids = set(events.values_list("actor_id", flat=True).distinct())
    if not actor_ids:
        return
    names = dict(
        user_model.objects.db_manager(alias)
        .filter(pk__in=actor_ids)
        .values_list("pk", username_field)
    )
    for pk, name in names.items():
        events.filter(actor_id=pk).update(actor_name=str(name)[:150])


class Migration(migrations.Migration):

    dependencies = [
        ("zoho_tokens", "0005_key_id_accounts_server"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="tokenauditevent",
            name="actor_name",
            field=models.CharField(
                blank=True, default="", max_length=150, verbose_name="actor name"
            ),
        ),
        migrations.AlterField(
            model_name="tokenauditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="actor",
            ),
        ),
        migrations.RunPython(fill_actor_names, migrations.RunPython.noop, elidable=True),
    ]
