"""Bodies a hostile server or proxy sends: compression, size, nesting, cuts (issue 12).

* §1: a proxy compresses the SSE stream (gzip or deflate) whatever the client asked:
  every streaming call still reads it, sync and async; streams ask for ``identity``.
* §5: a line that never ends, a frame of endless ``data:`` lines and a gzip bomb (in a
  stream and in a blocking body) raise `ResponseTooLargeError` at the configured bound,
  and the SSE decoder stays linear on a long line fed in small chunks.
* §7: an idempotent GET whose body is cut is retried by both clients.
* §8: a JSON nesting bomb in a blocking body, an error body or a stream frame is a
  `DifyError`, never a raw ``RecursionError``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib

import pytest

from dify_integrations import (
    APIStatusError,
    DifyError,
    Limits,
    ResponseTooLargeError,
    StreamDecodeError,
)
from dify_integrations.core.sse import SSEDecoder

from ._hostile import (
    INFO,
    KEY,
    SSE_HEADERS,
    Seen,
    call,
    chat_stream,
    frame,
    head,
    hostile,
    send_json,
    workflow_stream,
)
from ._subjects import Mode

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

ANSWER = ("Do NOT ", "delete ", "the backups.")


def _compressor(encoding: str) -> zlib._Compress:
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    return zlib.compressobj(6, zlib.DEFLATED, wbits)


def _compressing_proxy(body: bytes, encoding: str, pieces: int = 7) -> bytes:
    """What a compressing proxy sends: the body compressed and flushed piece by piece."""
    comp = _compressor(encoding)
    step = max(1, len(body) // pieces)
    out = b"".join(
        comp.compress(body[i : i + step]) + comp.flush(zlib.Z_SYNC_FLUSH)
        for i in range(0, len(body), step)
    )
    return out + comp.flush()


# ------------------------------------------------------------------------ §1 compression


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("operation", ["send_chat_message", "run_workflow"])
def test_a_stream_compressed_by_a_proxy_is_read_whole(
    mode: Mode, encoding: str, operation: str
) -> None:
    text = "".join(ANSWER)
    body = chat_stream(*ANSWER) if operation == "send_chat_message" else workflow_stream(text)

    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(head(200, {**SSE_HEADERS, "Content-Encoding": encoding}))
        writer.write(_compressing_proxy(body, encoding))
        await writer.drain()
        return False

    with hostile(handler) as server:
        arg = "hi" if operation == "send_chat_message" else {"q": "hi"}
        result = call(mode, server.base_url, operation, arg)
    if operation == "send_chat_message":
        assert result.answer == text
        assert result.metadata.usage.total_tokens == 7
    else:
        assert result.data.outputs == {"answer": text}
    # A stream asks for no compression (a compressing proxy would buffer its events).
    assert server.requests[0].headers["accept-encoding"] == "identity"


def test_a_compressed_blocking_body_is_decoded(mode: Mode) -> None:
    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        return await send_json(
            writer, gzip.compress(json.dumps(INFO).encode()), headers={"Content-Encoding": "gzip"}
        )

    with hostile(handler) as server:
        assert call(mode, server.base_url, "get_info").name == "Hostile"
    assert "gzip" in server.requests[0].headers["accept-encoding"]


def test_an_encoding_the_client_cannot_decode_is_a_clear_error(mode: Mode) -> None:
    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(head(200, {**SSE_HEADERS, "Content-Encoding": "br"}))
        writer.write(b"\x1b\x03\x00garbage")
        await writer.drain()
        return False

    with hostile(handler) as server, pytest.raises(DifyError, match="Content-Encoding 'br'"):
        call(mode, server.base_url, "send_chat_message", "hi")


# ------------------------------------------------------------------------ §5 size bounds

SMALL = Limits(max_frame_bytes=64 * 1024, max_body_bytes=256 * 1024)


@pytest.mark.parametrize("shape", ["endless_line", "endless_frame", "gzip_bomb_line"])
def test_a_stream_past_the_frame_bound_raises(mode: Mode, shape: str) -> None:
    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        headers = dict(SSE_HEADERS)
        if shape == "gzip_bomb_line":
            headers["Content-Encoding"] = "gzip"
        writer.write(head(200, headers))
        first = frame({"event": "message", "task_id": "t", "answer": "a"})
        if shape == "gzip_bomb_line":
            comp = _compressor("gzip")
            # 64 MiB of one line in about 64 KiB of gzip: inflating it whole would be the bomb.
            line = b"data: " + b"x" * (64 << 20)
            writer.write(comp.compress(first) + comp.compress(line) + comp.flush())
        else:
            writer.write(first)
            piece = b"x" * 4096 if shape == "endless_line" else b"data: " + b"x" * 4090 + b"\n"
            for _ in range(1024):  # 4 MiB, far past the 64 KiB bound
                writer.write(piece)
                await writer.drain()
        await writer.drain()
        return False

    with hostile(handler) as server, pytest.raises(ResponseTooLargeError) as info:
        call(mode, server.base_url, "send_chat_message", "hi", client={"limits": SMALL})
    assert info.value.limit == SMALL.max_frame_bytes
    assert "max_frame_bytes" in str(info.value)


@pytest.mark.parametrize("encoding", ["gzip", None])
def test_a_blocking_body_past_the_body_bound_raises(mode: Mode, encoding: str | None) -> None:
    big = json.dumps({"name": "x" * (16 << 20)}).encode()  # 16 MiB decoded
    body = gzip.compress(big) if encoding else big  # the gzip form is about 16 KiB

    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        headers = {"Content-Encoding": encoding} if encoding else {}
        return await send_json(writer, body, headers=headers)

    with hostile(handler) as server, pytest.raises(ResponseTooLargeError, match="max_body_bytes"):
        call(mode, server.base_url, "get_info", client={"limits": SMALL})


def test_default_limits_are_finite_and_generous() -> None:
    limits = Limits()
    assert limits.max_frame_bytes == 64 << 20
    assert limits.max_body_bytes == 128 << 20
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            Limits(max_frame_bytes=bad)  # type: ignore[arg-type]


@pytest.mark.timeout(60)  # a quadratic decoder takes minutes here (it re-copies the line)
def test_the_sse_decoder_is_linear_in_a_long_line_fed_in_small_chunks() -> None:
    decoder = SSEDecoder(max_frame_bytes=64 << 20)
    piece = b"x" * 1024
    decoder.feed(b"data: ")
    for _ in range(48 * 1024):  # a 48 MiB line in 1 KiB chunks
        assert decoder.feed(piece) == []
    frames = decoder.feed(b"\n\n")
    assert len(frames) == 1
    assert frames[0].data is not None
    assert len(frames[0].data) == 48 << 20


# ------------------------------------------------------------------------ §7 cut bodies


def test_an_idempotent_get_with_a_cut_body_is_retried(mode: Mode) -> None:
    body = json.dumps(INFO).encode()

    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        if len(server.requests) == 1:  # the first answer is cut after 10 bytes
            writer.write(head(200, {"Content-Type": "application/json"}, length=len(body)))
            writer.write(body[:10])
            await writer.drain()
            return False
        return await send_json(writer, body)

    with hostile(handler) as server:
        info = call(mode, server.base_url, "get_info", client={"max_retries": 2})
    assert info.name == "Hostile"
    assert server.paths("GET") == ["/v1/info", "/v1/info"]


def test_a_creating_post_with_a_cut_body_is_not_resent(mode: Mode) -> None:
    body = json.dumps({"answer": "x", "message_id": "m"}).encode()

    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        writer.write(head(200, {"Content-Type": "application/json"}, length=len(body)))
        writer.write(body[:5])
        await writer.drain()
        return False

    with hostile(handler) as server, pytest.raises(DifyError):
        call(
            mode,
            server.base_url,
            "send_chat_message",
            "hi",
            response_mode="blocking",
            client={"max_retries": 2},
        )
    assert server.paths("POST") == ["/v1/chat-messages"]


# ------------------------------------------------------------------------ §8 nesting bombs

BOMB = b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize("where", ["blocking_body", "error_body", "stream_frame", "json_answer"])
def test_a_json_nesting_bomb_is_a_dify_error(mode: Mode, where: str) -> None:
    async def handler(
        seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        if where == "blocking_body":
            return await send_json(writer, BOMB)
        if where == "error_body":
            return await send_json(writer, BOMB, status=400)
        if where == "json_answer":  # a streaming request answered with one JSON body
            return await send_json(writer, b'{"answer": ' + BOMB + b"}")
        writer.write(head(200, SSE_HEADERS))
        writer.write(b"data: " + BOMB + b"\n\n")
        await writer.drain()
        return False

    operation = "get_info" if where.endswith("body") else "send_chat_message"
    args = () if operation == "get_info" else ("hi",)
    with hostile(handler) as server, pytest.raises(DifyError) as info:
        call(mode, server.base_url, operation, *args)
    assert not isinstance(info.value.__cause__, RecursionError)
    if where == "stream_frame":
        assert isinstance(info.value, StreamDecodeError)
    elif where != "json_answer":
        assert isinstance(info.value, APIStatusError)
    assert KEY not in str(info.value)
