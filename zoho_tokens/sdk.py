"""Run the Zoho CRM SDK as one tenant's Zoho user: ``use_zoho``.

The SDK keeps one process-wide initializer (``Initializer.initialize``) and one per thread
(``Initializer.switch_user``). ``use_zoho`` initialises the SDK the first time it is used in a
process and switches the current thread after that, so web threads, thread pools and Celery
worker processes each run their block as the right tenant's user, at the same time.

The SDK's store is ``DjangoTokenStore()`` following the current tenant, not a store pinned to
the first tenant: ``switch_user`` reuses the process-wide store for every later switch, and
``use_zoho`` sets ``tenant_context`` for its block, so every lookup lands in the block's
tenant. A thread outside any ``use_zoho`` block finds no other tenant's token.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig

from zoho_tokens import accounts
from zoho_tokens.conf import accounts_base_url, api_domain_for, data_center_of, zoho_settings
from zoho_tokens.exceptions import TokenStoreError
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore
from zoho_tokens.tenancy import current_tenant, tenant_context

__all__ = ["NoConnection", "environment_for", "use_zoho"]

_init_lock = threading.Lock()
_resource_dir: str | None = None


class NoConnection(TokenStoreError):
    """The tenant has no stored Zoho connection for the user asked for (or several to pick from)."""


@contextmanager
def use_zoho(user_name: str | None = None, tenant: str | None = None) -> Iterator[ZohoToken]:
    """Run the block's SDK calls, in this thread, as ``tenant``'s Zoho user ``user_name``.

    ``tenant`` defaults to the current tenant (``TenantMiddleware`` / ``tenant_context``);
    ``user_name`` (``"<email>:<org zgid>"``) may be left out when the tenant has exactly one
    connection. Yields the ``ZohoToken`` row. On exit the thread's previous SDK user (if any)
    and tenant are restored, so blocks nest::

        from zohocrmsdk.src.com.zoho.crm.api.users import UsersOperations
        from zoho_tokens.sdk import use_zoho

        @shared_task
        def sync_users(tenant_id):
            with use_zoho(tenant=tenant_id):
                response = UsersOperations().get_users()

    Raises ``NoConnection`` when the tenant has no matching connection (connect one with the
    web flow or ``manage.py zoho_login``) and ``TokenStoreError`` for a token that cannot be
    used (e.g. refused by Zoho: connect again).
    """
    tenant = current_tenant() if tenant is None else tenant
    row = _find_row(tenant, user_name)
    environment = environment_for(row)
    token = OAuthToken(id=row.pk)
    previous = getattr(Initializer.LOCAL, "init", None)
    with tenant_context(tenant):
        try:
            _activate(environment, token)
            yield row
        finally:
            Initializer.LOCAL.init = previous


def _find_row(tenant: str, user_name: str | None) -> ZohoToken:
    rows = ZohoToken.objects.for_tenant(tenant)
    if user_name is not None:
        row = rows.filter(user_name=user_name).first()
        if row is None:
            raise NoConnection(
                f"tenant {tenant!r} has no Zoho connection for {user_name[:255]!r}: connect it "
                "with the 'Connect Zoho CRM' page or 'manage.py zoho_login'"
            )
        return row
    found = list(rows.order_by("created_at", "id")[:2])
    if not found:
        raise NoConnection(
            f"tenant {tenant!r} has no Zoho connection: connect one with the 'Connect Zoho CRM' "
            "page or 'manage.py zoho_login'"
        )
    if len(found) > 1:
        raise NoConnection(
            f"tenant {tenant!r} has several Zoho connections: pass user_name to use_zoho()"
        )
    return found[0]


def environment_for(row: ZohoToken) -> DataCenter.Environment:
    """The SDK environment of a token: its data center's, or built from its api domain.

    Real Zoho api domains map to the SDK's data centers (``DataCenter.get``); any other
    domain (a proxy, the fake Zoho in tests) gets the configured accounts server.
    """
    api_domain = (row.api_domain or "").rstrip("/") or api_domain_for()
    environment = DataCenter.get(api_domain)
    if environment is not None:
        return environment
    token_url = accounts.token_url(accounts_base_url(data_center_of(api_domain)))
    return DataCenter.Environment(api_domain, token_url, api_domain)


def _activate(environment: DataCenter.Environment, token: OAuthToken) -> None:
    """Make ``token`` this thread's SDK user (initialising the SDK the first time)."""
    with _init_lock:
        if Initializer.initializer is None:
            # initialize() resolves the token through get_initializer(), which prefers this
            # thread's initializer: clear it so the new one is used.
            Initializer.LOCAL.init = None
            Initializer.initialize(
                environment,
                token,
                store=DjangoTokenStore(),
                sdk_config=sdk_config(),
                resource_path=_resource_path(),
            )
            # Pin this thread to it: another thread may re-initialise the process-wide one.
            Initializer.LOCAL.init = Initializer.initializer
            return
        base = Initializer.initializer
    if _follows_tenant(base.store):
        Initializer.switch_user(environment, token, proxy=base.request_proxy)
        return
    # The project initialised the SDK itself with another store; switch_user would look our
    # token id up there. Do what switch_user does, with our store.
    initializer = Initializer()
    initializer.environment = environment
    initializer.sdk_config = base.sdk_config or sdk_config()
    initializer.store = DjangoTokenStore()
    initializer.resource_path = base.resource_path or _resource_path()
    initializer.request_proxy = base.request_proxy
    initializer.token = token
    Initializer.LOCAL.init = initializer
    token.generate_token()


def sdk_config() -> SDKConfig:
    """The SDK's config with ``HTTP_TIMEOUT`` on its API calls (the SDK has none by default)."""
    timeout = float(zoho_settings.HTTP_TIMEOUT)
    return SDKConfig(read_timeout=timeout, connect_timeout=timeout)


def _follows_tenant(store: object) -> bool:
    return isinstance(store, DjangoTokenStore) and getattr(store, "_tenant", "") is None


def _resource_path() -> str:
    """``ZOHO_TOKENS["SDK_RESOURCE_PATH"]``, else one temporary directory per process."""
    global _resource_dir
    configured = zoho_settings.SDK_RESOURCE_PATH
    if configured:
        return str(configured)
    if _resource_dir is None:
        _resource_dir = tempfile.mkdtemp(prefix="zoho-tokens-sdk-")
    return _resource_dir
