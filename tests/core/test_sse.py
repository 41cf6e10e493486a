"""The SSE decoder fed with every fixture in every split."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from dify_integrations.core.sse import SSEDecoder, SSEFrame

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dify"
SSE_FILES = sorted(FIXTURES.glob("*.sse"))


def decode(*chunks: bytes) -> list[SSEFrame]:
    decoder = SSEDecoder()
    frames: list[SSEFrame] = []
    for chunk in chunks:
        frames.extend(decoder.feed(chunk))
    assert not decoder.pending
    return frames


def reference(data: bytes) -> list[SSEFrame]:
    """Frames computed independently of the decoder, from the fixture's known framing."""
    frames = []
    for block in data.decode("utf-8").split("\n\n"):
        if not block:
            continue
        if block == "event: ping":
            frames.append(SSEFrame("ping", None))
        else:
            assert block.startswith("data: ")
            frames.append(SSEFrame(None, block[len("data: ") :]))
    return frames


@pytest.mark.parametrize("path", SSE_FILES, ids=lambda p: p.name)
def test_whole_fixture_matches_reference(path: Path) -> None:
    data = path.read_bytes()
    frames = decode(data)
    assert frames == reference(data)
    for frame in frames:
        if frame.data is not None:
            assert isinstance(json.loads(frame.data)["event"], str)
        else:
            assert frame.event == "ping"
            assert frame.is_ping


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
@pytest.mark.parametrize("path", SSE_FILES, ids=lambda p: p.name)
def test_every_split_offset(path: Path, newline: bytes) -> None:
    original = path.read_bytes()
    expected = reference(original)
    data = original.replace(b"\n", newline)
    for offset in range(len(data) + 1):
        assert decode(data[:offset], data[offset:]) == expected, offset


@pytest.mark.parametrize("path", SSE_FILES, ids=lambda p: p.name)
def test_random_multi_splits_and_mixed_newlines(path: Path) -> None:
    original = path.read_bytes()
    expected = reference(original)
    rng = random.Random(path.name)
    for _ in range(40):
        # Each line ending independently LF, CRLF or CR.
        pieces = original.split(b"\n")
        ends = [rng.choice([b"\n", b"\r\n", b"\r"]) for _ in pieces[:-1]]
        for i in range(1, len(ends)):
            # CR then an empty line ended by LF would read as one CRLF terminator.
            if ends[i - 1] == b"\r" and not pieces[i] and ends[i] == b"\n":
                ends[i] = b"\r\n"
        data = b"".join(p + e for p, e in zip(pieces, ends, strict=False)) + pieces[-1]
        cuts = sorted(rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(1, 60))))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert decode(*chunks) == expected


@pytest.mark.parametrize("path", SSE_FILES, ids=lambda p: p.name)
def test_byte_by_byte(path: Path) -> None:
    data = path.read_bytes()
    assert decode(*(data[i : i + 1] for i in range(len(data)))) == reference(data)


def test_utf8_character_split_across_chunks() -> None:
    payload = '{"event":"message","answer":"获取当前时间 — ok ✓"}'.encode()
    data = b"data: " + payload + b"\n\n"
    start = data.index("获".encode())
    for offset in range(start, start + 3):
        frames = decode(data[:offset], data[offset:])
        assert frames == [SSEFrame(None, payload.decode("utf-8"))]
        assert json.loads(frames[0].data or "")["answer"] == "获取当前时间 — ok ✓"


def test_ping_without_data_is_reported_and_comments_are_ignored() -> None:
    frames = decode(b": comment\n\nevent: ping\n\ndata: {}\n\n")
    assert frames == [SSEFrame("ping", None), SSEFrame(None, "{}")]


def test_multiline_data_and_no_space_after_colon() -> None:
    assert decode(b'data:{\ndata: "a": 1}\n\n') == [SSEFrame(None, '{\n"a": 1}')]


def test_incomplete_frame_stays_pending_and_no_done_sentinel_needed() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"event":"message"}\n') == []
    assert decoder.pending
    assert decoder.feed(b"\n") == [SSEFrame(None, '{"event":"message"}')]
    assert not decoder.pending
    assert decoder.feed(b"") == []


def test_cr_at_chunk_end_followed_by_lf() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r") == [SSEFrame(None, "1")]
    assert decoder.feed(b"\ndata: 2\r\n\r\n") == [SSEFrame(None, "2")]
