"""Encrypt any token values stored in clear text (e.g. written by raw SQL or an older copy
of the table), so an existing installation upgrades in place. Safe to re-run: values that
are already encrypted are left alone."""

from django.db import migrations


def forwards(apps, schema_editor):
    from zoho_tokens.keys import encrypt_cleartext_rows

    encrypt_cleartext_rows(apps.get_model("zoho_tokens", "ZohoToken"))


class Migration(migrations.Migration):
    dependencies = [("zoho_tokens", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
