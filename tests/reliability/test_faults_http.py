"""Faults before any answer: 429, 5xx, refused and dropped connections, slow servers.

Every public component (the core on each operation, the four LangChain and the four
LlamaIndex adapters), sync and async, against the same fault. Each test checks the
documented outcome, how many POSTs reached the server, and (for messages and workflow
runs) how many the server created: a POST that creates something is never resent once the
server may have received it; 429 is always safe to retry; 502/503/504 and timeouts are
retried only for idempotent operations (retrieve).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from dify_integrations import (
    APIConnectionError,
    APITimeoutError,
    AsyncDifyClient,
    DifyClient,
    InternalServerError,
    RateLimitError,
)
from dify_integrations.core.config import Timeout

from ._subjects import (
    ALL,
    CHAT,
    COMPLETION,
    CORE,
    CREATING,
    IDEMPOTENT,
    Call,
    Mode,
    Outcome,
    Subject,
)
from .conftest import Rig, closed_port

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

subjects = pytest.mark.parametrize("subject", ALL, ids=str)
creating = pytest.mark.parametrize("subject", CREATING, ids=str)
idempotent = pytest.mark.parametrize("subject", IDEMPOTENT, ids=str)


def assert_answer(rig: Rig, subject: Subject, outcome: Outcome, query: str) -> None:
    """The call succeeded with the app's whole answer, created once."""
    assert outcome.error is None
    if subject.family.name == "retrieve":
        assert subject.family.expected(query) in outcome.text
        return
    assert outcome.text == subject.family.expected(query)
    assert rig.created_once()
    if subject.family is CHAT:  # one conversation holding one message
        assert outcome.conversation_id
        assert rig.server.message_count(outcome.conversation_id) == 1


@subjects
def test_429_with_retry_after_is_retried_until_success(rig: Rig, subject: Subject) -> None:
    rig.fault(subject, "status", status=429, retry_after=0, code="too_many_requests", count=2)
    call = rig.call(subject, max_retries=2)
    assert_answer(rig, subject, rig.run(subject, call), call.query)
    assert rig.posts(subject) == 3


@subjects
def test_429_without_retry_after_backs_off_then_succeeds(rig: Rig, subject: Subject) -> None:
    rig.fault(subject, "status", status=429, code="too_many_requests", count=1)
    call = rig.call(subject, max_retries=1)
    assert_answer(rig, subject, rig.run(subject, call), call.query)
    assert rig.posts(subject) == 2


@subjects
def test_429_beyond_max_retries_raises_rate_limit_error(rig: Rig, subject: Subject) -> None:
    rig.fault(
        subject,
        "status",
        status=429,
        retry_after=0,
        code="rate_limit_exceeded",
        message="Rate limit exceeded",
        count=3,
    )
    exc = rig.fail(subject, rig.call(subject, max_retries=1), RateLimitError)
    assert exc.status_code == 429
    assert exc.code == "rate_limit_exceeded"
    assert exc.message == "Rate limit exceeded"
    assert rig.posts(subject) == 2
    assert rig.created() == 0


@subjects
def test_500_is_raised_and_never_retried(rig: Rig, subject: Subject) -> None:
    rig.fault(subject, "status", status=500, retry_after=0, count=3)
    exc = rig.fail(subject, rig.call(subject, max_retries=2), InternalServerError)
    assert exc.status_code == 500
    assert exc.code == "internal_server_error"
    assert rig.posts(subject) == 1
    assert rig.created() == 0


@creating
@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_error_on_a_creating_post_is_raised_not_resent(
    rig: Rig, subject: Subject, status: int
) -> None:
    rig.fault(subject, "status", status=status, retry_after=0, code=f"gateway_{status}", count=3)
    exc = rig.fail(subject, rig.call(subject, max_retries=2), InternalServerError)
    assert exc.status_code == status
    assert exc.code == f"gateway_{status}"
    assert rig.posts(subject) == 1
    assert rig.created() == 0


@idempotent
@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_error_on_retrieve_is_retried_until_success(
    rig: Rig, subject: Subject, status: int
) -> None:
    rig.fault(subject, "status", status=status, retry_after=0, count=2)
    call = rig.call(subject, max_retries=2)
    assert_answer(rig, subject, rig.run(subject, call), call.query)
    assert rig.posts(subject) == 3


@idempotent
def test_gateway_error_on_retrieve_beyond_max_retries_raises(rig: Rig, subject: Subject) -> None:
    rig.fault(subject, "status", status=503, count=2)  # no Retry-After: exponential backoff
    exc = rig.fail(subject, rig.call(subject, max_retries=1), InternalServerError)
    assert exc.status_code == 503
    assert exc.code == "service_unavailable"
    assert rig.posts(subject) == 2


@subjects
def test_connection_refused_raises_connection_error(rig: Rig, subject: Subject) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    retries = 1 if subject in CORE else 0  # retried (safe: nothing was sent), but unobservable
    exc = rig.fail(
        subject, rig.call(subject, max_retries=retries, base_url=dead), APIConnectionError
    )
    assert not isinstance(exc, APITimeoutError)
    assert exc.request_sent is False
    assert rig.posts(subject) == 0


@creating
def test_connection_dropped_before_the_response_is_not_resent(rig: Rig, subject: Subject) -> None:
    rig.fault(subject, "drop", count=3)
    exc = rig.fail(subject, rig.call(subject, max_retries=2), APIConnectionError)
    assert exc.request_sent is True
    assert rig.posts(subject) == 1
    assert rig.created() == 0


@idempotent
def test_connection_dropped_before_the_response_of_retrieve_is_retried(
    rig: Rig, subject: Subject
) -> None:
    rig.fault(subject, "drop", count=1)
    call = rig.call(subject, max_retries=1)
    assert_answer(rig, subject, rig.run(subject, call), call.query)
    assert rig.posts(subject) == 2


SLOW_READ = Timeout(connect=5.0, read=0.25, stream_idle=0.25, stream_total_idle=60.0)


@creating
def test_read_timeout_on_a_creating_post_is_raised_not_resent(rig: Rig, subject: Subject) -> None:
    rig.fault(subject, "delay", delay=1.5, count=3)
    exc = rig.fail(subject, rig.call(subject, max_retries=2, timeout=SLOW_READ), APITimeoutError)
    assert exc.request_sent is True
    assert rig.posts(subject) == 1
    assert rig.created() <= 1  # the server may still answer the abandoned request, once


@idempotent
def test_read_timeout_on_retrieve_is_retried_until_success(rig: Rig, subject: Subject) -> None:
    rig.fault(subject, "delay", delay=2.0, count=1)
    roomy = Timeout(connect=5.0, read=0.5, stream_idle=0.5, stream_total_idle=60.0)
    call = rig.call(subject, max_retries=1, timeout=roomy)  # room for the retry to answer
    assert_answer(rig, subject, rig.run(subject, call), call.query)
    assert rig.posts(subject) == 2


@pytest.mark.parametrize("subject", [s for s in CORE if s.family.creates], ids=str)
def test_concurrency_cap_400_is_retried_like_a_429(rig: Rig, subject: Subject) -> None:
    # Dify's per-app cap answers 400 invalid_param "Too many requests..." before doing
    # anything, so resending is safe (backoff: Dify sends no Retry-After).
    rig.fault(
        subject,
        "status",
        status=400,
        code="invalid_param",
        message="Too many requests. Please try again later.",
        count=1,
    )
    call = rig.call(subject, max_retries=1)
    assert_answer(rig, subject, rig.run(subject, call), call.query)
    assert rig.posts(subject) == 2


def _twice(mode: Mode, subject: Subject, call: Call, between: Callable[[], object]) -> None:
    """Two calls on ONE client (the second on a pooled connection), ``between`` in between."""

    def once(client: Any) -> Any:
        if subject.family is CHAT:
            return client.send_chat_message(call.query)
        if subject.family is COMPLETION:
            return client.send_completion({"query": call.query})
        return client.run_workflow({"text": call.query})

    kwargs: dict[str, Any] = {
        "base_url": call.base_url,
        "user": call.user,
        "timeout": call.timeout,
        "max_retries": call.max_retries,
    }
    if mode == "sync":
        with DifyClient(call.api_key, **kwargs) as client:
            once(client)
            between()
            once(client)
        return

    async def go() -> None:
        async with AsyncDifyClient(call.api_key, **kwargs) as client:
            await once(client)
            between()
            await once(client)

    asyncio.run(go())


@pytest.mark.parametrize("subject", [s for s in CORE if s.family.creates], ids=str)
def test_connection_dropped_on_a_pooled_connection_is_not_resent(
    rig: Rig, subject: Subject
) -> None:
    # HTTP libraries resend some requests by themselves when a kept-alive connection turns
    # out dead (aiohttp does for idempotent methods); a creating POST must not be one.
    call = rig.call(subject, max_retries=2)
    with pytest.raises(APIConnectionError):
        _twice(rig.mode, subject, call, lambda: rig.fault(subject, "drop", count=3))
    assert rig.posts(subject) == 2  # the first call, and the dropped one once
    assert rig.created_once()
