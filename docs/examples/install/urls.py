# urls.py, appended: the "Connect Zoho CRM" web flow at /zoho/connect/
from django.urls import include

urlpatterns += [path("zoho/", include("zoho_tokens.urls"))]
