"""Incremental Server-Sent Events decoder: bytes in, frames out.

Chunks may split anywhere (inside a line, between ``\\r`` and ``\\n``, inside a UTF-8
character). Lines end with CR, LF or CRLF. A frame is dispatched at each blank line.
Unlike a browser, frames with an ``event:`` line but no ``data:`` line (Dify's
``event: ping``) are reported, so callers can use them as keep-alives. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Limits
from .errors import ResponseTooLargeError

__all__ = ["SSEDecoder", "SSEFrame"]

DEFAULT_MAX_FRAME_BYTES = Limits().max_frame_bytes


@dataclass(frozen=True, slots=True)
class SSEFrame:
    """One dispatched SSE frame.

    Attributes:
        event: The ``event:`` field, or ``None``.
        data: The ``data:`` lines joined with ``\\n``, or ``None`` when there was none.
    """

    event: str | None
    data: str | None

    @property
    def is_ping(self) -> bool:
        """Whether this is a keep-alive (``event: ping`` or no data at all)."""
        return self.data is None or self.event == "ping"


class SSEDecoder:
    """Turns a byte stream into `SSEFrame`s, one chunk at a time.

    The work is linear in the bytes fed: a line that arrives in many chunks is buffered as
    its pieces and joined once, when it ends. A line, and a frame's ``data:`` lines
    together, are bounded by ``max_frame_bytes``: past it `ResponseTooLargeError` is
    raised and nothing more is kept.

    Args:
        max_frame_bytes: The longest line and the largest frame accepted.

    Example:
        >>> d = SSEDecoder()
        >>> d.feed(b'data: {"a"') + d.feed(b': 1}\\r\\n\\r\\nevent: ping\\n\\n')
        [SSEFrame(event=None, data='{"a": 1}'), SSEFrame(event='ping', data=None)]
    """

    __slots__ = ("_data", "_data_size", "_event", "_limit", "_pending", "_pending_size", "_skip_lf")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self._limit = max_frame_bytes
        self._pending: list[bytes] = []  # pieces of the line not ended yet
        self._pending_size = 0
        self._skip_lf = False
        self._event: str | None = None
        self._data: list[bytes] | None = None
        self._data_size = 0

    def _too_large(self) -> ResponseTooLargeError:
        self._pending = []
        self._pending_size = 0
        self._data = None
        self._data_size = 0
        return ResponseTooLargeError(
            f"a stream line or frame is larger than {self._limit} bytes "
            "(Limits.max_frame_bytes); it was not read further",
            limit=self._limit,
        )

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        """Add bytes and return the frames they complete.

        Args:
            chunk: The next bytes of the body (any size, any boundary).

        Returns:
            The frames completed by this chunk, in order (possibly empty).

        Raises:
            ResponseTooLargeError: A line or a frame grew past ``max_frame_bytes``.
        """
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return []
        has_cr = b"\r" in chunk
        if not has_cr and b"\n" not in chunk:
            # No line ends here: keep the piece (only the new bytes were scanned).
            self._pending.append(chunk)
            self._pending_size += len(chunk)
            if self._pending_size > self._limit:
                raise self._too_large()
            return []
        if has_cr:
            if chunk[-1:] == b"\r":
                self._skip_lf = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._pending:
            self._pending.append(chunk)
            chunk = b"".join(self._pending)
            self._pending = []
            self._pending_size = 0
        lines = chunk.split(b"\n")
        rest = lines.pop()
        if rest:
            if len(rest) > self._limit:
                raise self._too_large()
            self._pending.append(rest)
            self._pending_size = len(rest)
        frames: list[SSEFrame] = []
        for line in lines:
            if not line:
                if self._data is not None or self._event is not None:
                    data = self._data
                    frames.append(
                        SSEFrame(
                            self._event,
                            None if data is None else b"\n".join(data).decode("utf-8", "replace"),
                        )
                    )
                self._event = None
                self._data = None
                self._data_size = 0
                continue
            if line[:1] == b":":
                continue
            name, sep, value = line.partition(b":")
            if sep and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data_size += len(value) + 1
                if self._data_size > self._limit:
                    raise self._too_large()
                if self._data is None:
                    self._data = [value]
                else:
                    self._data.append(value)
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
            # id:, retry: and unknown fields are ignored (Dify sends none).
        return frames

    @property
    def pending(self) -> bool:
        """Whether an incomplete frame (or line) is buffered."""
        return bool(self._pending) or self._data is not None or self._event is not None
