"""The django-tenants tenant and domain models of ``tests.django_tenants_settings``."""
