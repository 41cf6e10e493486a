"""The request log: what reached the server, without secrets."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoggedRequest:
    """One request as the server saw it.

    Attributes:
        method: HTTP method.
        path: Full URL path, e.g. ``/v1/chat-messages``.
        route: Route template without ``/v1``, e.g. ``/chat-messages/{task_id}/stop``
            (``None`` for a routing miss).
        user: The end-user argument from the body, query or form (``None`` if absent).
        body: Parsed JSON body, form fields for uploads (file content replaced by its
            name, size and type), or ``None``. Never contains the ``Authorization`` header.
        query: Query-string parameters.
        time: ``time.time()`` when the request arrived.
        key_kind: ``"app"``, ``"dataset"`` or ``None`` (which kind of known key was used).
        status: HTTP status of the response (``None`` until it is sent or if dropped).
        headers: Request headers, without ``Authorization`` and cookies.
        trace_id: The trace id Dify would join its trace to: the ``X-Trace-Id`` header,
            else a ``trace_id`` query parameter, else a ``trace_id`` body field.
    """

    method: str
    path: str
    route: str | None
    user: str | None
    body: Any
    query: dict[str, str]
    time: float
    key_kind: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    trace_id: str | None = None


class RequestLog:
    """Thread-safe append-only log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def append(self, entry: LoggedRequest) -> None:
        """Record a request."""
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list[LoggedRequest]:
        """A copy of the entries so far, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
