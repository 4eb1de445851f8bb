"""What a notice says, and the notifiers ``NOTIFY`` names (one class per file, like
django-axes' handlers)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.module_loading import import_string

from zoho_tokens.conf import zoho_settings

BUILT_IN = {
    "mail_admins": "zoho_tokens.notify.mail.MailAdminsNotifier",
    "webhook": "zoho_tokens.notify.webhook.WebhookNotifier",
}

SUMMARIES = {
    "failing": "Zoho connection {who} is failing to refresh ({error}); retrying with backoff.",
    "dead": (
        "Zoho connection {who} is dead: Zoho refused its refresh token ({error}). "
        "Reconnect it (the user revoked the app, changed password or was removed, or Zoho's "
        "20-token limit deleted it)."
    ),
    "recovered": "Zoho connection {who} works again.",
}


@dataclass(frozen=True)
class Notice:
    """One change of a connection's state, as notifiers send it. Never holds a secret."""

    event: str  # failing, dead, recovered
    token_id: str
    tenant: str
    user_name: str
    reason: str = ""
    zoho_error: str = ""
    attempt: int | None = None
    previous: str = ""
    at: str = field(default_factory=lambda: timezone.now().isoformat())

    @classmethod
    def of(cls, event: str, token: Any, **kwargs: Any) -> Notice:
        return cls(
            event=event,
            token_id=str(token.pk),
            tenant=token.tenant or "",
            user_name=token.user_name or "",
            reason=str(kwargs.get("reason") or ""),
            zoho_error=str(kwargs.get("zoho_error") or ""),
            attempt=kwargs.get("attempt"),
            previous=str(kwargs.get("previous") or ""),
        )

    @property
    def who(self) -> str:
        name = self.user_name or f"token {self.token_id}"
        return f"{name} (tenant {self.tenant})" if self.tenant else name

    @property
    def text(self) -> str:
        """One line a person reads (mail subject, Slack message)."""
        return SUMMARIES[self.event].format(who=self.who, error=self.zoho_error or self.reason)

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text}


class Notifier:
    """Sends notices somewhere. ``send`` runs in a background thread; it may raise (logged)."""

    def send(self, notice: Notice) -> None:
        raise NotImplementedError


_cache: dict[tuple[str, ...], list[Notifier]] = {}


def notifiers() -> list[Notifier]:
    """The notifiers ``NOTIFY`` names (built-in names or dotted paths), built once per value."""
    names = tuple(str(n) for n in (zoho_settings.NOTIFY or ()))
    if names not in _cache:
        _cache[names] = [import_string(BUILT_IN.get(n, n))() for n in names]
    return _cache[names]
