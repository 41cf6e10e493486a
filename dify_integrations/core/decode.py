"""Bounded decoding of what a server sends: content encodings and JSON (no I/O here).

A body may arrive gzip- or deflate-compressed whatever the client asked for (a proxy may
compress on its own); `BodyDecoder` inflates it piece by piece, never more than
`PIECE` bytes at a time, so a small compressed body cannot inflate into gigabytes at once.
A blocking body is also bounded as a whole (`read_body`). JSON too deeply nested for the
parser becomes a ``ValueError`` (never a raw ``RecursionError``).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Final

from .errors import DifyError, ResponseTooLargeError

__all__ = ["PIECE", "BodyBuffer", "BodyDecoder", "body_too_large", "loads_json", "read_body"]

#: Most bytes one step of inflation may produce.
PIECE: Final = 256 * 1024

_GZIP_OR_ZLIB: Final = zlib.MAX_WBITS | 32  # auto-detects a gzip or a zlib header
_RAW_DEFLATE: Final = -zlib.MAX_WBITS


def loads_json(text: str | bytes) -> Any:
    """`json.loads`, with a nesting bomb reported as ``ValueError`` like any invalid JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply to decode") from None


class BodyDecoder:
    """Undoes one ``Content-Encoding`` (``gzip``, ``deflate`` or none), chunk by chunk.

    Args:
        encoding: The response's ``Content-Encoding`` header (``None`` or ``identity``:
            chunks pass through unchanged).

    Raises:
        DifyError: For an encoding the client cannot decode (``br``, ``zstd``, several
            encodings): the body would otherwise be read as garbage.
    """

    __slots__ = ("_inflater", "_started", "identity")

    def __init__(self, encoding: str | None) -> None:
        name = (encoding or "").strip().lower()
        self.identity = name in ("", "identity")
        self._started = False
        self._inflater: Any = None
        if self.identity:
            return
        if name not in ("gzip", "x-gzip", "deflate"):
            raise DifyError(
                f"the server sent a body with Content-Encoding {_excerpt_header(name)!r}, "
                "which this client cannot decode (it asks for gzip or deflate only)"
            )
        self._inflater = zlib.decompressobj(_GZIP_OR_ZLIB)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of ``data``, in pieces of at most `PIECE` bytes."""
        if self.identity:
            if data:
                yield data
            return
        try:
            while data:
                inflater = self._inflater
                try:
                    piece = inflater.decompress(data, PIECE)
                except zlib.error:
                    if self._started:
                        raise
                    # "deflate" sent as a raw stream, without the zlib header.
                    self._inflater = inflater = zlib.decompressobj(_RAW_DEFLATE)
                    piece = inflater.decompress(data, PIECE)
                self._started = True
                if piece:
                    yield piece
                if inflater.unconsumed_tail:
                    data = inflater.unconsumed_tail
                elif inflater.eof and inflater.unused_data:
                    # The next member of a multi-member gzip body.
                    data = inflater.unused_data
                    self._inflater = zlib.decompressobj(_GZIP_OR_ZLIB)
                else:
                    data = b""
        except zlib.error as exc:
            raise DifyError(f"the server sent a body that does not decompress ({exc})") from None

    def flush(self) -> bytes:
        """What the inflater still holds at the end of the body."""
        if self.identity or self._inflater is None:
            return b""
        return bytes(self._inflater.flush())


def _excerpt_header(value: str) -> str:
    """A header value cut short for an error message."""
    return value if len(value) <= 40 else value[:40] + "..."


class BodyBuffer:
    """Collects a whole blocking body, decoded, and refuses it past ``limit`` bytes.

    Args:
        encoding: The body's ``Content-Encoding``.
        limit: The most decoded bytes accepted.
    """

    __slots__ = ("_decoder", "_limit", "_parts", "_size")

    def __init__(self, encoding: str | None, limit: int) -> None:
        self._decoder = BodyDecoder(encoding)
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        """Add the next raw (still encoded) chunk.

        Raises:
            ResponseTooLargeError: Past the limit (what was read so far is dropped).
        """
        for piece in self._decoder.feed(chunk):
            self._keep(piece)

    def _keep(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self._limit:
            self._parts.clear()
            raise body_too_large(self._limit)
        self._parts.append(piece)

    def finish(self) -> bytes:
        """The whole decoded body."""
        tail = self._decoder.flush()
        if tail:
            self._keep(tail)
        parts = self._parts
        return parts[0] if len(parts) == 1 else b"".join(parts)


def read_body(chunks: Iterable[bytes], encoding: str | None, limit: int) -> bytes:
    """A whole blocking body read from ``chunks`` with a `BodyBuffer`."""
    buffer = BodyBuffer(encoding, limit)
    for chunk in chunks:
        buffer.add(chunk)
    return buffer.finish()


def body_too_large(limit: int) -> ResponseTooLargeError:
    """The error for a blocking body past ``Limits.max_body_bytes``."""
    return ResponseTooLargeError(
        f"the response body is larger than {limit} bytes once decoded "
        "(Limits.max_body_bytes); it was not read further",
        limit=limit,
    )
