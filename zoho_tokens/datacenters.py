"""Zoho's data centers: where each one's accounts server and CRM API live.

Apart from the settings module because these are facts about Zoho, not configuration. The
SDK has no UK data center (accounts.zoho.uk, zohoapis.uk), so this module defines it; every
other name matches the SDK's ``DataCenter`` classes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from zoho_tokens.conf import zoho_settings
from zoho_tokens.exceptions import ConfigurationError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataCenter:
    name: str
    accounts_url: str  # base of the accounts server, e.g. https://accounts.zoho.eu
    api_suffix: str  # CRM API host without the environment prefix, e.g. zohoapis.eu
    # One API origin for every environment instead of the Zoho hosts: a stand-in for a data
    # center (the fake Zoho playing the EU in tests), never set for Zoho's own.
    api_base: str | None = None

    def api_domain(self, environment: str = "production") -> str:
        if self.api_base:
            return self.api_base
        return f"https://{ENVIRONMENTS[environment]}.{self.api_suffix}"

    def api_origins(self) -> set[str]:
        """Where this data center's CRM API is: one https origin per environment."""
        return {self.api_domain(env) for env in ENVIRONMENTS}

    def api_hosts(self) -> set[str]:
        return {host_of(origin) for origin in self.api_origins()}


DATA_CENTERS: dict[str, DataCenter] = {
    dc.name: dc
    for dc in (
        DataCenter("us", "https://accounts.zoho.com", "zohoapis.com"),
        DataCenter("eu", "https://accounts.zoho.eu", "zohoapis.eu"),
        DataCenter("in", "https://accounts.zoho.in", "zohoapis.in"),
        DataCenter("au", "https://accounts.zoho.com.au", "zohoapis.com.au"),
        DataCenter("cn", "https://accounts.zoho.com.cn", "zohoapis.com.cn"),
        DataCenter("jp", "https://accounts.zoho.jp", "zohoapis.jp"),
        DataCenter("uk", "https://accounts.zoho.uk", "zohoapis.uk"),
        DataCenter("ca", "https://accounts.zohocloud.ca", "zohoapis.ca"),
        DataCenter("sa", "https://accounts.zoho.sa", "zohoapis.sa"),
    )
}
#: Zoho environment -> the API host prefix.
ENVIRONMENTS = {"production": "www", "sandbox": "sandbox", "developer": "developer"}


def host_of(url: str) -> str:
    """``https://www.zohoapis.eu/crm`` -> ``www.zohoapis.eu``."""
    return url.split("://", 1)[-1].split("/", 1)[0].lower()


def get(name: str | None = None) -> DataCenter:
    """The data center called ``name`` (default: ``DATA_CENTER``); ConfigurationError if none."""
    dc = (name or zoho_settings.DATA_CENTER).lower()
    if dc not in DATA_CENTERS:
        raise ConfigurationError(
            f"unknown Zoho data center {dc!r}; use one of {', '.join(DATA_CENTERS)}"
        )
    return DATA_CENTERS[dc]


def accounts_base_url(data_center: str | None = None) -> str:
    """The accounts server base URL: ``ACCOUNTS_URL`` if set, else the data center's."""
    if zoho_settings.ACCOUNTS_URL:
        return zoho_settings.ACCOUNTS_URL
    return get(data_center).accounts_url


def api_domain_for(data_center: str | None = None, environment: str | None = None) -> str:
    """The CRM API base URL for a data center and environment (``API_DOMAIN`` wins)."""
    if zoho_settings.API_DOMAIN:
        return zoho_settings.API_DOMAIN
    dc = get(data_center)
    env = (environment or zoho_settings.ENVIRONMENT).lower()
    if env not in ENVIRONMENTS:
        raise ConfigurationError(
            f"unknown Zoho environment {env!r}; use one of {', '.join(ENVIRONMENTS)}"
        )
    return dc.api_domain(env)


def data_center_of(api_domain: str | None) -> str | None:
    """Which data center an api domain belongs to (``None`` for unknown hosts).

    From the parsed URL: https (or no scheme), no port or user info, and a host that is
    exactly one of the data center's API hosts; a path is fine. ``http://127.0.0.1?.zohoapis
    .com`` and ``https://evil.zohoapis.com`` belong to none (a suffix match called them US).
    """
    if not api_domain:
        return None
    text = str(api_domain).strip()
    try:
        parts = urlsplit(text if "://" in text else "https://" + text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme != "https" or port is not None or parts.username or parts.password:
        return None
    host = (parts.hostname or "").lower()
    return next((dc.name for dc in DATA_CENTERS.values() if host in dc.api_hosts()), None)


LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
#: The data center label of a loopback ``ACCOUNTS_URL``/``API_DOMAIN`` (the bundled fake Zoho).
FAKE_LABEL = "fake Zoho (demo)"


def is_fake(api_domain: str | None) -> bool:
    """``api_domain`` is on a loopback host that the settings point at (``ACCOUNTS_URL`` or
    ``API_DOMAIN``): the bundled fake Zoho of the demo and the tests, never a real one."""
    origin = origin_of(str(api_domain or "").rstrip("/"))
    if origin is None or host_of(origin).rsplit(":", 1)[0] not in LOOPBACK_HOSTS:
        return False
    configured = {zoho_settings.ACCOUNTS_URL, zoho_settings.API_DOMAIN}
    return origin in {origin_of(url) for url in configured if url}


def data_center_label(api_domain: str | None) -> str:
    """How an operator reads an api domain's data center: ``US``, ``EU``..., ``fake Zoho
    (demo)`` for the loopback fake the settings point at, ``?`` if unknown."""
    if not api_domain:
        return "—"
    dc = data_center_of(api_domain)
    if dc:
        return dc.upper()
    return FAKE_LABEL if is_fake(api_domain) else "?"


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` in lower case, or None for anything else (a path "/" is fine).

    No user info, query, fragment or path gets through: what is compared is exactly where a
    request would go.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except (ValueError, AttributeError):
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return None
    if parts.path not in ("", "/"):
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


TOKEN_PATH = "/oauth/v2/token"


def trusted_accounts_url(url: str | None) -> str | None:
    """``url`` as an accounts base URL if it may receive the client secret, else None.

    Trusted: Zoho's accounts servers (``DATA_CENTERS``) and the configured ``ACCOUNTS_URL``
    (exactly, path included). A token URL (``.../oauth/v2/token``, as the SDK's environments
    give it) stands for its base.
    """
    if not url:
        return None
    base = str(url).strip().rstrip("/")
    if base.endswith(TOKEN_PATH):
        base = base[: -len(TOKEN_PATH)]
    configured = zoho_settings.ACCOUNTS_URL
    if configured and base == configured:
        return configured
    origin = origin_of(base)
    if origin is None:
        return None
    allowed = {origin_of(dc.accounts_url) for dc in DATA_CENTERS.values()}
    if configured:
        allowed.add(origin_of(configured))
    return origin if origin in allowed else None


def issuer(api_domain: str | None, recorded: str | None = None) -> str:
    """The accounts server that issued a token of ``api_domain``, "" when that is not certain.

    The one rule for where a token's client secret goes (save records it; refresh and revoke
    post there). In order: the server ``recorded`` with the token (the exchange URL, the
    callback's ``accounts-server``) if it is still trusted, since a value in the database never
    decides where the secret goes; the accounts server of the SDK environment the project
    initialised when it serves this api domain (code, not data: the SDK exchanged and refreshed
    there); the data center a Zoho api domain names, unless ``ACCOUNTS_URL`` points elsewhere
    (a proxy, another data center).
    """
    if recorded:
        trusted = trusted_accounts_url(recorded)
        if trusted:
            return trusted
        logger.warning(
            "zoho_tokens: a token names accounts server %s, which is neither Zoho's nor "
            "ACCOUNTS_URL: ignored",
            str(recorded)[:100],
        )
    server = _sdk_environment_server(api_domain)
    if server:
        return server
    dc = data_center_of(api_domain)
    if dc is None:
        return ""
    server = DATA_CENTERS[dc].accounts_url
    configured = zoho_settings.ACCOUNTS_URL
    if configured and origin_of(configured) != origin_of(server):
        return ""
    return server


def accounts_url_for(api_domain: str | None, recorded: str | None = None) -> str:
    """Where to refresh or revoke a token: its ``issuer``; when that is not certain (a token
    stored before it was recorded, an api domain of no data center), ``ACCOUNTS_URL``, else
    the accounts server of the token's data center (or of ``DATA_CENTER``)."""
    return issuer(api_domain, recorded) or accounts_base_url(data_center_of(api_domain))


def _sdk_environment_server(api_domain: str | None) -> str:
    """The SDK environment's accounts server (base URL) if that environment serves
    ``api_domain``, else "". The environment is process-wide (or per thread after
    ``switch_user``), so it may belong to another tenant: only its own api domain counts."""
    if not api_domain:
        return ""
    from zoho_tokens.zohosdk import Initializer  # the SDK is heavy: only when asked

    try:
        environment = getattr(Initializer.get_initializer(), "environment", None)
    except Exception:  # an uninitialised (or absent) SDK is a normal case here
        return ""
    if environment is None or origin_of(str(environment.url or "")) != origin_of(api_domain):
        return ""
    server = str(getattr(environment, "accounts_url", "") or "").rstrip("/")
    return server.removesuffix(TOKEN_PATH)


def trusted_api_domain(url: str | None) -> str | None:
    """``url`` as a CRM API base URL if it may receive an access token, else None.

    Trusted: Zoho's API domains of the known data centers (``https://{www,sandbox,developer}
    .<zohoapis host>``: parsed origin, exact host, https, no port, path, query or user info)
    and the configured ``API_DOMAIN`` (exactly, or its origin). The access token goes in the
    ``Authorization`` header of every request to this URL, and CRM data with it, so a value
    from a file or the database never decides it: the same rule as ``trusted_accounts_url``
    for the client secret.
    """
    if not url:
        return None
    configured = zoho_settings.API_DOMAIN
    base = str(url).strip().rstrip("/")
    if configured and base == configured:
        return configured
    origin = origin_of(base)
    if origin is None:
        return None
    if configured and origin == origin_of(configured):
        return origin
    if any(origin in dc.api_origins() for dc in DATA_CENTERS.values()):
        return origin
    return None


# -- where an access token may be sent (zoho_tokens.http) ----------------------------------
# An access token opens the user's data in every Zoho product its scopes cover, so it goes
# only to Zoho's API hosts of the data center that issued it. From Zoho's API docs (each
# product's "API root endpoint"/"domain-specific API URLs" page), per data center domain:
#: Hosts on the data center's ``zohoapis`` domain: CRM (``/crm/v8``, COQL), Books
#: (``/books/v3``), Inventory, Invoice, Bigin, Bookings, Creator, WorkDrive, ...
ZOHOAPIS_PREFIXES = ("www", "sandbox", "developer", "content", "download")
#: Products with their own API host on the data center's ``zoho`` domain (``zoho.eu``,
#: ``zohocloud.ca``...): Desk ``desk.zoho.eu/api/v1``, Projects
#: ``projectsapi.zoho.eu/restapi``, Books/Inventory/Invoice's older ``<product>.zoho.eu/api``,
#: Campaigns, Recruit, People, Mail, Analytics, Sign, Cliq, Expense, Creator.
PRODUCT_API_HOSTS = (
    "desk",
    "projectsapi",
    "books",
    "inventory",
    "invoice",
    "campaigns",
    "recruit",
    "people",
    "mail",
    "analyticsapi",
    "sign",
    "cliq",
    "expense",
    "creator",
    "workdrive",
)


def zoho_domain(dc: DataCenter) -> str:
    """The data center's product domain: ``accounts.zoho.eu`` -> ``zoho.eu``."""
    return host_of(dc.accounts_url).removeprefix("accounts.")


def api_hosts(data_center: str) -> frozenset[str]:
    """Every Zoho API host of ``data_center`` that may receive its access tokens (https)."""
    dc = get(data_center)
    zoho = zoho_domain(dc)
    return frozenset(
        [f"{prefix}.{dc.api_suffix}" for prefix in ZOHOAPIS_PREFIXES]
        + [f"{product}.{zoho}" for product in PRODUCT_API_HOSTS]
    )


def configured_api_origins() -> set[str]:
    """``API_DOMAIN`` and ``API_HOSTS`` as origins: hosts a project chose to trust (a proxy,
    the fake Zoho). An ``API_HOSTS`` entry without a scheme means https."""
    entries = [zoho_settings.API_DOMAIN, *zoho_settings.API_HOSTS]
    origins = set()
    for entry in entries:
        if not entry:
            continue
        text = str(entry).strip().rstrip("/")
        origin = origin_of(text if "://" in text else f"https://{text}")
        if origin:
            origins.add(origin)
    return origins


def access_token_may_go_to(url: str, api_domain: str | None) -> bool:
    """Whether a request to ``url`` may carry an access token of a token of ``api_domain``.

    Yes for https to a Zoho API host of the token's data center (from its api domain, else
    ``DATA_CENTER``), and for the origins of ``API_DOMAIN`` and ``API_HOSTS``; no for
    anything else, plain http to Zoho included.
    """
    try:
        parts = urlsplit(str(url).strip())
        port = parts.port
    except ValueError:
        return False
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return False
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    if origin in configured_api_origins():
        return True
    if parts.scheme != "https" or port not in (None, 443):
        return False
    return host in api_hosts(data_center_of(api_domain) or zoho_settings.DATA_CENTER)
