"""Fresh connections in a forked child, automatically.

A client used before ``os.fork()`` holds pooled sockets that the child inherits: parent
and child would then read each other's answers. Every client registers here; right after
a fork, in the child only, each one drops its pooled connections (`ForkAware.after_fork`)
so its next call opens a new one. The parent is not touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import weakref
from typing import Protocol

__all__ = ["ForkAware", "track"]

logger = logging.getLogger("dify_integrations")


class ForkAware(Protocol):
    """A client that can drop its inherited connections in a forked child."""

    def _after_fork(self) -> None: ...


_CLIENTS: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def track(client: ForkAware) -> None:
    """Have ``client`` reset its connections in any child forked from now on."""
    _CLIENTS.add(client)


def _reset_in_child() -> None:
    for client in list(_CLIENTS):
        try:
            client._after_fork()
        except Exception as exc:  # pragma: no cover - never fail the fork itself
            with contextlib.suppress(Exception):
                logger.debug("resetting a client after fork failed: %s", type(exc).__name__)


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_in_child)
