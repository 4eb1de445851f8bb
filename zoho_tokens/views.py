"""Web flow views (filled in by the multi-tenant issue)."""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


def connect(request: HttpRequest) -> HttpResponse:
    return HttpResponseBadRequest("not configured")


def callback(request: HttpRequest) -> HttpResponse:
    return HttpResponseBadRequest("not configured")
