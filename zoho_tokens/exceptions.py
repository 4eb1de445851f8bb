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
        """The message followed by what to do about it, for one-line reports."""
        return f"{self}; {self.hint}" if self.hint else str(self)


# -- configuration and the database ---------------------------------------------------------


class ConfigurationError(ZohoTokensError):
    """A setting is missing or wrong (client id, data center, environment...)."""

    default_code = "config"


class TenantMismatch(ConfigurationError):
    """A tenant was asked for that is not the current django-tenants schema's tenant
    (``TENANT_FROM_SCHEMA``), or that setting is on without django-tenants."""

    default_code = "tenant"


class DatabaseNotReady(ZohoTokensError):
    """The zoho_tokens tables cannot be used (not migrated, unreachable)."""

    default_code = "database"


class DecryptionError(ZohoTokensError):
    """A value could not be decrypted with any configured key (or was tampered with)."""

    default_code = "decryption"


# -- import and export -------------------------------------------------------------------------


class ImportSourceError(ZohoTokensError):
    """The import source cannot be read at all."""

    default_code = "import_source"


class ExportError(ZohoTokensError):
    """The export file cannot be written."""

    default_code = "export"


# -- operations (services) -------------------------------------------------------------------


class ServiceError(ZohoTokensError):
    """An operation a person asked for failed in a way they can act on."""

    default_code = "error"
    status_code = 400


class TokenUnusable(ServiceError):
    """The token cannot be used for this operation (marked invalid, no refresh token)."""

    default_code = "invalid"
    status_code = 409


class RefreshFailed(ServiceError):
    """Zoho did not issue a new access token."""

    default_code = "refresh"
    status_code = 502


class ZohoRequestFailed(ServiceError):
    """Zoho refused or did not answer; ``code`` is Zoho's error code (or ours)."""

    status_code = 502

    @classmethod
    def from_zoho(cls, exc: ZohoError) -> ZohoRequestFailed:
        return cls(exc.with_hint(), code=exc.code)


# -- the store (the SDK's TokenStore) ----------------------------------------------------------


class TokenStoreError(ZohoTokensError, SDKException):
    """A store operation failed. ``str()`` gives one line without any secret.

    ``cause`` is the error behind it stripped bare (no traceback, no chained errors: their
    frames hold the secrets being written), and ``cause_description`` says what it was in
    one safe line, e.g. ``IntegrityError: UNIQUE constraint failed: zoho_tokens_zohotoken.id``.
    Nothing is chained as ``__cause__``: error reports show every chained frame's variables.
    """

    default_code = TOKEN_STORE

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        SDKException.__init__(self, code=TOKEN_STORE, message=message)
        self.cause = bare(cause) if cause is not None else None
        self.cause_description = describe(cause) if cause is not None else ""

    @property
    def message(self) -> str:
        return str(self.error_message)

    def __str__(self) -> str:
        return f"{self.code}: {self.error_message}"


class TokenDecryptionError(TokenStoreError):
    """A stored token cannot be decrypted: a key was removed or the data was tampered with."""

    def __init__(self, token_id: str | None, field: str) -> None:
        self.token_id = token_id
        self.field = field
        super().__init__(
            f"cannot decrypt {field} of Zoho token id {token_id}: none of "
            "ZOHO_TOKENS['ENCRYPTION_KEYS'] opens it. If a key was rotated out, add the old key "
            "back to ENCRYPTION_KEYS (after the new one) and run "
            "'manage.py zoho_tokens rotate-keys'."
        )


class RefreshRefused(TokenStoreError):
    """Zoho issued no new access token, or was not asked (a throttle hold-back or backoff).

    ``zoho_code`` says why, as the ``ZohoError`` subclasses name it: ``Throttled.default_code``
    ("Access Denied"), ``ZohoUnreachable.default_code`` ("network"), ``ZohoTimeout``'s
    ("timeout"), or Zoho's own error code.
    """

    def __init__(self, message: str, zoho_code: str) -> None:
        super().__init__(message)
        self.zoho_code = zoho_code


class TokenInvalidError(TokenStoreError):
    """Zoho rejected the token's refresh token; the connection must be made again."""

    status_code = 409


class NoConnection(TokenStoreError):
    """The tenant has no stored Zoho connection for the user asked for (or several to pick from)."""

    status_code = 404


class ScopeMissingError(NoConnection):
    """The connection's grant lacks scopes the caller needs: connect it again with them.

    ``missing`` lists them. A ``NoConnection``: the tenant has no connection that can do this.
    """

    status_code = 409

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


# -- Zoho Accounts and CRM answers (oauth_client) ----------------------------------------------


class ZohoError(ZohoTokensError):
    """Zoho answered with an error, or not at all. ``code`` is Zoho's error code (or ours)."""

    default_code = "error"
    status_code = 502


class InvalidGrant(ZohoError):
    default_code = "invalid_code"
    hint = (
        "grant tokens are single-use and live 3 minutes by default: generate a new one in "
        "the Zoho API console"
    )


class InvalidRefreshToken(ZohoError):
    default_code = "invalid_code"
    hint = "the connection was revoked or expired at Zoho: connect this user again"


class InvalidClient(ZohoError):
    default_code = "invalid_client"
    hint = "check the client id and client secret (and the data center they belong to)"


class Throttled(ZohoError):
    default_code = "Access Denied"
    hint = (
        "Zoho allows 10 access tokens per refresh token in 10 minutes: wait, and do not retry "
        "in a loop"
    )


class ZohoUnreachable(ZohoError):
    default_code = "network"
    status_code = 504
    hint = "check the network, the data center, or ACCOUNTS_URL"


class ZohoTimeout(ZohoUnreachable):
    default_code = "timeout"
    hint = "Zoho did not answer within HTTP_TIMEOUT seconds; try again later"


class UnexpectedAnswer(ZohoError):
    default_code = "unexpected"
    hint = "Zoho answered something this client does not understand"


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


def describe(exc: BaseException, *secrets: str | None) -> str:
    """One safe line about ``exc``: its type and the first line of its message (at most 200
    characters), with any of ``secrets`` masked."""
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
