from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("zoho/", include("zoho_tokens.urls")),
    path("", RedirectView.as_view(url="/admin/zoho_tokens/zohotoken/", permanent=False)),
]
