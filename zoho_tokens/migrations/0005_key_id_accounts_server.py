"""``key_id`` (which key encrypted a row) and ``accounts_server`` (which Zoho accounts server
issued the token), filled for existing rows: ``key_id`` by trying the keys in force,
``accounts_server`` where the token's api domain names its data center for certain."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    from zoho_tokens.datacenters import issuer
    from zoho_tokens.keys import fill_key_ids

    model = apps.get_model("zoho_tokens", "ZohoToken")
    manager = model.objects.db_manager(schema_editor.connection.alias)
    fill_key_ids(model, using=schema_editor.connection.alias)
    for pk, api_domain in manager.filter(accounts_server="").values_list("pk", "api_domain"):
        server = issuer(api_domain)
        if server:
            manager.filter(pk=pk).update(accounts_server=server)


class Migration(migrations.Migration):

    dependencies = [
        ("zoho_tokens", "0004_exact_identity"),
    ]

    operations = [
        migrations.AddField(
            model_name="zohotoken",
            name="accounts_server",
            field=models.CharField(blank=True, default="", editable=False, max_length=255, verbose_name="accounts server"),
        ),
        migrations.AddField(
            model_name="zohotoken",
            name="key_id",
            field=models.CharField(blank=True, default="", editable=False, max_length=16, verbose_name="key id"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False),
    ]
