"""Tenant, user name, id and checksum columns compare exactly on MySQL/MariaDB.

The server's default collation (e.g. ``utf8mb4_general_ci``) ignores case, accents and
trailing spaces, so tenant ``ACME`` would read tenant ``acme``'s tokens. This gives those
columns a binary collation without padding (``utf8mb4_nopad_bin`` on MariaDB,
``utf8mb4_0900_bin`` on MySQL 8); indexes and the unique constraint are rebuilt by the
server. A no-op on every other database (they compare exactly already).
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from zoho_tokens.collation import make_exact

    make_exact(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("zoho_tokens", "0003_refresh_backoff")]

    # DDL: MySQL cannot run it inside a transaction.
    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, atomic=False, elidable=False)
    ]
