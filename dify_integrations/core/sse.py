"""Incremental Server-Sent Events decoder: bytes in, frames out.

Chunks may split anywhere (inside a line, between ``\\r`` and ``\\n``, inside a UTF-8
character). Lines end with CR, LF or CRLF. A frame is dispatched at each blank line.
Unlike a browser, frames with an ``event:`` line but no ``data:`` line (Dify's
``event: ping``) are reported, so callers can use them as keep-alives. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEFrame"]


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

    Example:
        >>> d = SSEDecoder()
        >>> d.feed(b'data: {"a"') + d.feed(b': 1}\\r\\n\\r\\nevent: ping\\n\\n')
        [SSEFrame(event=None, data='{"a": 1}'), SSEFrame(event='ping', data=None)]
    """

    __slots__ = ("_buf", "_data", "_event", "_skip_lf")

    def __init__(self) -> None:
        self._buf = b""
        self._skip_lf = False
        self._event: str | None = None
        self._data: list[bytes] | None = None

    def feed(self, chunk: bytes) -> list[SSEFrame]:
        """Add bytes and return the frames they complete.

        Args:
            chunk: The next bytes of the body (any size, any boundary).

        Returns:
            The frames completed by this chunk, in order (possibly empty).
        """
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return []
        buf = self._buf + chunk if self._buf else chunk
        if b"\r" in buf:
            if buf[-1:] == b"\r":
                self._skip_lf = True
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if b"\n" not in buf:
            self._buf = buf
            return []
        lines = buf.split(b"\n")
        self._buf = lines.pop()
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
                continue
            if line[:1] == b":":
                continue
            name, sep, value = line.partition(b":")
            if sep and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
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
        return bool(self._buf) or self._data is not None or self._event is not None
