"""``zoho_tokens rotate-keys``: re-encrypt every row with the first ENCRYPTION_KEYS key."""

from __future__ import annotations

from typing import Any

from zoho_tokens.checks import rows_on_old_keys
from zoho_tokens.keys import rotate_keys
from zoho_tokens.management.cli import progress_bar
from zoho_tokens.outcomes import Status, summary

HELP = (
    "Re-encrypt every stored token with the first key of ZOHO_TOKENS['ENCRYPTION_KEYS']. "
    "Put the new key first and keep the old ones until this has run; safe to interrupt "
    "and re-run."
)


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--batch-size", type=int, default=200, help="rows per transaction (default 200)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="count the tokens still on a key other than the first; change nothing",
    )


def handle(command: Any, options: dict[str, Any]) -> int:
    batch = options["batch_size"]
    if batch < 1:
        command.stderr.write("--batch-size must be at least 1")
        return 1
    if options.get("dry_run"):
        old = rows_on_old_keys()
        for entry in old:
            command.stdout.write(
                f"{entry.rows} tokens on ZOHO_TOKENS['ENCRYPTION_KEYS'][{entry.position}] "
                f"(key id {entry.key_id})"
            )
        total = sum(entry.rows for entry in old)
        command.stdout.write(
            f"rotate-keys (dry run): {total} tokens on a configured key other than the first; "
            "nothing changed. Run 'manage.py zoho_tokens rotate-keys' to move them."
        )
        return 0
    report = rotate_keys(batch_size=batch, progress=progress_bar())
    unreadable = report.token_ids(Status.UNREADABLE)
    counts = [
        (len(report.outcomes), "tokens checked"),
        (report.changed, "values re-encrypted with the first key"),
        (len(unreadable), "unreadable."),
    ]
    command.stdout.write(summary("rotate-keys", counts))
    if unreadable:
        ids = ", ".join(unreadable[:20])
        command.stderr.write(
            f"cannot decrypt tokens {ids}: add the key they were encrypted with to "
            "ZOHO_TOKENS['ENCRYPTION_KEYS'] and run rotate-keys again"
        )
        return 1
    return 0
