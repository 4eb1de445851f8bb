"""The admin base class of zoho_tokens' ModelAdmins: hidden where a schema has no tables."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from zoho_tokens.tenancy import installed_here

NOT_IN_THIS_SCHEMA = _(
    "Zoho tokens are kept in each tenant's own schema, not in this one: open the admin on a "
    "tenant's domain to see them."
)


class SchemaAwareAdmin(admin.ModelAdmin):
    """Hidden where the current schema has no zoho_tokens tables (``tenancy.installed_here``).

    With django-tenants and zoho_tokens in ``TENANT_APPS``, the public host's admin lists no
    Zoho models, and their URLs redirect to the admin index with a message instead of
    querying tables that do not exist there.
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return installed_here() and super().has_module_permission(request)

    def get_urls(self) -> list[Any]:
        urls = super().get_urls()
        for pattern in urls:
            pattern.callback = self._only_where_installed(pattern.callback)
        return urls

    def _only_where_installed(self, view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not installed_here():
                return self._not_here(request)
            return view(request, *args, **kwargs)

        return wrapper

    def _not_here(self, request: HttpRequest) -> HttpResponse:
        self.message_user(request, NOT_IN_THIS_SCHEMA, messages.WARNING)
        return HttpResponseRedirect(reverse("admin:index", current_app=self.admin_site.name))
