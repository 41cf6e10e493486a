"""Property tests: random splits and random garbage never hang the stream pipeline.

The pipeline under test is the one both clients share (``SSEDecoder`` -> frame parsing ->
event queue -> reducer, then end-of-stream); only the socket is left out. Whatever bytes
arrive, in whatever pieces, it finishes and raises nothing but a ``DifyError``.
"""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dify_integrations import DifyError, Timeout
from dify_integrations.core import operations as ops
from dify_integrations.core.sse import SSEDecoder
from dify_integrations.core.stream import _StreamCore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dify"
STREAMS = {p.name: p.read_bytes() for p in sorted(FIXTURES.glob("*.sse"))}
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _run_pipeline(pieces: list[bytes]) -> int:
    """Feed the pieces through the shared stream core; return how many events came out."""
    core = _StreamCore(ops.chat_message("q", user="u"), Timeout())
    count = 0
    for piece in pieces:
        core._consume(piece)
        while core._next_ready() is not None:
            count += 1
    core._on_eof()
    return count


@PROPERTY
@given(
    name=st.sampled_from(sorted(STREAMS)),
    cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=40),
)
def test_any_split_of_a_fixture_gives_the_same_frames(name: str, cuts: list[int]) -> None:
    data = STREAMS[name]
    whole = SSEDecoder().feed(data)
    decoder = SSEDecoder()
    split = [frame for piece in _pieces(data, cuts) for frame in decoder.feed(piece)]
    assert split == whole
    assert not decoder.pending


@PROPERTY
@given(
    prefix=st.sampled_from(sorted(STREAMS)),
    garbage=st.binary(max_size=400)
    | st.text(alphabet=st.sampled_from(list('data: event{}"\r\n:ping[]')), max_size=200).map(
        str.encode
    ),
    position=st.integers(min_value=0, max_value=20_000),
    cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=30),
)
def test_garbage_anywhere_raises_only_dify_errors(
    prefix: str, garbage: bytes, position: int, cuts: list[int]
) -> None:
    data = STREAMS[prefix]
    at = position % (len(data) + 1)
    body = data[:at] + garbage + data[at:]
    # a malformed frame, an error event, or a stream cut short: all typed as DifyError
    with contextlib.suppress(DifyError):
        _run_pipeline(_pieces(body, cuts))


@PROPERTY
@given(garbage=st.binary(max_size=2_000), cuts=st.lists(st.integers(0, 2_000), max_size=30))
def test_pure_garbage_raises_only_dify_errors(garbage: bytes, cuts: list[int]) -> None:
    with contextlib.suppress(DifyError):
        _run_pipeline(_pieces(garbage, cuts))
