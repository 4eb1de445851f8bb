"""``"mail_admins"``: one mail to ``settings.ADMINS`` per change of a connection's state."""

from __future__ import annotations

from django.core.mail import mail_admins

from zoho_tokens.notify.base import Notice, Notifier


class MailAdminsNotifier(Notifier):
    def send(self, notice: Notice) -> None:
        body = "\n".join(
            [
                notice.text,
                "",
                f"event: {notice.event}",
                f"token id: {notice.token_id}",
                f"tenant: {notice.tenant or '(default)'}",
                f"user: {notice.user_name or '-'}",
                f"Zoho's error: {notice.zoho_error or '-'}",
                f"at: {notice.at}",
            ]
        )
        mail_admins(f"Zoho connection {notice.event}: {notice.who}", body, fail_silently=False)
