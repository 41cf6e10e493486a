"""``dify-integrations serve``: the local server with the demo content, in the foreground."""

from __future__ import annotations

import threading
from typing import TextIO

from dify_integrations.demo._setup import DemoApps, load_demo
from dify_integrations.demo._terminal import Terminal

__all__ = ["serve"]


def serve(
    *,
    port: int = 0,
    token_delay: float = 0.0,
    stream: TextIO | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run ``DifyTestServer`` with the demo content until Ctrl-C, SIGTERM or ``stop``.

    Prints the base URL and the keys as ``export`` lines, ready to paste into a shell: the
    demo's own variables, and ``DIFY_API_KEY`` (the chat app) so that ``ChatDify()`` and
    ``DifyRetriever(dataset_id=...)`` work there with no key or URL arguments.

    Args:
        port: Port on 127.0.0.1 (0: a free port).
        token_delay: Seconds between streamed tokens.
        stream: Where to write (default ``sys.stdout``).
        stop: An event that ends serving when set (for tests and embedding).

    Returns:
        The exit code (0).
    """
    from dify_integrations.testing._serve import serve_populated

    term = Terminal(stream)

    def announce(apps: DemoApps) -> None:
        term.line(f"Local Dify-compatible server on {apps.base_url} with the Stowaway demo.")
        term.line("Use it from another shell:")
        term.line()
        for name, value in apps.env().items():
            term.line(f"export {name}={value}")
        term.line()
        term.line("# ChatDify() and DifyRetriever(dataset_id=...) with no key or URL arguments:")
        term.line(f"export DIFY_API_KEY={apps.chat_app_key}")
        term.line()
        for tool, key in apps.workflow_app_keys.items():
            term.line(f"# workflow {tool}: {key}")
        term.line("# then: dify-integrations demo   (runs against this server)")
        term.line("Press Ctrl-C to stop.")

    return serve_populated(load_demo, announce, port=port, token_delay=token_delay, stop=stop)
