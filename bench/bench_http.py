"""``access_token()`` against ``find_token``, ``aaccess_token()``'s cost, and the event loop's
longest stall while 50 async calls share one refresh.

    .venv/bin/python bench/bench_http.py            # scratch SQLite file in /tmp; prints only
    .venv/bin/python bench/bench_http.py --write    # also merges into bench/results-http.json
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_zt .venv/bin/python bench/bench_http.py

A fake Zoho runs in a child process (``python -m tests.workers fake``), so its request threads
do not compete with this process's event loop for the GIL. Measured, in one run (the
machine is shared: compare the ratios, not the absolute numbers):

- ``hot path``: ``DjangoTokenStore().find_token`` (by user name) and ``access_token(user)``,
  interleaved in blocks; median µs per call and their ratio (goal: at most 1.1).
- ``async``: ``await aaccess_token(user)`` one after another in one loop: µs per call, and
  its overhead over the sync call (a hop to asgiref's thread and back).
- ``stall``: a ticker task (``asyncio.sleep(0.001)`` in a loop) records the longest gap
  while (a) 50 ``aaccess_token()`` calls run concurrently with the token inside the refresh
  window (one refresh, run in a thread); (a') 50 hops to asgiref's thread that do nothing
  (what the hop itself costs the loop: the baseline of (a)); (b) 50 ``httpx.AsyncClient``
  requests with ``ZohoAuth`` hit a token the fake dropped (50 rejections, one refresh, 50
  retries); (c) 50 requests with a fixed header and no ``ZohoAuth`` (httpx's own cost: the
  baseline of (b)); (d) the loop idle. Each is repeated; the median and the worst of the
  longest gaps are kept.
  Measured after ``gc.freeze()`` (``--no-gc-freeze`` to compare): without it, CPython's full
  collections of the ~110k startup objects ran on the loop's thread, 100-200 ms at load 8,
  in any of the scenarios (idle included, when one falls in its window): the runtime's
  stall, not a database call. Each scenario also reports the loop's longest GC pause.
- ``first_call``: the same ticker in a new interpreter (Django set up, nothing of the store
  imported yet) around its first ``await zoho_tokens.aaccess_token()``: what a process's
  first call costs the loop (the store's modules are imported in asgiref's thread).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results-http.json"
SCRATCH = Path(tempfile.gettempdir()) / "zoho-tokens-bench-http.sqlite3"
USER = "bench@example.com:700000042"
CLIENT_ID, CLIENT_SECRET = "1000.BENCHHTTP", "bench-http-secret"
SCOPE = "ZohoCRM.modules.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ,ZohoBooks.fullaccess.all"


def start_fake(refresh_token: str) -> tuple[subprocess.Popen, str, str]:
    email, _, zgid = USER.rpartition(":")
    argv = [sys.executable, "-m", "tests.workers", "fake", "--refresh-token", refresh_token]
    argv += ["--email", email, "--zgid", zgid, "--client-id", CLIENT_ID]
    argv += ["--client-secret", CLIENT_SECRET, "--scope", SCOPE]
    argv += ["--refresh-limit", "1000"]  # every repeat refreshes twice: no throttling here
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    started = json.loads(child.stdout.readline())  # type: ignore[union-attr]
    return child, started["url"], started["access_token"]


def setup_django(url: str) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{SCRATCH}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DEBUG", "False")  # as in production: no query log on the cursor
    os.environ.setdefault("ZOHO_TOKENS_LOG_LEVEL", "ERROR")
    os.environ.update(ZOHO_ACCOUNTS_URL=url, ZOHO_API_DOMAIN=url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    if "bench" not in name:
        sys.exit(f"refusing to empty {name!r}: use a scratch database whose name has 'bench'")
    call_command("migrate", verbosity=0)


def median_us(call, blocks: int, per_block: int) -> list[float]:
    out = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(per_block):
            call()
        out.append((time.perf_counter() - start) / per_block * 1e6)
    return out


def hot_path(blocks: int, per_block: int) -> dict[str, float]:
    import zoho_tokens
    from zoho_tokens.store import DjangoTokenStore
    from zoho_tokens.zohosdk import OAuthToken, UserSignature

    store = DjangoTokenStore()

    def find() -> None:
        token = OAuthToken(user_signature=UserSignature(USER))
        assert store.find_token(token) is not None

    def access() -> None:
        assert zoho_tokens.access_token(USER)

    find_us: list[float] = []
    access_us: list[float] = []
    for _ in range(3):  # warm-up: SQL cache, key derivation, connection
        find(), access()
    for _ in range(blocks):  # interleaved: both see the same machine load
        find_us += median_us(find, 1, per_block)
        access_us += median_us(access, 1, per_block)
    f, a = statistics.median(find_us), statistics.median(access_us)
    return {"find_token_us": round(f, 1), "access_token_us": round(a, 1), "ratio": round(a / f, 3)}


def async_overhead(blocks: int, per_block: int) -> dict[str, float]:
    """Sync and async blocks interleaved, so both see the same machine load."""
    import zoho_tokens

    async def run() -> float:
        await zoho_tokens.aaccess_token(USER)  # asgiref's thread and its connection exist
        start = time.perf_counter()
        for _ in range(per_block):
            await zoho_tokens.aaccess_token(USER)
        return (time.perf_counter() - start) / per_block * 1e6

    sync_us: list[float] = []
    async_us: list[float] = []
    for _ in range(blocks):
        sync_us += median_us(lambda: zoho_tokens.access_token(USER), 1, per_block)
        async_us.append(asyncio.run(run()))
    s, a = statistics.median(sync_us), statistics.median(async_us)
    return {
        "aaccess_token_us": round(a, 1),
        "access_token_us": round(s, 1),
        "overhead_us": round(a - s, 1),
    }


#: The loop thread's garbage-collector pauses (ms) during the current ``longest_gap`` window.
GC_PAUSES: list[float] = []
_gc_started: list[float] = []


def _gc_callback(phase: str, info: dict) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if phase == "start":
        _gc_started[:] = [time.perf_counter()]
    elif _gc_started:
        GC_PAUSES.append((time.perf_counter() - _gc_started[0]) * 1000)


async def longest_gap(work) -> float:
    gaps: list[float] = []
    done = asyncio.Event()
    GC_PAUSES.clear()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last - 0.001)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    await work()
    done.set()
    await tick
    return max(gaps) * 1000


def stalls(url: str, repeats: int, gc_freeze: bool = True) -> dict[str, dict[str, float]]:
    import httpx
    from asgiref.sync import sync_to_async
    from django.db import connections

    import zoho_tokens
    from zoho_tokens.http import ZohoAuth
    from zoho_tokens.models import ZohoToken, now_ms

    books = url + "/books/v3/organizations"
    gc_worst: dict[str, list[float]] = {}

    def note(name: str, gap: float) -> None:
        found[name].append(gap)
        gc_worst.setdefault(name, []).append(max(GC_PAUSES, default=0.0))

    found: dict[str, list[float]] = {
        "refresh_ahead": [],
        "thread_hops": [],
        "zohoauth": [],
        "plain": [],
        "idle": [],
    }

    async def scenario() -> None:
        limits = httpx.Limits(max_connections=50)
        async with (
            httpx.AsyncClient(auth=ZohoAuth(USER), timeout=10, limits=limits) as client,
            httpx.AsyncClient(timeout=10, limits=limits) as plain,
        ):
            await client.get(books)  # warm-up: httpx's async backend, asgiref's thread
            for _ in range(repeats):
                await asyncio.to_thread(window)

                async def ahead() -> None:
                    await asyncio.gather(*(zoho_tokens.aaccess_token(USER) for _ in range(50)))

                note("refresh_ahead", await longest_gap(ahead))

                async def hops() -> None:
                    hop = sync_to_async(lambda: None, thread_sensitive=True)
                    await asyncio.gather(*(hop() for _ in range(50)))

                note("thread_hops", await longest_gap(hops))
                token = await zoho_tokens.aaccess_token(USER)
                await plain.post(url + "/fake/access-tokens/drop", data={"token": token})

                async def through_auth() -> None:
                    answers = await asyncio.gather(*(client.get(books) for _ in range(50)))
                    assert {r.status_code for r in answers} == {200}

                note("zohoauth", await longest_gap(through_auth))
                token = await zoho_tokens.aaccess_token(USER)
                header = {"Authorization": f"Zoho-oauthtoken {token}"}

                async def fixed_header(header: dict[str, str] = header) -> None:
                    answers = await asyncio.gather(
                        *(plain.get(books, headers=header) for _ in range(50))
                    )
                    assert {r.status_code for r in answers} == {200}

                note("plain", await longest_gap(fixed_header))
                note("idle", await longest_gap(lambda: asyncio.sleep(0.3)))

    def window() -> None:
        ZohoToken.objects.filter(user_name=USER).update(expiry_time=now_ms() + 30_000)
        connections.close_all()

    if gc_freeze:
        gc.collect()
        gc.freeze()  # what a latency-minded deployment does after startup (see the docs)
    gc.callbacks.append(_gc_callback)
    try:
        asyncio.run(scenario())
    finally:
        gc.callbacks.remove(_gc_callback)
        gc.unfreeze()
    return {
        name: {
            "median_ms": round(statistics.median(v), 1),
            "worst_ms": round(max(v), 1),
            # The loop thread's longest garbage collection in these windows: CPython's, not
            # a database call; any asyncio process has them (gc.freeze() shortens them).
            "gc_worst_ms": round(max(gc_worst[name], default=0.0), 1),
        }
        for name, v in found.items()
    }


def first_call_child() -> None:
    """In a new interpreter (``--first-call``): the loop's longest gap around the first
    ``aaccess_token()``, printed as JSON."""
    import django

    django.setup()
    import zoho_tokens

    assert "zoho_tokens.store" not in sys.modules

    async def first() -> None:
        await zoho_tokens.aaccess_token(USER)

    print(json.dumps({"first_call_ms": round(asyncio.run(longest_gap(first)), 1)}))


def first_call(repeats: int) -> dict[str, float]:
    gaps = []
    for _ in range(repeats):
        child = subprocess.run(
            [sys.executable, __file__, "--first-call"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
        gaps.append(json.loads(child.stdout.strip().splitlines()[-1])["first_call_ms"])
    return {"median_ms": round(statistics.median(gaps), 1), "worst_ms": round(max(gaps), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--per-block", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="merge into results-http.json")
    parser.add_argument("--first-call", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-gc-freeze", action="store_true", help="stalls: leave the startup objects to the GC"
    )
    args = parser.parse_args()
    if args.first_call:
        first_call_child()
        return

    refresh_token = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
    child, url, access = start_fake(refresh_token)
    try:
        setup_django(url)
        from django.db import connection

        from zoho_tokens.models import ZohoToken, now_ms

        ZohoToken.objects.all().delete()
        ZohoToken.objects.create(
            user_name=USER,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            refresh_token=refresh_token,
            access_token=access,
            expiry_time=now_ms() + 3_600_000,
            api_domain=url,
        )
        result = {
            "database": connection.vendor,
            "python": platform.python_version(),
            "load_average": os.getloadavg()[0],
            "hot_path": hot_path(args.blocks, args.per_block),
            "async": async_overhead(args.blocks, args.per_block),
            "gc_frozen": not args.no_gc_freeze,
            "stall_50_calls": stalls(url, args.repeats, gc_freeze=not args.no_gc_freeze),
            "stall_first_call": first_call(args.repeats),
        }
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(timeout=10)
    print(json.dumps(result, indent=2))
    if args.write:
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        results[result["database"]] = result
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
