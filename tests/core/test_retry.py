"""The pure retry decision, Retry-After parsing and backoff."""

from __future__ import annotations

import email.utils
import random

import pytest
from tenacity import AsyncRetrying, Retrying

import dify_integrations as di
from dify_integrations.core import operations as ops
from dify_integrations.core.retry import (
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
    RetryPolicy,
    backoff_delay,
    parse_retry_after,
    retry_delay,
    should_retry,
)

CHAT = ops.chat_message("hi", user="u")
CHAT_BLOCKING = ops.chat_message("hi", user="u", response_mode="blocking")
WORKFLOW = ops.run_workflow({}, user="u")
COMPLETION = ops.completion_message({}, user="u")
UPLOAD = ops.upload_file(b"x", filename="a.txt", user="u")
CREATING = [CHAT, CHAT_BLOCKING, WORKFLOW, COMPLETION, UPLOAD]
IDEMPOTENT = [
    ops.get_parameters(),
    ops.get_workflow_run("0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"),
    ops.list_datasets(),
    ops.retrieve("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d", "q"),
    ops.stop_task("chat", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", user="u"),
    ops.stop_task("workflow", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", user="u"),
]


def status(code: int, **kwargs: object) -> di.APIStatusError:
    from dify_integrations.core.errors import status_error_class

    return status_error_class(code)("x", status_code=code, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("op", CREATING + IDEMPOTENT, ids=lambda o: o.name)
def test_connection_failure_before_send_is_always_retried(op: ops.Operation) -> None:
    assert should_retry(di.APIConnectionError("refused", request_sent=False), op)
    assert should_retry(di.APITimeoutError("connect", request_sent=False), op)
    assert should_retry(status(429), op)


@pytest.mark.parametrize("op", CREATING, ids=lambda o: o.name)
def test_creating_posts_are_never_resent_once_the_server_may_have_them(op: ops.Operation) -> None:
    assert not op.idempotent
    for code in (500, 502, 503, 504):
        assert not should_retry(status(code), op)
    assert not should_retry(di.APIConnectionError("reset", request_sent=True), op)
    assert not should_retry(di.APITimeoutError("read", request_sent=True), op)


@pytest.mark.parametrize("op", IDEMPOTENT, ids=lambda o: o.name)
def test_idempotent_calls_retry_gateway_errors_and_timeouts(op: ops.Operation) -> None:
    assert op.idempotent
    for code in (502, 503, 504):
        assert should_retry(status(code), op)
    assert not should_retry(status(500), op)
    assert should_retry(di.APITimeoutError("read", request_sent=True), op)
    assert should_retry(di.APIConnectionError("reset", request_sent=True), op)


@pytest.mark.parametrize("op", CREATING + IDEMPOTENT, ids=lambda o: o.name)
def test_client_errors_and_stream_errors_are_not_retried(op: ops.Operation) -> None:
    for code in (400, 401, 403, 404, 413, 415):
        assert not should_retry(status(code), op)
    assert not should_retry(di.StreamError("x", code="c", status=500), op)
    assert not should_retry(ValueError("x"), op)


def test_concurrency_cap_400_is_treated_as_rate_limit() -> None:
    cap = di.BadRequestError(
        "Too many requests. Please try again later. The current maximum concurrent requests "
        "allowed for app is 1.",
        status_code=400,
        code="invalid_param",
    )
    assert should_retry(cap, CHAT)


def test_parse_retry_after_seconds_dates_and_caps() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("100000") == MAX_RETRY_AFTER
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    now = 1_767_225_600.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(7.0, abs=1.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0
    far = email.utils.formatdate(now + 3600, usegmt=True)
    assert parse_retry_after(far, now=now) == MAX_RETRY_AFTER


def test_retry_delay_prefers_retry_after_then_backs_off() -> None:
    assert retry_delay(status(429, response_headers={"Retry-After": "2"}), 1) == 2.0
    assert retry_delay(status(429, response_headers={"retry-after-ms": "250"}), 1) == 0.25
    delays = [retry_delay(status(503), n) for n in (1, 2, 3)]
    assert all(d > 0 for d in delays)
    assert delays[0] <= 0.5 < delays[2]


def test_backoff_is_exponential_with_bounded_jitter() -> None:
    rng = random.Random(1)
    for attempt in range(1, 10):
        base = min(MAX_BACKOFF, 0.5 * 2 ** (attempt - 1))
        value = backoff_delay(attempt, rng=rng)
        assert base * 0.75 <= value <= base
    values = {backoff_delay(3, rng=rng) for _ in range(20)}
    assert len(values) > 1


def test_policy_shares_strategies_between_sync_and_async() -> None:
    policy = RetryPolicy(2)
    sync, asyn = policy.retrying(), policy.async_retrying()
    assert isinstance(sync, Retrying)
    assert isinstance(asyn, AsyncRetrying)
    assert sync.retry is asyn.retry
    assert sync.wait is asyn.wait
    assert sync.stop is asyn.stop
    assert sync.stop is policy.retrying().stop


def test_policy_retries_only_what_should_retry_allows() -> None:
    calls: list[int] = []

    def flaky(op: ops.Operation) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise status(429, response_headers={"Retry-After": "0"})
        return "ok"

    assert RetryPolicy(2).call(flaky, CHAT) == "ok"
    assert len(calls) == 3

    calls.clear()

    def always_502(op: ops.Operation) -> str:
        calls.append(1)
        raise status(502, response_headers={"Retry-After": "0"})

    with pytest.raises(di.InternalServerError):
        RetryPolicy(2).call(always_502, CHAT)
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(di.InternalServerError):
        RetryPolicy(2).call(always_502, ops.get_info())
    assert len(calls) == 3
