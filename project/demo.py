"""Run the demo: migrate SQLite, connect a Zoho user, create an admin login, serve.

    .venv/bin/python -m project.demo [--port 8000] [--host 127.0.0.1]

Without ``ZOHO_CLIENT_ID``/``ZOHO_CLIENT_SECRET`` in the environment it starts the bundled
fake Zoho on 127.0.0.1 and connects a demo user through the real SDK into
``DjangoTokenStore``, so the admin shows a live stored connection at once. With them set it
uses real Zoho: connect a user with ``manage.py zoho_login`` or at ``/zoho/connect/``.
The demo page (``/``) links both connect paths and, with the fake, lists fresh grant codes
for its users bob and carol (``/fake/grants``); "Connect Zoho CRM" goes through the fake's
consent page (``/oauth/v2/auth``).

The demo process runs with ``DEBUG`` on and a random ``SECRET_KEY`` of its own (the project's
settings default to ``DEBUG`` off and no key), so tokens it stored in an earlier run are
unreadable in the next one; it connects its demo user again each time.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import tempfile


def demo_environment(environ: dict[str, str]) -> dict[str, str]:
    """What the demo sets in its own process's environment: ``DEBUG`` on, and a random
    ``SECRET_KEY`` unless one is configured. The project's settings default to neither, so
    nothing here leaks into a real deployment."""
    return {
        "DEBUG": "1",
        "SECRET_KEY": environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    if not _port_is_free(args.host, args.port):
        # Before anything is set up or printed: the admin password must not be shown for a
        # server that will never start.
        sys.exit(
            f"demo: port {args.port} on {args.host} is in use (another demo or server?): "
            f"stop it, or choose another port, e.g. --port {args.port + 1}"
        )

    fake = None
    if not (os.environ.get("ZOHO_CLIENT_ID") and os.environ.get("ZOHO_CLIENT_SECRET")):
        from zoho_tokens.testing import FakeZoho

        fake = FakeZoho().start()
        os.environ.update(
            ZOHO_CLIENT_ID="1000.DEMOCLIENT",
            ZOHO_CLIENT_SECRET="demo-client-secret",
            ZOHO_ACCOUNTS_URL=fake.url,
            ZOHO_API_DOMAIN=fake.url,
            ZOHO_TOKENS_DEMO_FAKE_URL=fake.url,
        )
        # A dead connection's notice (mail_admins) printed here, on the console.
        os.environ.setdefault("ZOHO_TOKENS_NOTIFY", "mail_admins")
        os.environ.setdefault("DJANGO_ADMINS", "ops@example.com")
        os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
        # Users to connect from the demo page: through the consent page or a grant code.
        fake.add_user("bob@example.com", zgid="700000002", company="Demo Inc")
        fake.add_user("carol@example.com", zgid="700000003", company="Demo Inc")
    os.environ.update(demo_environment(dict(os.environ)))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    if fake is not None:
        _connect_demo_user(fake)

    password = secrets.token_urlsafe(12)
    user_model = get_user_model()
    admin, _ = user_model.objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    admin.is_staff = admin.is_superuser = True
    admin.set_password(password)
    admin.save()

    base = f"http://{args.host}:{args.port}"
    url = f"{base}/admin/zoho_tokens/zohotoken/"
    print("", flush=True)
    print("zoho-tokens demo", flush=True)
    print(f"  demo page: {base}/", flush=True)
    print(f"  admin:    {url}", flush=True)
    print(f"  login:    admin / {password}", flush=True)
    if fake is not None:
        print(f"  fake Zoho at {fake.url} (demo user ann@example.com connected;", flush=True)
        print("  connect bob and carol from the demo page)", flush=True)
    else:
        print("  real Zoho: connect a user with 'manage.py zoho_login' or /zoho/connect/")
    print("", flush=True)
    try:
        call_command("runserver", f"{args.host}:{args.port}", use_reloader=False)
    finally:
        if fake is not None:
            fake.stop()


def _port_is_free(host: str, port: int) -> bool:
    """Can a server listen on ``host:port`` now? (runserver would fail there only after the
    demo printed its login.)"""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver does
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _connect_demo_user(fake) -> None:
    """Log a demo user in through the real SDK, exactly as an application would."""
    from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
    from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
    from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
    from zohocrmsdk.src.com.zoho.crm.api.users import UsersOperations

    from zoho_tokens.store import DjangoTokenStore

    code = fake.add_grant(email="ann@example.com", zgid="700000001", company="Demo Inc")
    Initializer.initialize(
        environment=DataCenter.Environment(fake.url, fake.token_url, fake.url),
        token=OAuthToken(
            client_id=os.environ["ZOHO_CLIENT_ID"],
            client_secret=os.environ["ZOHO_CLIENT_SECRET"],
            grant_token=code,
        ),
        store=DjangoTokenStore(),
        resource_path=tempfile.mkdtemp(prefix="zoho-sdk-"),
    )
    response = UsersOperations().get_users()
    if response.get_status_code() != 200:
        sys.exit(f"demo: the SDK call to the fake Zoho failed ({response.get_status_code()})")


if __name__ == "__main__":
    main()
