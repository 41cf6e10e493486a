"""Faults inside an SSE stream, and a 10 MB answer that must arrive intact.

Every streaming component (the core's folding calls and every adapter's representative
call, sync and async) against a stream that is cut (aborted or ended early), carries an
``error`` event, carries a malformed frame, or stalls with keep-alive pings only. The call
must raise (nothing partial returned as complete; the LlamaIndex workflow tool returns
the ``error`` event as an ``is_error`` output, as documented), the POST must have reached
the server exactly once (a stream is never retried after its first event, whatever
``max_retries``), and no connection may be left open.
"""

from __future__ import annotations

import hashlib

import pytest

from dify_integrations import APIConnectionError, APITimeoutError, DifyError, StreamError
from dify_integrations.core.config import Timeout

from ._subjects import BIG_ANSWER, BIG_BYTES, STREAMING, Subject
from .conftest import Rig

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

streaming = pytest.mark.parametrize("subject", STREAMING, ids=str)


def assert_sent_once(rig: Rig, subject: Subject) -> None:
    """The creating POST reached the server once and created exactly one thing."""
    assert rig.posts(subject) == 1
    assert rig.created_once()


@streaming
def test_connection_aborted_mid_stream(rig: Rig, subject: Subject) -> None:
    rig.fault(subject, "drop_after", after_events=2)
    exc = rig.fail(subject, rig.call(subject, max_retries=2), APIConnectionError)
    assert not isinstance(exc, APITimeoutError)
    assert_sent_once(rig, subject)


@streaming
def test_stream_ending_without_its_final_event(rig: Rig, subject: Subject) -> None:
    rig.fault(subject, "drop_after", after_events=2, clean=True)
    exc = rig.fail(subject, rig.call(subject, max_retries=2), APIConnectionError)
    assert "final event" in exc.message
    assert_sent_once(rig, subject)


@streaming
def test_error_event_mid_stream_raises_stream_error(rig: Rig, subject: Subject) -> None:
    rig.fault(
        subject,
        "error_event",
        after_events=2,
        status=400,
        code="completion_request_error",
        message="[models] Quota exceeded",
    )
    exc = rig.fail(subject, rig.call(subject, max_retries=2), StreamError)
    assert exc.code == "completion_request_error"
    assert exc.status == 400
    assert exc.message == "[models] Quota exceeded"
    assert_sent_once(rig, subject)


@streaming
def test_malformed_frame_raises_an_error_naming_it(rig: Rig, subject: Subject) -> None:
    rig.fault(subject, "malformed", after_events=2)
    exc = rig.fail(subject, rig.call(subject, max_retries=2), DifyError)
    assert not isinstance(exc, StreamError | APIConnectionError)
    assert "malformed" in str(exc)
    assert "unterminated" in str(exc)  # the offending frame is named
    assert_sent_once(rig, subject)


PING_ONLY = Timeout(connect=5.0, read=30.0, stream_idle=5.0, stream_total_idle=0.3)


@streaming
def test_stream_stalling_with_pings_only_times_out(rig: Rig, subject: Subject) -> None:
    # Pings every 50 ms keep the socket busy (stream_idle is never reached); only the
    # bound on time without a real event can end the wait.
    rig.fault(subject, "stall", after_events=1, duration=30.0, ping_interval=0.05)
    exc = rig.fail(subject, rig.call(subject, max_retries=2, timeout=PING_ONLY), APITimeoutError)
    assert "ping" in exc.message
    assert_sent_once(rig, subject)


SILENT = Timeout(connect=5.0, read=30.0, stream_idle=0.3, stream_total_idle=60.0)


@streaming
def test_stream_going_silent_hits_the_read_timeout_between_events(
    rig: Rig, subject: Subject
) -> None:
    rig.fault(subject, "stall", after_events=1, duration=2.0, ping_interval=60.0)  # no pings
    exc = rig.fail(subject, rig.call(subject, max_retries=2, timeout=SILENT), APITimeoutError)
    assert exc.request_sent is True
    assert_sent_once(rig, subject)


def test_big_answer_is_at_least_10_mb() -> None:
    assert len(BIG_ANSWER.encode("utf-8")) >= BIG_BYTES
    assert len({ord(c).bit_length() > 7 for c in BIG_ANSWER}) == 2  # multi-byte characters too


@streaming
def test_10_mb_answer_arrives_intact(rig: Rig, subject: Subject) -> None:
    outcome = rig.run(subject, rig.call(subject, max_retries=0, big=True))
    assert outcome.error is None
    assert len(outcome.text) == len(BIG_ANSWER)
    assert hashlib.sha256(outcome.text.encode()).digest() == (
        hashlib.sha256(BIG_ANSWER.encode()).digest()
    )
    assert_sent_once(rig, subject)
