"""Admin for Zoho tokens and their audit trail: read-only by construction, secrets masked.

- No admin form edits a token: ``has_change_permission`` is always False, so the change page
  is Django's view-only page, and its fields are masked displays, never the secret columns
  (nothing on any page decrypts a value except ``ZohoToken.masked``).
- "Add" is "Connect with a grant token" (``services.exchange_grant``).
- Deleting is only possible through the two audited actions, ``revoke_selected`` and
  ``purge_selected``: ``has_delete_permission`` is False, which also removes Django's
  ``delete_selected`` and the single-object delete page.
- The changelist runs a fixed number of queries however many rows there are (no relations,
  status computed from plain columns, filters built from one query each).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from zoho_tokens import services
from zoho_tokens.datacenters import (
    DATA_CENTERS,
    FAKE_LABEL,
    data_center_label,
    data_center_of,
    is_fake,
)
from zoho_tokens.exceptions import ZohoTokensError
from zoho_tokens.forms import ConnectForm
from zoho_tokens.models import (
    AuditAction,
    TokenAuditEvent,
    TokenStatus,
    ZohoToken,
    ZohoTokenQuerySet,
    now_ms,
)
from zoho_tokens.tenancy import installed_here

STATUS_COLOURS = {
    TokenStatus.ACTIVE: "#2e7d32",
    TokenStatus.EXPIRING: "#b26a00",
    TokenStatus.EXPIRED: "#1565c0",
    TokenStatus.BACKING_OFF: "#6a1b9a",
    TokenStatus.INVALID: "#c62828",
    TokenStatus.UNREADABLE: "#c62828",
    TokenStatus.INCOMPLETE: "#616161",
}


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


#: How many audit events the token page shows inline (the rest: History, the audit list).
AUDIT_ON_TOKEN_PAGE = 20
#: Audit events per page of a token's History.
HISTORY_PER_PAGE = 50


def when(value: datetime | None) -> str:
    """A time as operators read it: to the second, in the project's time zone."""
    if value is None:
        return "—"
    return date_format(localtime(value), "Y-m-d H:i:s T")


def epoch_ms_when(value: Any) -> str:
    """An epoch-milliseconds expiry (the SDK's unit) as a date, like ``when``."""
    try:
        return when(datetime.fromtimestamp(int(value) / 1000, tz=UTC))
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)


def detail_text(detail: Any) -> str:
    """An audit event's detail as ``key: value`` pairs; expiry as a date, never epoch ms."""
    if not isinstance(detail, dict) or not detail:
        return ""
    parts = []
    for key, value in detail.items():
        if isinstance(value, list | dict) and not value:
            continue  # e.g. no replaced ids: nothing to say
        if key == "expiry_time" and value is not None:
            key, value = str(_("access token expires")), epoch_ms_when(value)
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


def action_label(action: str) -> str:
    try:
        return str(AuditAction(action).label)
    except ValueError:
        return action


class StatusFilter(admin.SimpleListFilter):
    """``TokenStatus``, filtered on the ``with_status()`` annotation (the one status rule)."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return list(TokenStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if not value:
            return None
        if value not in TokenStatus.values:
            return queryset.none()
        return cast(ZohoTokenQuerySet, queryset).with_status().filter(token_status=value)


class ActionFilter(admin.SimpleListFilter):
    """Audit actions by their labels ("grant exchange failed", not ``grant_failed``)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        found = set(model_admin.get_queryset(request).values_list("action", flat=True).distinct())
        return [(value, label) for value, label in AuditAction.choices if value in found]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        return queryset.filter(action=self.value()) if self.value() else None


def _data_center_q(name: str) -> Q:
    suffix = "." + DATA_CENTERS[name].api_suffix
    return Q(api_domain__iendswith=suffix) | Q(api_domain__icontains=suffix + "/")


class DataCenterFilter(admin.SimpleListFilter):
    """Data center derived from ``api_domain`` (``conf.data_center_of``); one query to list.

    The bundled fake Zoho that the settings point at (the demo, tests) is its own choice,
    "fake Zoho (demo)", apart from "other / unknown".
    """

    title = _("data center")
    parameter_name = "data_center"
    OTHER = "other"
    FAKE = "fake"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        domains = model_admin.get_queryset(request).values_list("api_domain", flat=True)
        unknown = set()
        found = set()
        for domain in domains.distinct().order_by():
            dc = data_center_of(domain)
            found.add(dc)
            if dc is None:
                unknown.add(self.FAKE if is_fake(domain) else self.OTHER)
        choices: list[tuple[str, Any]] = [(n, n.upper()) for n in DATA_CENTERS if n in found]
        if self.FAKE in unknown:
            choices.append((self.FAKE, FAKE_LABEL))
        if self.OTHER in unknown:
            choices.append((self.OTHER, _("other / unknown")))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet | None:
        value = self.value()
        if not value:
            return None
        if value in (self.OTHER, self.FAKE):
            known = Q()
            for name in DATA_CENTERS:
                known |= _data_center_q(name)
            unknown = queryset.exclude(known)
            domains = unknown.values_list("api_domain", flat=True).distinct().order_by()
            fake = [d for d in domains if is_fake(d)]
            if value == self.FAKE:
                return unknown.filter(api_domain__in=fake)
            return unknown.exclude(api_domain__in=fake)
        if value in DATA_CENTERS:
            return queryset.filter(_data_center_q(value))
        return queryset.none()


# The token page: only these names are ever rendered; the secret, checksum and lease
# columns are not among them.
DETAIL_FIELDSETS: list[tuple[Any, dict[str, list[str]]]] = [
    (
        None,
        {"fields": ["id", "tenant_display", "user_name", "status_display", "invalid_reason"]},
    ),
    (
        _("Secrets (masked)"),
        {
            "fields": [
                "client_id",
                "client_secret_display",
                "refresh_token_display",
                "access_token_display",
                "grant_token_display",
            ]
        },
    ),
    (
        _("Zoho"),
        {"fields": ["api_domain", "data_center", "expiry_display", "redirect_url"]},
    ),
    (_("History"), {"fields": ["created_display", "updated_display", "invalidated_display"]}),
]


def _status_parts(row: ZohoToken) -> tuple[str, str]:
    """The coloured status label and its reason (Zoho's refusal, or why refreshes back off)."""
    status = row.status()
    label = format_html(
        '<strong class="zt-status zt-{}" style="color:{}">{}</strong>',
        status.value,
        STATUS_COLOURS[status],
        status.label,
    )
    reason = row.invalid_reason or (row.refresh_error if status == TokenStatus.BACKING_OFF else "")
    return label, reason


def _relative(expiry_time: int) -> str:
    """``expires in 42 min`` / ``expired 3 min ago``."""
    left = expiry_time - now_ms()
    minutes = int(abs(left) // 60000)
    if left > 0:
        return ngettext("expires in %(n)d min", "expires in %(n)d min", minutes) % {"n": minutes}
    return ngettext("expired %(n)d min ago", "expired %(n)d min ago", minutes) % {"n": minutes}


def _event_row(event: TokenAuditEvent) -> dict[str, Any]:
    """What the token page and History show of an audit event (already safe: no secrets)."""
    return {
        "when": when(event.created_at),
        "action": action_label(event.action),
        "outcome": event.outcome,
        "source": event.get_source_display(),  # type: ignore[attr-defined]
        "actor": event.actor.get_username() if event.actor else "",
        "detail": detail_text(event.detail),
    }


@admin.register(ZohoToken)
class ZohoTokenAdmin(SchemaAwareAdmin):
    # Three columns, so that the list reads without scrolling on a 1366 px laptop beside the
    # admin's navigation and filters: who (email, org, tenant), where, and in what state (with
    # the access token's expiry or the reason). Masked secrets and times: on the token page.
    list_display = ["user", "data_center", "state"]
    list_display_links = ["user"]
    list_filter = [StatusFilter, "tenant", DataCenterFilter]
    search_fields = ["user_name", "tenant"]
    list_per_page = 50
    actions = ["revoke_selected", "purge_selected"]
    fieldsets = DETAIL_FIELDSETS  # type: ignore[assignment]
    readonly_fields = [name for _title, opts in DETAIL_FIELDSETS for name in opts["fields"]]
    exclude = [
        "client_secret",
        "refresh_token",
        "access_token",
        "grant_token",
        "refresh_token_checksum",
        "access_token_checksum",
        "grant_token_checksum",
        "refresh_lease_until",
        "refresh_lease_owner",
    ]

    # -- columns ---------------------------------------------------------------------------

    @admin.display(description=_("user"), ordering="user_name")
    def user(self, row: ZohoToken) -> str:
        tenant = _("tenant %(tenant)s") % {"tenant": row.tenant or _("(default)")}
        if not row.user_name:
            name: Any = _("(no user name) %(id)s") % {"id": row.pk}
        else:
            name = row.email
        if row.org_id:
            return format_html("{}<br><small>org {} · {}</small>", name, row.org_id, tenant)
        return format_html("{}<br><small>{}</small>", name, tenant)

    @admin.display(description=_("tenant"), ordering="tenant")
    def tenant_display(self, row: ZohoToken) -> Any:
        return row.tenant or _("(default)")

    @admin.display(description=_("data center"), ordering="api_domain")
    def data_center(self, row: ZohoToken) -> str:
        if not row.api_domain:
            return "—"
        host = row.api_domain.split("://", 1)[-1].split("/", 1)[0]
        return format_html("{}<br><small>{}</small>", data_center_label(row.api_domain), host)

    @admin.display(description=_("status"))
    def status_display(self, row: ZohoToken) -> str:
        label, reason = _status_parts(row)
        return format_html("{}<br><small>{}</small>", label, reason) if reason else label

    @admin.display(description=_("status"), ordering="expiry_time")
    def state(self, row: ZohoToken) -> str:
        """The list's status column: the status, then the reason or when the access token
        expires (relative; the token page has the time)."""
        label, reason = _status_parts(row)
        if not reason and row.expiry_time is not None:
            reason = f"{_('access token')} {_relative(row.expiry_time)}"
        return format_html("{}<br><small>{}</small>", label, reason) if reason else label

    @admin.display(description=_("access token expiry"), ordering="expiry_time")
    def expiry_display(self, row: ZohoToken) -> str:
        if row.expiry_time is None:
            return "—"
        relative = _relative(row.expiry_time)
        return format_html("{}<br><small>{}</small>", epoch_ms_when(row.expiry_time), relative)

    @admin.display(description=_("created at"), ordering="created_at")
    def created_display(self, row: ZohoToken) -> str:
        return when(row.created_at)

    @admin.display(description=_("updated at"), ordering="updated_at")
    def updated_display(self, row: ZohoToken) -> str:
        return when(row.updated_at)

    @admin.display(description=_("invalidated at"))
    def invalidated_display(self, row: ZohoToken) -> str:
        return when(row.invalidated_at)

    @admin.display(description=_("client secret"))
    def client_secret_display(self, row: ZohoToken) -> str:
        return row.masked("client_secret")

    @admin.display(description=_("refresh token"))
    def refresh_token_display(self, row: ZohoToken) -> str:
        return row.masked("refresh_token")

    @admin.display(description=_("access token"))
    def access_token_display(self, row: ZohoToken) -> str:
        return row.masked("access_token")

    @admin.display(description=_("grant token"))
    def grant_token_display(self, row: ZohoToken) -> str:
        return row.masked("grant_token")

    # -- permissions: read-only, deletions only through the audited actions -----------------

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.revoke_{opts.model_name}")

    def has_purge_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.purge_{opts.model_name}")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return cast(ZohoTokenQuerySet, super().get_queryset(request)).with_status()

    # -- the token page tells its story: its audit trail ------------------------------------

    def _audit_events(self, object_id: str) -> QuerySet:
        return (
            TokenAuditEvent.objects.filter(token_id=object_id)
            .select_related("actor")
            .order_by("-created_at", "-id")
        )

    def _audit_url(self, object_id: str) -> str:
        changelist = reverse(f"{self.admin_site.name}:zoho_tokens_tokenauditevent_changelist")
        return f"{changelist}?{urlencode({'token_id': object_id})}"

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        """The view-only token page, with its latest audit events (newest first) below."""
        events = self._audit_events(object_id)
        extra = {
            "audit_events": [_event_row(e) for e in events[:AUDIT_ON_TOKEN_PAGE]],
            "audit_total": events.count(),
            "audit_url": self._audit_url(object_id),
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, extra)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        """History is the audit trail (Django's change log never sees token changes: they
        happen in the SDK, commands and services). Shown also after the token is gone."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, object_id)
        events = self._audit_events(object_id)
        page = Paginator(events, HISTORY_PER_PAGE).get_page(request.GET.get("p"))
        name = (
            str(obj)
            if obj is not None
            else next((e.user_name for e in events[:1] if e.user_name), object_id)
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("History: %(name)s") % {"name": name},
            "subtitle": None,
            "opts": self.opts,
            "object": obj,
            "object_id": object_id,
            "object_name": name,
            "page": page,
            "events": [_event_row(e) for e in page.object_list],
            "audit_url": self._audit_url(object_id),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/zoho_tokens/zohotoken/object_history.html", context)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        raise PermissionDenied  # unreachable by construction; never save an admin form

    # -- "Add" is "Connect with a grant token" ----------------------------------------------

    @method_decorator(sensitive_post_parameters("grant_token", "client_secret"))
    @method_decorator(sensitive_variables("data"))
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        tenant = getattr(request, "zoho_tenant", "")
        form = ConnectForm(request.POST or None, tenant=tenant)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                row = services.exchange_grant(
                    data["grant_token"],
                    client_id=data["client_id"] or None,
                    client_secret=data["client_secret"] or None,
                    data_center=data["data_center"],
                    tenant=data["tenant"],
                    source="admin",
                    actor=request.user,
                )
            except ZohoTokensError as exc:
                form.add_error(None, str(exc))
            else:
                self.log_addition(request, row, [{"added": {}}])
                self.message_user(
                    request,
                    _("Connected %(user)s (tenant %(tenant)s).")
                    % {"user": row.user_name, "tenant": row.tenant or _("(default)")},
                    messages.SUCCESS,
                )
                url = reverse(
                    f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change",
                    args=[row.pk],
                )
                return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Connect with a grant token"),
            "opts": self.opts,
            "form": form,
            "adminform": form,
            "media": self.media + form.media,
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/zoho_tokens/zohotoken/connect.html", context)

    # -- actions ---------------------------------------------------------------------------

    @admin.action(description=_("Revoke at Zoho and delete"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """After a confirmation page: revoke each refresh token at Zoho, delete the ones Zoho
        no longer honours, and report each token's outcome."""
        if not request.POST.get("post"):
            return self._confirmation(
                request,
                queryset,
                action_name="revoke_selected",
                title=_("Revoke at Zoho and delete?"),
                template="revoke_selected_confirmation.html",
            )
        report = services.revoke_tokens(queryset, source="admin", actor=request.user)
        if not report.outcomes:
            return None
        total = len(report.outcomes)
        if report.revoked == total:
            level = messages.SUCCESS
        elif report.revoked:
            level = messages.WARNING
        else:
            level = messages.ERROR
        headline = ngettext(
            "Revoked %(done)d of %(total)d Zoho token:",
            "Revoked %(done)d of %(total)d Zoho tokens:",
            total,
        ) % {"done": report.revoked, "total": total}
        lines = format_html_join(
            "", "<br>{}: {}", ((o.user_name, o.message) for o in report.outcomes)
        )
        self.message_user(request, format_html("{}{}", headline, lines), level)
        return None

    def _confirmation(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        action_name: str,
        title: Any,
        template: str,
    ) -> HttpResponse:
        """The intermediate page of a destructive action (like Django's delete_selected)."""
        fields = ("pk", "user_name", "tenant", "api_domain", "accounts_server")
        rows = [
            {
                "pk": row.pk,
                "user_name": row.user_name or _("(no user name)"),
                "tenant": row.tenant or _("(default)"),
                "data_center": data_center_label(row.api_domain),
            }
            for row in queryset.only(*fields)
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "rows": rows,
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": action_name,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, f"admin/zoho_tokens/zohotoken/{template}", context)

    @admin.action(description=_("Purge (delete locally)"), permissions=["purge"])
    def purge_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Delete rows without calling Zoho, after a confirmation page (like delete_selected)."""
        if request.POST.get("post"):
            deleted = services.purge(queryset, source="admin", actor=request.user)
            self.message_user(
                request,
                ngettext(
                    "Purged %(count)d Zoho token (deleted locally; not revoked at Zoho).",
                    "Purged %(count)d Zoho tokens (deleted locally; not revoked at Zoho).",
                    len(deleted),
                )
                % {"count": len(deleted)},
                messages.SUCCESS,
            )
            return None
        return self._confirmation(
            request,
            queryset,
            action_name="purge_selected",
            title=_("Purge Zoho tokens?"),
            template="purge_selected_confirmation.html",
        )


@admin.register(TokenAuditEvent)
class TokenAuditEventAdmin(SchemaAwareAdmin):
    """The audit trail, view-only: no add, change or delete for anyone.

    Five columns, so that it reads without scrolling on a 1366 px laptop: time (to the
    second, project time zone), event (action and a non-ok outcome), token (user, tenant, id),
    by (source and actor) and the detail. ``?token_id=<id>`` lists one token's events (the
    token page links there).
    """

    list_display = [
        "time_display",
        "event_display",
        "token_display",
        "by_display",
        "detail_display",
    ]
    list_display_links = ["time_display"]
    list_filter = [ActionFilter, "source", ("actor", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user_name", "token_id", "tenant"]
    list_select_related = ["actor"]
    ordering = ["-created_at", "-id"]
    date_hierarchy = None
    list_per_page = 100
    fields = [
        "time_display",
        "action",
        "outcome",
        "token_id",
        "user_name",
        "tenant",
        "source",
        "actor_display",
        "detail_display",
    ]
    readonly_fields = list(fields)  # type: ignore[arg-type]

    @admin.display(description=_("time"), ordering="created_at")
    def time_display(self, event: TokenAuditEvent) -> str:
        return when(event.created_at)

    @admin.display(description=_("event"), ordering="action")
    def event_display(self, event: TokenAuditEvent) -> str:
        label = action_label(event.action)
        if event.outcome and event.outcome != "ok":
            return format_html("{}<br><small>{}</small>", label, event.outcome)
        return label

    @admin.display(description=_("token"), ordering="user_name")
    def token_display(self, event: TokenAuditEvent) -> str:
        name = event.user_name or _("(no user name)")
        tenant = event.tenant or _("(default)")
        if not event.token_id:
            return format_html("{}<br><small>{} {}</small>", name, _("tenant"), tenant)
        history = reverse(
            f"{self.admin_site.name}:zoho_tokens_zohotoken_history", args=[event.token_id]
        )
        return format_html(
            '{}<br><small>{} {} · <a href="{}">{}</a></small>',
            name,
            _("tenant"),
            tenant,
            history,
            event.token_id,
        )

    @admin.display(description=_("by"), ordering="source")
    def by_display(self, event: TokenAuditEvent) -> str:
        source = event.get_source_display()  # type: ignore[attr-defined]
        who = self.actor_display(event)  # the name kept at write time once the user is gone
        if who:
            return format_html("{}<br><small>{}</small>", who, source)
        return source

    @admin.display(description=_("detail"))
    def detail_display(self, event: TokenAuditEvent) -> str:
        return detail_text(event.detail)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("actor"), ordering="actor_name")
    def actor_display(self, event: TokenAuditEvent) -> str:
        """The user, or the name kept at write time once the user has been deleted."""
        if event.actor_id is None:
            return ""
        try:
            actor = event.actor
        except ObjectDoesNotExist:
            actor = None
        if actor is not None:
            return str(actor.get_username())
        return str(_("%(name)s (deleted user)") % {"name": event.actor_name or event.actor_id})
