"""``rotate-keys`` at scale: rows already on the first key are skipped (so a re-run after an
interruption continues where it stopped), and each batch is one ``UPDATE``. Speed against a
batched floor: ``bench/bench_scale.py``."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ZohoTokenFactory
from zoho_tokens import crypto, keys
from zoho_tokens.models import ZohoToken
from zoho_tokens.outcomes import Status

pytestmark = pytest.mark.django_db

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def use(settings, zoho_settings_for, *keys_in_force: str) -> None:
    settings.ZOHO_TOKENS = {**zoho_settings_for, "ENCRYPTION_KEYS": list(keys_in_force)}


def stored() -> dict[str, tuple]:
    return {
        pk: rest
        for pk, *rest in ZohoToken.objects.values_list(
            "pk", "key_id", "client_secret", "refresh_token", "access_token"
        )
    }


def updates(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if q["sql"].upper().startswith("UPDATE")]


def test_each_batch_is_one_update_and_a_rerun_touches_nothing(settings, zoho_settings_for):
    use(settings, zoho_settings_for, OLD)
    rows = ZohoTokenFactory.create_batch(5)
    use(settings, zoho_settings_for, NEW, OLD)

    with CaptureQueriesContext(connection) as ctx:
        result = keys.rotate_keys(batch_size=2)

    assert (len(result.outcomes), result.changed, result.token_ids(Status.UNREADABLE)) == (
        5,
        15,
        [],
    )
    assert len(updates(ctx)) == 3  # 5 rows in batches of 2
    after = stored()
    assert {key_id for key_id, *_ in after.values()} == {crypto.primary_key_id()}
    use(settings, zoho_settings_for, NEW)  # the old key is gone: everything still reads
    assert {r.pk: r.refresh_token for r in ZohoToken.objects.all()} == {
        r.pk: r.refresh_token for r in rows
    }

    use(settings, zoho_settings_for, NEW, OLD)
    with CaptureQueriesContext(connection) as ctx:
        again = keys.rotate_keys(batch_size=2)
    assert (len(again.outcomes), again.changed) == (0, 0)
    assert updates(ctx) == []
    assert stored() == after  # not one value re-encrypted


def test_an_interrupted_rotation_resumes_with_the_rows_left(settings, zoho_settings_for):
    use(settings, zoho_settings_for, OLD)
    ZohoTokenFactory.create_batch(6)
    use(settings, zoho_settings_for, NEW, OLD)

    def stop_after_first_batch(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        keys.rotate_keys(batch_size=2, progress=stop_after_first_batch)
    moved = [pk for pk, (key_id, *_) in stored().items() if key_id == crypto.primary_key_id()]
    assert len(moved) == 2

    result = keys.rotate_keys(batch_size=2)

    assert len(result.outcomes) == 4  # only the rows still on the old key
    assert {key_id for key_id, *_ in stored().values()} == {crypto.primary_key_id()}


def test_statements_split_to_the_parameter_limit_with_each_rows_own_columns(
    settings, zoho_settings_for, monkeypatch
):
    """A backend with few query parameters (old SQLite builds: 999) gets several statements
    per batch; a row needing only one value rewritten gets only that one."""
    use(settings, zoho_settings_for, OLD)
    old_rows = ZohoTokenFactory.create_batch(3)
    use(settings, zoho_settings_for, NEW, OLD)
    on_new = ZohoTokenFactory(grant_token="")
    with connection.cursor() as cursor:  # a clear value behind the model's back
        cursor.execute(
            "UPDATE zoho_tokens_zohotoken SET grant_token = %s WHERE id = %s",
            ["1000.cleargrant.x", on_new.pk],
        )
    before = stored()[on_new.pk]
    monkeypatch.setattr(connection.features, "max_query_params", 9)

    with CaptureQueriesContext(connection) as ctx:
        result = keys.rotate_keys(batch_size=10)

    assert result.changed == 3 * 3 + 1 and len(updates(ctx)) == 4
    after = stored()
    assert after[on_new.pk][1:] == before[1:]  # its encrypted values were left alone
    row = ZohoToken.objects.get(pk=on_new.pk)
    assert row.grant_token == "1000.cleargrant.x"
    assert ZohoToken.objects.by_grant_token("1000.cleargrant.x").get().pk == on_new.pk
    use(settings, zoho_settings_for, NEW)
    assert {r.pk: r.refresh_token for r in ZohoToken.objects.exclude(pk=on_new.pk)} == {
        r.pk: r.refresh_token for r in old_rows
    }
