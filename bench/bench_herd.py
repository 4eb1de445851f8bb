"""The herd: W worker processes, R rounds, one CRM call each right after the token expires.

    .venv/bin/python bench/bench_herd.py                      # temp SQLite + the SDK's FileStore
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_zt .venv/bin/python bench/bench_herd.py
    .venv/bin/python bench/bench_herd.py --workers 8 --rounds 5 --stores django

A fake Zoho (``zoho_tokens.testing.fake_zoho``: real HTTP, Zoho's throttle of 10 access
tokens per refresh token per 10 minutes) runs in this process. W long-lived worker processes
(``python -m tests.workers herd``) each initialise the real SDK once with
``OAuthToken(user_signature=UserSignature(user))`` and the store under test. Each round the
stored access token is set to expire in ``--expires-in-ms`` (default 2000: inside the SDK's own
5 s threshold and our 60 s window), then every worker is released at once (stdin barrier) to
make one ``UsersOperations().get_users()``. Printed: refresh calls Zoho received, how many it
refused (throttled) and how many CRM calls failed.

For ``DjangoTokenStore`` the database of ``project.settings`` is used when ``DATABASE_URL`` is
set (its name must contain ``bench``: the token table is emptied), else a temp SQLite file.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results-herd.json"

from tests.workers import Workers  # noqa: E402
from zoho_tokens.testing.fake_zoho import FakeZoho  # noqa: E402

USER = "herd@example.com:700000099"
CLIENT_ID, CLIENT_SECRET = "1000.HERDCLIENT", "herd-client-secret"


def now_ms() -> int:
    return int(time.time() * 1000)


class DjangoHerd:
    store = "django"

    def __init__(self, fake: FakeZoho, workdir: Path) -> None:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'herd.sqlite3'}"
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
        # One key for this run, shared with the workers (project.settings has no default).
        os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from zoho_tokens.models import ZohoToken

        name = str(connection.settings_dict["NAME"])
        if "bench" not in name and not name.startswith(str(workdir)):
            sys.exit(f"refusing to empty {name!r}: use a scratch database whose name has 'bench'")
        call_command("migrate", verbosity=0)
        ZohoToken.objects.all().delete()
        self.model = ZohoToken
        self.label = f"DjangoTokenStore ({connection.vendor})"
        self.env = {
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "SECRET_KEY": os.environ["SECRET_KEY"],
        }
        refresh = fake.add_refresh_token(email="herd@example.com", zgid="700000099")
        self.row = ZohoToken.objects.create(
            user_name=USER,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=refresh,
            access_token=fake.issue_access_token(refresh),
            expiry_time=now_ms() + 3600_000,
            api_domain=fake.url,
        )
        self.argv: list[str] = []

    def expire(self, expires_in_ms: int) -> None:
        self.model.objects.filter(pk=self.row.pk).update(expiry_time=now_ms() + expires_in_ms)

    def close(self) -> None:
        self.model.objects.all().delete()


class FileHerd:
    store = "file"
    label = "SDK FileStore"

    def __init__(self, fake: FakeZoho, workdir: Path) -> None:
        from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
        from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
        from zohocrmsdk.src.com.zoho.crm.api.user_signature import UserSignature

        self.path = workdir / "tokens.csv"
        refresh = fake.add_refresh_token(email="herd@example.com", zgid="700000099")
        token = OAuthToken(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=refresh,
            user_signature=UserSignature(USER),
        )
        token.set_access_token(fake.issue_access_token(refresh))
        token.set_expires_in(str(now_ms() + 3600_000))
        token.set_api_domain(fake.url)
        FileStore(str(self.path)).save_token(token)
        self.env: dict[str, str] = {}
        self.argv = ["--file-path", str(self.path)]

    def expire(self, expires_in_ms: int) -> None:
        with open(self.path, newline="") as f:
            rows = list(csv.reader(f))
        # Every row of the user, even in line 1: concurrent rewrites can drop the header.
        for row in rows:
            if len(row) > 7 and row[1] == USER:
                row[7] = str(now_ms() + expires_in_ms)
        with open(self.path, "w", newline="") as f:
            csv.writer(f).writerows(rows)

    def close(self) -> None:
        pass


def run(herd, fake: FakeZoho, workers: int, rounds: int, expires_in_ms: int, workdir: Path):
    resources = workdir / f"sdk-{herd.store}"
    resources.mkdir(exist_ok=True)
    argv = ["herd", "--store", herd.store, "--user", USER, "--fake-url", fake.url]
    argv += ["--resource-path", str(resources), *herd.argv]
    env = {**herd.env, "ZOHO_TOKENS_LOG_LEVEL": "CRITICAL"}
    fake.reset_counters()
    failures: Counter[str] = Counter()
    per_round = []
    with Workers(workers, argv, env, timeout=120) as pool:
        for answer in pool.early:
            failures[answer["error"][:120]] += 1
        for _ in range(rounds):
            before = fake.counters["refresh"]
            herd.expire(expires_in_ms)
            for answer in pool.round():
                if not answer["ok"]:
                    failures[answer["error"][:120]] += 1
            per_round.append(fake.counters["refresh"] - before)
    herd.close()
    return {
        "store": herd.label,
        "workers": workers,
        "rounds": rounds,
        "calls": workers * rounds,
        "refresh_calls": fake.counters["refresh"],
        "refused_throttled": fake.counters["throttled"],
        "failed_calls": sum(failures.values()),
        "refreshes_per_round": per_round,
        "errors": dict(failures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--expires-in-ms", type=int, default=2000)
    parser.add_argument("--stores", default="django,file")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="zoho-herd-"))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    rows = []
    with FakeZoho() as fake:
        for name in args.stores.split(","):
            herd = {"django": DjangoHerd, "file": FileHerd}[name](fake, workdir)
            result = run(herd, fake, args.workers, args.rounds, args.expires_in_ms, workdir)
            results[result["store"]] = result
            rows.append(result)

    print(
        f"{args.workers} workers x {args.rounds} rounds, token expiring in {args.expires_in_ms} ms"
    )
    print(
        f"{'store':28} {'calls':>6} {'refresh calls':>14} {'throttled':>10} {'failed':>7}",
        " per round",
    )
    for r in rows:
        print(
            f"{r['store']:28} {r['calls']:>6} {r['refresh_calls']:>14} "
            f"{r['refused_throttled']:>10} {r['failed_calls']:>7}  {r['refreshes_per_round']}"
        )
        for error, count in r["errors"].items():
            print(f"    {count} x {error}")
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
