"""URLs of a project that uses django-health-check with zoho_tokens' backend (test_health)."""

from django.urls import path
from health_check.views import HealthCheckView

urlpatterns = [
    path(
        "ht/",
        HealthCheckView.as_view(
            checks=["health_check.checks.Database", "zoho_tokens.contrib.health_check.ZohoTokens"]
        ),
    ),
    path(
        "ht/strict/",
        HealthCheckView.as_view(
            checks=[("zoho_tokens.contrib.health_check.ZohoTokens", {"fail_on": "degraded"})]
        ),
    ),
]
