"""Server-wide settings shared with the route handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from ._faults import FaultRegistry
from ._guard import GuardLimits, GuardStats
from ._log import RequestLog
from ._tasks import TaskRegistry

MB = 1024 * 1024

IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "gif", "svg"})
VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "mpeg", "webm"})
AUDIO_EXTENSIONS = frozenset({"mp3", "m4a", "wav", "amr", "mpga"})


@dataclass
class UploadLimits:
    """Upload size limits in bytes per extension class, and the extension blacklist."""

    image: int = 10 * MB
    video: int = 100 * MB
    audio: int = 50 * MB
    other: int = 15 * MB
    blacklist: frozenset[str] = frozenset()

    def for_extension(self, extension: str) -> int:
        """The size limit that applies to a file with this extension (no dot)."""
        ext = extension.lower()
        if ext in IMAGE_EXTENSIONS:
            return self.image
        if ext in VIDEO_EXTENSIONS:
            return self.video
        if ext in AUDIO_EXTENSIONS:
            return self.audio
        return self.other


@dataclass
class Settings:
    """Settings of one server."""

    ping_interval: float = 10.0
    token_delay: float = 0.0
    upload_limits: UploadLimits = field(default_factory=UploadLimits)
    server_version: str = "1.9.1"
    #: Like Dify, keep generating when the client's connection drops mid-stream, so the run
    #: (or message) is finished and stored; ``False`` (the default) ends it with the stream.
    finish_on_disconnect: bool = False
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    log: RequestLog = field(default_factory=RequestLog)
    tasks: TaskRegistry = field(default_factory=TaskRegistry)
    #: Connection limit and request read timeouts (see ``_guard``), and what they closed.
    guard: GuardLimits = field(default_factory=GuardLimits)
    guard_stats: GuardStats = field(default_factory=GuardStats)
    #: Bytes of a JSON request body the request log keeps (longer ones are cut, noted).
    log_body_limit: int = 64 * 1024
    #: Seconds each indexing state of a document created over the API lasts.
    indexing_delay: float = 0.02
    #: ``(match(name) -> bool, failing state, error)`` for documents whose indexing fails.
    indexing_failures: list[tuple[Callable[[str], bool], str, str]] = field(default_factory=list)
    chatflow_order: str = "current"
    """``current`` (``message_end`` before ``workflow_finished``) or ``legacy``."""


SETTINGS_KEY: web.AppKey[Settings] = web.AppKey("settings", Settings)


def settings(request: web.Request) -> Settings:
    """The settings of the server handling ``request``."""
    return request.app[SETTINGS_KEY]
