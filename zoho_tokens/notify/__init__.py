"""Tell people when a connection starts failing, dies, or recovers (``ZOHO_TOKENS["NOTIFY"]``).

Off by default. ``NOTIFY`` lists notifiers: ``"mail_admins"`` (Django's ``mail_admins``),
``"webhook"`` (a signed JSON POST to ``WEBHOOK_URL``), or dotted paths to ``Notifier``
subclasses. They listen to the lifecycle signals and pass on *changes* only (one notice per
connection per change, however many calls failed; see ``zoho_tokens.lifecycle``):

- ``failing``: ``token_refresh_failed`` with ``attempt == 1`` (not when Zoho refused the token:
  ``dead`` follows at once);
- ``dead``: ``token_invalidated``;
- ``recovered``: ``token_recovered``.

Notifiers run in a background thread (``zoho_tokens.background``) after the change commits:
a slow mail server or webhook never holds up, and a failing one never fails, a refresh.
"""

from __future__ import annotations

from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from zoho_tokens import background, signals
from zoho_tokens.conf import zoho_settings
from zoho_tokens.notify.base import Notice, Notifier, notifiers

__all__ = ["Notice", "Notifier", "connect", "notice_for"]


def notice_for(signal: Any, token: Any, **kwargs: Any) -> Notice | None:
    """The notice a lifecycle signal means, or None when it is not a change of state."""
    if signal is signals.token_refresh_failed:
        if kwargs.get("attempt") != 1 or kwargs.get("reason") == "refused":
            return None
        return Notice.of("failing", token, **kwargs)
    if signal is signals.token_invalidated:
        return Notice.of("dead", token, **kwargs)
    if signal is signals.token_recovered:
        return Notice.of("recovered", token, **kwargs)
    return None


def _on_lifecycle(sender: Any, signal: Any, token: Any, **kwargs: Any) -> None:
    notice = notice_for(signal, token, **kwargs)
    if notice is None:
        return
    for notifier in notifiers():
        background.submit(notifier.send, notice)


LIFECYCLE = (signals.token_refresh_failed, signals.token_invalidated, signals.token_recovered)


def connect() -> None:
    """Listen to the lifecycle signals when ``NOTIFY`` names a notifier (else stop)."""
    for signal in LIFECYCLE:
        if zoho_settings.NOTIFY:
            signal.connect(_on_lifecycle, dispatch_uid="zoho_tokens.notify")
        else:
            signal.disconnect(dispatch_uid="zoho_tokens.notify")


@receiver(setting_changed)
def _notify_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "ZOHO_TOKENS":
        connect()
