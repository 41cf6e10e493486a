"""The ``dify-integrations`` command: ``demo`` and ``serve``.

``dify-integrations demo`` runs the guided demo (against the embedded local server, or a
real Dify when ``DIFY_BASE_URL`` and the app keys are set); ``dify-integrations serve`` runs
the local server with the demo content in the foreground.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dify_integrations import __version__

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dify-integrations",
        description="Dify apps and knowledge bases in LangChain and LlamaIndex.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="run the guided demo",
        description=(
            "Run the guided demo. Without DIFY_BASE_URL it starts the local Dify-compatible "
            "server with the demo content; with DIFY_BASE_URL, DIFY_CHAT_APP_KEY, "
            "DIFY_COMPLETION_APP_KEY, DIFY_WORKFLOW_APP_KEY, DIFY_DATASET_API_KEY and "
            "DIFY_DATASET_ID it runs against that Dify."
        ),
    )
    demo.add_argument(
        "--token-delay",
        type=float,
        default=0.015,
        metavar="SECONDS",
        help="local server only: pause between streamed tokens (default: %(default)s)",
    )
    demo.add_argument("--no-color", action="store_true", help="plain output without colours")

    serve = sub.add_parser(
        "serve",
        help="run the local Dify-compatible server with the demo content",
        description=(
            "Run the local Dify-compatible server with the demo content in the foreground "
            "and print its base URL and keys. Stop it with Ctrl-C."
        ),
    )
    serve.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: a free port)"
    )
    serve.add_argument(
        "--token-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="pause between streamed tokens (default: %(default)s)",
    )
    from dify_integrations.batch.cli import add_parser as add_batch_parser

    add_batch_parser(sub)
    from dify_integrations.knowledge_api import _cli as knowledge_api_cli

    knowledge_api_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, non-zero on failure (see ``dify-integrations demo -h``).
    """
    args = _parser().parse_args(argv)
    if args.command == "batch":
        from dify_integrations.batch.cli import run as run_batch_command

        return run_batch_command(args)
    if args.command == "knowledge-api":
        from dify_integrations.knowledge_api import _cli as knowledge_api_cli

        return knowledge_api_cli.run(args)
    if args.command == "demo":
        from dify_integrations.demo import run_demo

        return run_demo(token_delay=args.token_delay, color=False if args.no_color else None)
    from dify_integrations.demo import serve

    return serve(port=args.port, token_delay=args.token_delay)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
