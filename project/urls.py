from django.contrib import admin
from django.urls import include, path

from project import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("zoho/", include("zoho_tokens.urls")),
    path("", views.home, name="demo-home"),
]
