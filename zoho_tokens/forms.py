"""The admin's "Connect with a grant token" form.

Secrets are typed in, never rendered back: the grant token and the client secret are
``PasswordInput(render_value=False)``, so a re-displayed form (after Zoho refused the grant)
holds neither. A blank client id or secret falls back to ``ZOHO_TOKENS`` settings.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from zoho_tokens import access
from zoho_tokens.conf import zoho_settings
from zoho_tokens.datacenters import DATA_CENTERS


def _secret_input() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})


class ConnectForm(forms.Form):
    """Grant token plus the client and data center to exchange it with."""

    grant_token = forms.CharField(
        label=_("Grant token"),
        strip=True,
        max_length=1024,
        widget=_secret_input(),
        help_text=_(
            "Generate one in the Zoho API console (Self Client → Generate Code). It is "
            "single-use and lives 3 minutes by default."
        ),
    )
    client_id = forms.CharField(
        label=_("Client id"),
        required=False,
        max_length=255,
        help_text=_("Blank: ZOHO_TOKENS['CLIENT_ID'] from settings."),
    )
    client_secret = forms.CharField(
        label=_("Client secret"),
        required=False,
        strip=True,
        max_length=1024,
        widget=_secret_input(),
        help_text=_("Blank: ZOHO_TOKENS['CLIENT_SECRET'] from settings. Never shown again."),
    )
    data_center = forms.ChoiceField(
        label=_("Data center"),
        choices=[(name, name.upper()) for name in DATA_CENTERS],
        help_text=_("Where the Zoho account lives (ignored when ACCOUNTS_URL is set)."),
    )
    tenant = forms.CharField(
        label=_("Tenant"),
        required=False,
        max_length=64,
        help_text=_("Blank for the default tenant."),
    )

    def __init__(self, *args: Any, request: Any = None, tenant: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.fields["client_id"].initial = zoho_settings.CLIENT_ID or ""
        self.fields["data_center"].initial = zoho_settings.DATA_CENTER
        self.fields["tenant"].initial = tenant
        if access.tenants_in_use():
            # The request's tenant (its host, its schema) and no other: a typed one would
            # connect a tenant this page's tenant rules never looked at.
            self.fields["tenant"].disabled = True
            self.fields["tenant"].help_text = _("The tenant of this site (its host or schema).")

    def clean_tenant(self) -> str:
        """The tenant, if the connect rule (``access.connect_refusal``) allows it here."""
        tenant = self.cleaned_data.get("tenant") or ""
        refusal = access.connect_refusal(self.request, tenant)
        if refusal is not None:
            raise forms.ValidationError(refusal, code="tenant_refused")
        return tenant
        if zoho_settings.CLIENT_SECRET:
            self.fields["client_secret"].widget.attrs["placeholder"] = str(
                _("configured in settings")
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("client_id") or zoho_settings.CLIENT_ID):
            self.add_error("client_id", _("No client id here and none in settings."))
        if not (data.get("client_secret") or zoho_settings.CLIENT_SECRET):
            self.add_error("client_secret", _("No client secret here and none in settings."))
        return data
