from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ZohoTokensConfig(AppConfig):
    name = "zoho_tokens"
    verbose_name = _("Zoho tokens")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from zoho_tokens import audit, checks, metrics, notify  # noqa: F401 - registers checks
        from zoho_tokens.conf import zoho_settings
        from zoho_tokens.services import revocations

        audit.connect()
        revocations.connect()
        notify.connect()
        if zoho_settings.METRICS:
            metrics.install()
