"""``python -m dify_integrations.testing [--host H] [--port N]``: serve the default workspace.

Prints one JSON line to stdout (``base_url``, ``dataset_api_key``, ``dataset_id``, ``apps``
mode -> key) once the server accepts connections, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._demo import populate
from ._serve import serve_populated


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m dify_integrations.testing",
        description=(
            "Serve a small default workspace (a knowledge base, one app of each mode) on a "
            "local Dify-compatible server. Prints one JSON line (base_url, dataset_api_key, "
            "dataset_id, apps: mode -> key) once it accepts connections, then serves until "
            "interrupted (Ctrl-C or SIGTERM). For the demo content and shell export lines, "
            "use `dify-integrations serve`."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s; keep it on loopback: test keys only)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to listen on (default: 0, a free port)"
    )
    parser.add_argument(
        "--ping-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds between keep-alive `event: ping` frames in streams (default: %(default)s)",
    )
    parser.add_argument(
        "--token-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="pause before each streamed piece of an answer (default: %(default)s)",
    )
    args = parser.parse_args(argv)

    def announce(info: dict[str, Any]) -> None:
        print(json.dumps(info), flush=True)

    return serve_populated(
        populate,
        announce,
        host=args.host,
        port=args.port,
        ping_interval=args.ping_interval,
        token_delay=args.token_delay,
    )


if __name__ == "__main__":
    sys.exit(main())
