"""The ``dify-integrations knowledge-api`` subcommand (kept here so ``cli.py`` stays small)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from ._serve import KEY_ENV

NAME = "knowledge-api"


def add_parser(sub: Any) -> None:
    """Register the subcommand on ``sub`` (an argparse subparsers action)."""
    parser = sub.add_parser(
        NAME,
        help="serve LangChain/LlamaIndex retrievers to Dify as an External Knowledge API",
        description=(
            "Serve a mapping knowledge_id -> retriever (LangChain or LlamaIndex retriever, "
            "vector store, index, or callable) as Dify's External Knowledge API, and print "
            "what to type into Dify's 'External Knowledge API' and 'Connect to an External "
            f"Knowledge Base' forms. The API key Dify sends is read from ${KEY_ENV} (or the "
            "variable named by --key-env); it is never printed. Stop with Ctrl-C. Example: "
            "dify-integrations knowledge-api dify_integrations.knowledge_api.example:build"
        ),
    )
    parser.add_argument(
        "target",
        metavar="MODULE:ATTRIBUTE",
        help="a mapping knowledge_id -> retriever, or a function returning one",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument(
        "--key-env",
        default=KEY_ENV,
        metavar="VAR",
        help="environment variable holding the API key (default: %(default)s)",
    )
    parser.add_argument(
        "--path-prefix",
        default="",
        metavar="PATH",
        help="serve under PATH, e.g. /dify (the API Endpoint then ends with it)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="per-request timeout"
    )
    parser.add_argument(
        "--max-concurrency", type=int, default=32, help="retrievals at once (others wait)"
    )
    parser.add_argument("--threads", type=int, default=8, help="threads for sync retrievers")
    parser.add_argument(
        "--max-body-bytes", type=int, default=64 * 1024, help="largest request body"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no access log on stderr (errors are still logged)"
    )


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit code (2 for bad arguments or setup)."""
    from ._app import ServiceSettings
    from ._serve import load_retrievers, serve

    try:
        settings = ServiceSettings(
            max_body_bytes=args.max_body_bytes,
            request_timeout=args.timeout,
            max_concurrency=args.max_concurrency,
            threads=args.threads,
            path_prefix=args.path_prefix,
        )
        retrievers = load_retrievers(args.target)
    except (ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.quiet:
        logging.getLogger("dify_integrations.knowledge_api.access").setLevel(logging.WARNING)
    try:
        return serve(
            retrievers, host=args.host, port=args.port, key_env=args.key_env, settings=settings
        )
    except (ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
