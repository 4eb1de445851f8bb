"""Finding 5 of issue 21: tokens handed to the SDK never need the SDK's own refresh.

A row with a refresh token but no access token or no expiry (an import of a FileStore row
without them) was handed to the SDK as it was: the SDK refreshed it itself, without lease or
timeout, and when that failed the error report (Django's debug page, admin e-mails, Sentry)
held the refresh token and the client secret in the SDK's and urllib3's frames. Now the store
refreshes such a row through zoho_tokens' single-flight refresh first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.views.debug import SafeExceptionReporterFilter

from tests.helpers import current_email, exceptions_in
from zoho_tokens.models import ZohoToken
from zoho_tokens.sdk import use_zoho
from zoho_tokens.store import DjangoTokenStore

pytestmark = pytest.mark.django_db(transaction=True)

TESTS = str(Path(__file__).resolve().parent)


@pytest.fixture
def sdk_settings(settings, zoho_settings_for, sdk_resource_path):
    settings.ZOHO_TOKENS = {**zoho_settings_for, "SDK_RESOURCE_PATH": sdk_resource_path}


def report_texts(exc: BaseException) -> list[str]:
    """What an error report shows: every error's text and every frame's locals (as Django's
    reporter filters them), across the whole chain, the tests' own frames aside."""
    reporter = SafeExceptionReporterFilter()
    texts = []
    for error in exceptions_in(exc):
        texts += [str(error), repr(error), repr(getattr(error, "__dict__", {}))]
        tb = error.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if not frame.f_code.co_filename.startswith(TESTS):
                for name, value in reporter.get_traceback_frame_variables(None, frame):
                    texts.append(f"{frame.f_code.co_name} {name}={value!r}")
            tb = tb.tb_next
    return texts


@pytest.mark.parametrize("missing", ["expiry", "access token", "both"])
def test_the_store_refreshes_before_the_sdk_sees_the_token(
    fake_zoho, live_token, sdk_settings, missing
):
    row = live_token("ann@example.com:700000001")
    update: dict[str, object] = {}
    if missing in ("expiry", "both"):
        update["expiry_time"] = None
    if missing in ("access token", "both"):
        update.update(access_token="", access_token_checksum="")
    ZohoToken.objects.filter(pk=row.pk).update(**update)

    token = DjangoTokenStore().find_token_by_id(row.pk)

    assert token.get_access_token() and token.get_expires_in()  # usable: no SDK refresh
    assert fake_zoho.counters["refresh_ok"] == 1
    stored = ZohoToken.objects.get(pk=row.pk)
    assert stored.expiry_time and stored.access_token == token.get_access_token()
    with use_zoho():
        assert current_email() == "ann@example.com"
    assert fake_zoho.counters["refresh_ok"] == 1


@pytest.mark.parametrize("zoho", ["refuses", "is down"])
def test_a_failing_use_zoho_report_holds_no_secret(fake_zoho, live_token, sdk_settings, zoho):
    row = live_token("ann@example.com:700000001", registered=zoho == "is down")
    ZohoToken.objects.filter(pk=row.pk).update(
        expiry_time=None, access_token="", access_token_checksum=""
    )
    if zoho == "is down":
        fake_zoho.stop()

    with pytest.raises(Exception) as caught:
        with use_zoho():
            current_email()

    secrets = [row.refresh_token, row.client_secret]
    leaks = [t for t in report_texts(caught.value) for s in secrets if s in t]
    assert leaks == [], "\n".join(leaks)[:3000]
    assert "\n" not in str(caught.value).strip()
