"""Fault injection: what can go wrong, scoped by route, method and count."""

from __future__ import annotations

import fnmatch
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["status", "delay", "drop", "drop_after", "error_event", "malformed", "stall"]

#: Kinds that act on the response before anything is sent.
PRE_KINDS = frozenset({"delay"})
RESPOND_KINDS = frozenset({"status", "drop"})
#: Kinds that act inside an SSE stream (they only match streaming requests).
STREAM_KINDS = frozenset({"drop_after", "error_event", "malformed", "stall"})
ALL_KINDS = PRE_KINDS | RESPOND_KINDS | STREAM_KINDS

DEFAULT_MALFORMED_FRAME = b'data: {"event": "message", "answer": "unterminated\n\n'


@dataclass
class Fault:
    """One injected fault. Returned by ``DifyTestServer.inject_fault``; ``fired`` counts uses.

    Attributes:
        route: Route it applies to, without ``/v1`` (``"/chat-messages"``), as the route
            template (``"/chat-messages/{task_id}/stop"``) or a concrete path; ``fnmatch``
            wildcards allowed (``"*"`` = every route).
        kind: ``status`` | ``delay`` | ``drop`` | ``drop_after`` | ``error_event`` |
            ``malformed`` | ``stall``.
        count: How many matching requests it still applies to (``None`` = unlimited).
        method: HTTP method it is limited to, or ``None`` for any.
    """

    route: str
    kind: FaultKind
    count: int | None = 1
    method: str | None = None
    status: int | None = None
    body: Any = None
    retry_after: float | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    after_events: int = 0
    code: str | None = None
    message: str | None = None
    duration: float = 1.0
    ping_interval: float | None = None
    frame: bytes | None = None
    clean: bool = False
    fired: int = 0

    def matches(self, method: str, template: str, path: str, streaming: bool) -> bool:
        """Whether this fault applies to a request (ignoring its remaining count)."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.kind in STREAM_KINDS and not streaming:
            return False
        pattern = self.route.removeprefix("/v1") or "/"
        return any(
            candidate == pattern or fnmatch.fnmatchcase(candidate, pattern)
            for candidate in (template, path)
        )


@dataclass
class ActiveFaults:
    """The faults picked for one request: at most one per phase."""

    pre: Fault | None = None
    respond: Fault | None = None
    stream: Fault | None = None


class FaultRegistry:
    """Thread-safe list of pending faults."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Register a fault."""
        if fault.kind not in ALL_KINDS:
            raise ValueError(
                f"unknown fault kind {fault.kind!r}; expected one of {sorted(ALL_KINDS)}"
            )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every pending fault."""
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        """Faults that can still fire."""
        with self._lock:
            return [f for f in self._faults if f.count is None or f.count > 0]

    def take(self, method: str, template: str, path: str, streaming: bool) -> ActiveFaults:
        """Pick (and consume one use of) the first matching fault of each phase."""
        active = ActiveFaults()
        with self._lock:
            for fault in self._faults:
                if fault.count is not None and fault.count <= 0:
                    continue
                if not fault.matches(method, template, path, streaming):
                    continue
                if fault.kind in PRE_KINDS:
                    phase = "pre"
                elif fault.kind in RESPOND_KINDS:
                    phase = "respond"
                else:
                    phase = "stream"
                if getattr(active, phase) is not None:
                    continue
                setattr(active, phase, fault)
                fault.fired += 1
                if fault.count is not None:
                    fault.count -= 1
            self._faults = [f for f in self._faults if f.count is None or f.count > 0]
        return active
