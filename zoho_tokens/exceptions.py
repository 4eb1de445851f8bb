"""Errors raised by zoho_tokens. Store errors are the SDK's ``SDKException`` (code TOKEN_STORE)
so the SDK and its callers handle them as they handle the SDK's own store errors."""

from __future__ import annotations

try:
    from zohocrmsdk.src.com.zoho.crm.api.exception.sdk_exception import SDKException
except ImportError:  # pragma: no cover - reported by system check zoho_tokens.E003

    class SDKException(Exception):  # type: ignore[no-redef]
        def __init__(self, code=None, message=None, details=None, cause=None):
            self.code, self.error_message, self.details, self.cause = code, message, details, cause
            super().__init__(code, message)


TOKEN_STORE = "TOKEN_STORE"


class TokenStoreError(SDKException):
    """A store operation failed. ``str()`` gives one line without any secret."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(code=TOKEN_STORE, message=message)
        self.cause = cause
        if cause is not None:
            self.__cause__ = cause

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


class TokenInvalidError(TokenStoreError):
    """Zoho rejected the token's refresh token; the connection must be made again."""
