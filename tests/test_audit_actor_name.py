"""Migration 0006: existing audit rows get their actor's name, and the actor foreign key
loses its database constraint (the audit outlives the user)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import UserFactory
from zoho_tokens.models import TokenAuditEvent

BEFORE = [("zoho_tokens", "0005_key_id_accounts_server")]


def latest():
    """Back to every zoho_tokens migration, 0006 and those after it (later tests and the
    system checks expect a fully migrated database)."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes("zoho_tokens")


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_0006_fills_actor_name_from_the_user_table():
    ann = UserFactory(username="ann")
    try:
        old_apps = migrate(BEFORE)
        old_event = old_apps.get_model("zoho_tokens", "TokenAuditEvent")
        with_actor = old_event.objects.create(action="purged", actor_id=ann.pk, source="admin")
        without = old_event.objects.create(action="saved", source="sdk")
    finally:
        migrate(latest())
    names = dict(TokenAuditEvent.objects.values_list("pk", "actor_name"))
    assert names == {with_actor.pk: "ann", without.pk: ""}
    constraints = connection.introspection.get_constraints(
        connection.cursor(), TokenAuditEvent._meta.db_table
    )
    assert not [c for c in constraints.values() if c["foreign_key"]]
