"""Every error zoho_tokens raises, in one hierarchy under ``ZohoTokensError``.

Like Django REST framework's ``APIException`` subclasses, each class carries its
``default_code`` and, where a view turns it into a response, its ``status_code``, so callers
branch on the class (or ``code``), never on message text. ``str()`` of every error is one line
that says what happened and what to do, and never contains a secret.

Store errors are also the SDK's ``SDKException`` (code ``TOKEN_STORE``), so the SDK and its
callers handle them as they handle the SDK's own store errors.
"""

from __future__ import annotations

from typing import TypeVar

try:
    from zohocrmsdk.src.com.zoho.crm.api.exception.sdk_exception import SDKException
except ImportError:  # pragma: no cover - reported by system check zoho_tokens.E003

    class SDKException(Exception):  # type: ignore[no-redef]
        def __init__(self, code=None, message=None, details=None, cause=None):
            self.code, self.error_message, self.details, self.cause = code, message, details, cause
            super().__init__(code, message)


TOKEN_STORE = "TOKEN_STORE"
E = TypeVar("E", bound=BaseException)


class ZohoTokensError(Exception):
    """Root of the hierarchy. ``code`` names the failure; ``hint`` says what to do."""

    default_code = "error"
    status_code = 500
    hint = ""

    def __init__(self, message: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.code = code or self.default_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def with_hint(self) -> str:
        """The message followed by what to do about it (``describe`` gives it)."""
        return f"{self.message}; {self.hint}" if self.hint else self.message


# -- configuration and the database ---------------------------------------------------------


class ConfigurationError(ZohoTokensError):
    """A setting is missing or wrong (client id, data center, environment...). ``code``
    ``tenant``: a tenant was asked for that is not the current django-tenants schema's
    (``TENANT_FROM_SCHEMA``), or a tenant value is of the wrong type."""

    default_code = "config"


class DatabaseNotReady(ZohoTokensError):
    """The zoho_tokens tables cannot be used (not migrated, unreachable)."""

    default_code = "database"


# -- import and export -------------------------------------------------------------------------


class ImportSourceError(ZohoTokensError):
    """The import source cannot be read at all."""

    default_code = "import_source"


class ExportError(ZohoTokensError):
    """The export file cannot be written."""

    default_code = "export"


# -- operations (services) -------------------------------------------------------------------


class ServiceError(ZohoTokensError):
    """What a person asked an operation for cannot be done as asked (bad input, nothing
    selected); they can act on the one-line message."""

    default_code = "error"
    status_code = 400


# -- the store (the SDK's TokenStore) ----------------------------------------------------------


class TokenStoreError(ZohoTokensError, SDKException):
    """A store operation failed. ``str()`` gives one line without any secret.

    An ``SDKException`` with ``code`` ``TOKEN_STORE``, as the SDK's own stores raise, so the
    SDK and its callers handle it as theirs; ``reason`` says which failure it is (the class's
    ``default_code``, or Zoho's error code for ``RefreshFailed``).

    ``cause`` is the error behind it stripped bare (no traceback, no chained errors: their
    frames hold the secrets being written), and ``cause_description`` says what it was in
    one safe line, e.g. ``IntegrityError: UNIQUE constraint failed: zoho_tokens_zohotoken.id``.
    Nothing is chained as ``__cause__``: error reports show every chained frame's variables.
    """

    default_code = TOKEN_STORE

    def __init__(
        self, message: str, cause: BaseException | None = None, *, reason: str | None = None
    ) -> None:
        SDKException.__init__(self, code=TOKEN_STORE, message=message)
        self.reason = reason or self.default_code
        self.cause = bare(cause) if cause is not None else None
        self.cause_description = describe(cause) if cause is not None else ""

    @property
    def message(self) -> str:
        return str(self.error_message)

    def __str__(self) -> str:
        return f"{self.code}: {self.error_message}"


class DecryptionError(TokenStoreError):
    """A stored value cannot be decrypted with any configured key (a key was removed, or the
    data was tampered with). ``token_id`` and ``field`` name it when known (never the value)."""

    default_code = "decryption"

    def __init__(
        self, message: str = "", *, token_id: str | None = None, field: str | None = None
    ) -> None:
        self.token_id = token_id
        self.field = field
        if field is not None:
            message = (
                f"cannot decrypt {field} of Zoho token id {token_id}: none of "
                "ZOHO_TOKENS['ENCRYPTION_KEYS'] opens it. If a key was rotated out, add the old "
                "key back to ENCRYPTION_KEYS (after the new one) and run "
                "'manage.py zoho_tokens rotate-keys'."
            )
        super().__init__(message)


class TokenInvalidError(TokenStoreError):
    """The token cannot be used: Zoho rejected its refresh token (the connection must be made
    again), or it has no refresh token or client id to refresh with."""

    default_code = "invalid"
    status_code = 409


class RefreshFailed(TokenStoreError):
    """Zoho issued no new access token, or was not asked (a throttle hold-back or backoff).

    ``reason`` says why, as ``ZohoError`` codes name it: ``ZohoError.THROTTLED`` ("Access
    Denied"), ``ZohoUnreachable``'s ``network`` or ``timeout``, or Zoho's own error code.
    """

    default_code = "refresh"
    status_code = 502


class NoConnection(TokenStoreError):
    """The tenant has no stored Zoho connection for the user asked for (or several to pick from)."""

    default_code = "no_connection"
    status_code = 404


class ScopeMissingError(NoConnection):
    """The connection's grant lacks scopes the caller needs: connect it again with them.

    ``missing`` lists them. A ``NoConnection``: the tenant has no connection that can do this.
    """

    default_code = "scope_missing"
    status_code = 409

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


# -- Zoho Accounts and CRM answers (oauth_client) ----------------------------------------------


_CLIENT_HINT = "check the client id and client secret (and the data center they belong to)"


class ZohoError(ZohoTokensError):
    """Zoho answered with an error. ``code`` is Zoho's error code (``INVALID_CODE``,
    ``INVALID_CLIENT``, ``THROTTLED``...) or ``unexpected`` for an answer this client does not
    understand; ``hint`` says what to do about it."""

    default_code = "unexpected"
    status_code = 502
    #: A grant or refresh token Zoho does not take (used, expired, revoked); on a refresh
    #: Zoho also says ``invalid_grant``.
    INVALID_CODE = "invalid_code"
    REFUSED_CODES = frozenset({"invalid_code", "invalid_grant"})
    INVALID_CLIENT = "invalid_client"
    THROTTLED = "Access Denied"
    UNEXPECTED = "unexpected"
    #: Ours: the refresh lease ran out while Zoho was asked again.
    LEASE_LOST = "lease_lost"
    #: What to do, per code (``with_hint``); a raiser that knows better passes ``hint``.
    HINTS = {
        INVALID_CODE: "the connection was revoked or expired at Zoho: connect this user again",
        "invalid_grant": "the connection was revoked or expired at Zoho: connect this user again",
        INVALID_CLIENT: _CLIENT_HINT,
        "invalid_client_secret": _CLIENT_HINT,
        "invalid_redirect_uri": _CLIENT_HINT,
        THROTTLED: "Zoho allows 10 access tokens per refresh token in 10 minutes: wait, and do "
        "not retry in a loop",
        UNEXPECTED: "Zoho answered something this client does not understand",
        LEASE_LOST: "another worker may hold the refresh now; the next call tries again",
    }

    def __init__(self, message: str = "", code: str | None = None, hint: str | None = None):
        super().__init__(message, code)
        self.hint = self.HINTS.get(self.code, "") if hint is None else hint

    @property
    def refused(self) -> bool:
        """Zoho does not take the grant or refresh token (the connection must be made again)."""
        return self.code in self.REFUSED_CODES

    @property
    def throttled(self) -> bool:
        return self.code == self.THROTTLED


#: The hint of a refused grant token (exchange), where ``invalid_code`` means something else.
GRANT_HINT = (
    "grant tokens are single-use and live 3 minutes by default: generate a new one in "
    "the Zoho API console"
)


class ZohoUnreachable(ZohoError):
    """Zoho did not answer: ``code`` ``network`` (no connection) or ``timeout`` (no answer
    within ``HTTP_TIMEOUT``)."""

    default_code = "network"
    TIMEOUT = "timeout"
    status_code = 504
    HINTS = {
        "network": "check the network, the data center, or ACCOUNTS_URL",
        TIMEOUT: "Zoho did not answer within HTTP_TIMEOUT seconds; try again later",
    }


# -- keeping secrets out of error reports ------------------------------------------------------


def bare(exc: BaseException) -> BaseException:
    """``exc`` without its traceback and chained errors (their frames' variables are what
    error reports show). Only its type and message are kept."""
    exc.__traceback__ = None
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True
    return exc


def detached(exc: E) -> E:
    """``exc`` ready to be raised again at a boundary, outside any ``except`` block: with no
    traceback below the boundary and nothing chained, so no frame that held a secret is
    reachable from it."""
    bare(exc)
    if isinstance(exc, TokenStoreError) and exc.cause is not None:
        bare(exc.cause)
    return exc


#: The longest first line ``describe`` shows of an error that is not ours.
DESCRIBE_LIMIT = 160


def describe(exc: BaseException, *secrets: str | None) -> str:
    """One safe line about ``exc``: the one describer for admin messages, views, commands,
    store errors and audit details.

    Our errors: the message and what to do (``with_hint``). A database error: its class and
    the driver's error code only (drivers quote values in their messages). Anything else: its
    class and the first line of its message, cut at ``DESCRIBE_LIMIT`` characters. Any of
    ``secrets`` is masked.
    """
    if isinstance(exc, ZohoTokensError):
        text = exc.with_hint()
    elif _is_database_error(exc):
        code = _driver_code(exc.__cause__)
        text = type(exc).__name__ + (f" (driver code {code})" if code else "")
    else:
        lines = str(exc).strip().splitlines()
        first = lines[0].strip() if lines else ""
        if len(first) > DESCRIBE_LIMIT:
            first = first[: DESCRIBE_LIMIT - 1] + "…"
        text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _is_database_error(exc: BaseException) -> bool:
    # By name: this module is importable before Django is set up.
    return any(
        cls.__name__ == "DatabaseError" and cls.__module__ == "django.db.utils"
        for cls in type(exc).__mro__
    )


def _driver_code(driver: BaseException | None) -> object:
    """The driver's error code (PostgreSQL's SQLSTATE, SQLite's error name, MySQL's errno)."""
    for name in ("sqlstate", "pgcode", "sqlite_errorname"):
        if getattr(driver, name, None):
            return getattr(driver, name)
    args = getattr(driver, "args", ())
    return args[0] if args and isinstance(args[0], int) else None
