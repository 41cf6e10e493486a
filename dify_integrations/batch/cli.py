"""``dify-integrations batch``: run an app over a JSONL file of rows."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``batch`` subcommand to the CLI's subparsers."""
    batch = sub.add_parser(
        "batch",
        help="run a Dify app over a JSONL file of rows (resumable)",
        description=(
            "Run a chat, completion or workflow app over every row of a JSONL file, with "
            "bounded concurrency and an adaptive rate limit. Results go to --output (JSONL, "
            "or SQLite for .sqlite/.db), which is also the checkpoint: running the same "
            "command again skips finished rows and never sends a succeeded row twice."
        ),
    )
    batch.add_argument(
        "--input", required=True, metavar="ROWS.jsonl", help="one JSON object a line"
    )
    batch.add_argument("--output", required=True, metavar="RESULTS", help="results file")
    batch.add_argument(
        "--app-key-env",
        default="DIFY_API_KEY",
        metavar="NAME",
        help="environment variable holding the app key (default: %(default)s)",
    )
    batch.add_argument("--base-url", default=None, help="Dify API root (else DIFY_BASE_URL)")
    batch.add_argument("--mode", choices=["chat", "completion", "workflow"], default=None)
    batch.add_argument("--id-field", default="id", help="row id field (default: %(default)s)")
    batch.add_argument("--query-field", default="query", help="chat query field")
    batch.add_argument("--concurrency", type=int, default=8, help="rows in flight (default 8)")
    batch.add_argument(
        "--rate-limit", type=float, default=None, metavar="RPS", help="requests per second"
    )
    batch.add_argument(
        "--fixed-rate", action="store_true", help="do not adapt the rate to 429 answers"
    )
    batch.add_argument("--user", default="dify-batch", help="Dify end user of the requests")
    batch.add_argument(
        "--retry-failed",
        action="store_true",
        help="also send again rows whose error says Dify may have run them",
    )
    batch.add_argument("--timeout", type=float, default=None, help="read timeout, seconds")
    batch.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress line"
    )
    return batch  # type: ignore[no-any-return]


def run(args: argparse.Namespace) -> int:
    """Run the batch; exit code 0 when every row succeeded, 1 when some failed, 130 on Ctrl-C."""
    from .runner import BatchRunner

    runner: BatchRunner | None = None
    try:
        runner = BatchRunner(
            api_key_env=args.app_key_env,
            base_url=args.base_url,
            mode=args.mode,
            concurrency=args.concurrency,
            rate_limit=args.rate_limit,
            adaptive=not args.fixed_rate,
            output=args.output,
            id_field=args.id_field,
            query_field=args.query_field,
            user=args.user,
            retry_failed=args.retry_failed,
            timeout=args.timeout,
            progress=args.progress,
        )
        result = runner.run(args.input)
    except KeyboardInterrupt:
        print("\ncancelled: rows in flight were stopped; run again to finish", file=sys.stderr)
        if runner is not None and runner.summary is not None:
            print(runner.summary, file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, TypeError) as exc:
        print(f"dify-integrations batch: {exc}", file=sys.stderr)
        return 2
    print(result.summary, file=sys.stderr)
    return 0 if result.summary.failed == 0 else 1
