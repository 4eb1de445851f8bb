"""factory_boy factories. Plaintext secrets are known to tests, so they can assert absence.

factory_boy's ``Factory(...)`` call is untyped (mypy would see a factory, not a model): each
factory is also declared, for the type checker only, as a :class:`Makes` of its model.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from zoho_tokens.models import TokenAuditEvent, ZohoToken

T = TypeVar("T")


class Makes(Protocol, Generic[T]):
    """What a test calls on a factory of ``T``."""

    def __call__(self, **kwargs: Any) -> T: ...
    def build(self, **kwargs: Any) -> T: ...
    def create(self, **kwargs: Any) -> T: ...
    def build_batch(self, size: int, **kwargs: Any) -> list[T]: ...
    def create_batch(self, size: int, **kwargs: Any) -> list[T]: ...


def zoho_like() -> str:
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


class _ZohoTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ZohoToken

    tenant = ""
    user_name = factory.Sequence(lambda n: f"user{n}@example.com:7000000{n:04d}")
    client_id = factory.Sequence(lambda n: f"1000.CLIENT{n:06d}")
    client_secret = factory.LazyFunction(lambda: secrets.token_hex(20))
    refresh_token = factory.LazyFunction(zoho_like)
    access_token = factory.LazyFunction(zoho_like)
    grant_token = ""
    expiry_time = factory.LazyFunction(lambda: int(time.time() * 1000) + 3600 * 1000)
    redirect_url = "https://example.com/callback"
    api_domain = "https://www.zohoapis.com"


class _UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = factory.django.Password("pw-123456789")


class _TokenAuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TokenAuditEvent

    action = "saved"
    source = "sdk"


if TYPE_CHECKING:
    ZohoTokenFactory: Makes[ZohoToken]
    UserFactory: Makes[User]
    TokenAuditEventFactory: Makes[TokenAuditEvent]
else:
    ZohoTokenFactory = _ZohoTokenFactory
    UserFactory = _UserFactory
    TokenAuditEventFactory = _TokenAuditEventFactory
