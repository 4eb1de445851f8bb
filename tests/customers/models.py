"""A django-tenants tenant (one PostgreSQL schema each) and its domains, as a project has them."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Client(TenantMixin):
    name = models.CharField(max_length=100)
    # Schemas are created by the test fixtures' tenant factory, with the tenant apps migrated.
    auto_create_schema = True

    def __str__(self) -> str:
        return self.name


class Domain(DomainMixin):
    pass
