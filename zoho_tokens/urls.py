"""URLs of the "Connect Zoho CRM" web flow: include under a prefix, e.g. ``path("zoho/", ...)``."""

from django.urls import path

from zoho_tokens import views

app_name = "zoho_tokens"

urlpatterns = [
    path("connect/", views.connect, name="connect"),
    path("callback/", views.callback, name="callback"),
]
