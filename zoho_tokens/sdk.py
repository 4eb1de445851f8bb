"""Run the Zoho CRM SDK as one tenant's Zoho user: ``use_zoho``.

The SDK keeps one process-wide initializer (``Initializer.initialize``) and one per thread
(``Initializer.LOCAL``). ``use_zoho`` initialises the SDK the first time it is used in a
process and gives the current thread its own initializer every time, so web threads, thread
pools and Celery worker processes each run their block as the right tenant's user, in the
right data center, at the same time, on every SDK major (6_0, 7_0, 8_0).

The SDK's store is ``DjangoTokenStore()`` following the current tenant, not a store pinned to
the first tenant: every thread's initializer shares the process-wide store, and ``use_zoho``
sets ``tenant_context`` for its block, so every lookup lands in the block's tenant. A thread
outside any ``use_zoho`` block finds no other tenant's token.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from zoho_tokens import oauth_client
from zoho_tokens.conf import zoho_settings
from zoho_tokens.datacenters import (
    accounts_base_url,
    api_domain_for,
    data_center_of,
    trusted_api_domain,
)
from zoho_tokens.exceptions import NoConnection
from zoho_tokens.models import ZohoToken
from zoho_tokens.store import DjangoTokenStore
from zoho_tokens.tenancy import current_tenant, tenant_context
from zoho_tokens.tokens import check_scopes
from zoho_tokens.zohosdk import DataCenter, Initializer, OAuthToken, SDKConfig

__all__ = ["NoConnection", "environment_for", "use_zoho"]

logger = logging.getLogger("zoho_tokens")
_init_lock = threading.Lock()
_resource_dir: str | None = None


@contextmanager
def use_zoho(
    user_name: str | None = None,
    tenant: str | None = None,
    scopes: Iterable[str] | None = None,
) -> Iterator[ZohoToken]:
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
    web flow or ``manage.py zoho_login``), ``ScopeMissingError`` when its grant lacks one of
    ``scopes``, and ``TokenStoreError`` for a token that cannot be used (e.g. refused by
    Zoho: connect again).
    """
    tenant = current_tenant() if tenant is None else tenant
    row = _find_row(tenant, user_name)
    if scopes:
        check_scopes(row, scopes)
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
    # Tenant and user name are compared again in Python, exactly: a loose MySQL collation
    # would let tenant "ACME" run as tenant "acme"'s Zoho user (see zoho_tokens.collation).
    rows = ZohoToken.objects.for_tenant(tenant)
    if user_name is not None:
        candidates = rows.filter(user_name=user_name).order_by("created_at", "id")[:5]
        row = next((r for r in candidates if r.tenant == tenant and r.user_name == user_name), None)
        if row is None:
            raise NoConnection(
                f"tenant {tenant!r} has no Zoho connection for {user_name[:255]!r}: connect it "
                "with the 'Connect Zoho CRM' page or 'manage.py zoho_login'"
            )
        return row
    found = [r for r in rows.order_by("created_at", "id")[:5] if r.tenant == tenant][:2]
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

    Real Zoho api domains map to the SDK's data centers (``DataCenter.get``); the configured
    ``API_DOMAIN`` (a proxy, the fake Zoho in tests) gets the configured accounts server. A
    stored api domain that is neither (``datacenters.trusted_api_domain``) is ignored with a
    warning: the access token and the CRM data would go to it.
    """
    stored = row.api_domain or ""
    api_domain = trusted_api_domain(stored) if stored else None
    if stored and api_domain is None:
        logger.warning(
            "zoho_tokens: token %s names api domain %r, which is neither Zoho's nor "
            "API_DOMAIN: ignored",
            row.pk,
            stored[:100],
        )
    api_domain = api_domain or api_domain_for()
    environment = DataCenter.get(api_domain)
    if environment is not None:
        return environment
    token_url = oauth_client.token_url(accounts_base_url(data_center_of(api_domain)))
    return DataCenter.Environment(api_domain, token_url, api_domain)


def _activate(environment: DataCenter.Environment, token: OAuthToken) -> None:
    """Make ``token`` this thread's SDK user (initialising the SDK the first time).

    Not ``Initializer.switch_user``: on SDK 6_0 and 7_0 it resolves the token before it
    installs the thread's initializer, and the SDK's ``get_token`` writes the token's data
    center onto the initializer it finds, the *process-wide* one in a new thread (every
    other thread then calls that data center). Installing the thread's own initializer
    first, as 8_0's ``switch_user`` does, keeps each thread's environment its own.
    """
    with _init_lock:
        first = Initializer.initializer is None
        if first:
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
        base = Initializer.initializer
    initializer = Initializer()
    initializer.environment = environment
    initializer.sdk_config = base.sdk_config or sdk_config()
    # The project may have initialised the SDK itself with another store, where our token
    # id means nothing: ours follows the block's tenant.
    initializer.store = base.store if _follows_tenant(base.store) else DjangoTokenStore()
    initializer.resource_path = base.resource_path or _resource_path()
    initializer.request_proxy = base.request_proxy
    initializer.token = token
    Initializer.LOCAL.init = initializer
    if not first:  # initialize() has just resolved it
        token.generate_token()


def sdk_config() -> SDKConfig:
    """The SDK's config with ``HTTP_TIMEOUT`` on its API calls (the SDK has none by default)."""
    timeout = zoho_settings.HTTP_TIMEOUT
    return SDKConfig(read_timeout=timeout, connect_timeout=timeout)


def _follows_tenant(store: object) -> bool:
    return isinstance(store, DjangoTokenStore) and store.follows_current_tenant


def _resource_path() -> str:
    """``ZOHO_TOKENS["SDK_RESOURCE_PATH"]``, else one temporary directory per process."""
    global _resource_dir
    configured = zoho_settings.SDK_RESOURCE_PATH
    if configured:
        return str(configured)
    if _resource_dir is None:
        _resource_dir = tempfile.mkdtemp(prefix="zoho-tokens-sdk-")
    return _resource_dir
