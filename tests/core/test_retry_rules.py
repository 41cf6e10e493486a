"""Each retry rule of DESIGN §4, proven with the local server's fault injection (sync and async)."""

from __future__ import annotations

import time
from typing import Any

import pytest

import dify_integrations as di
from dify_integrations.testing import DifyTestServer

pytestmark = pytest.mark.timeout(60)


def _requests(server: DifyTestServer, route: str, since: int) -> list[Any]:
    return [r for r in server.request_log[since:] if r.route == route]


def test_429_retry_after_one_second_succeeds_on_the_second_attempt(
    apps: Any, make_runner: Any
) -> None:
    server = apps.server
    server.inject_fault("/chat-messages", "status", status=429, retry_after=1, count=1)
    since = len(server.request_log)
    started = time.monotonic()
    reply = make_runner(apps.chat_key, user="rita", max_retries=2)("send_chat_message", "hi")
    waited = time.monotonic() - started
    assert reply.answer
    attempts = _requests(server, "/chat-messages", since)
    assert len(attempts) == 2
    assert attempts[0].status == 429  # the second one's status is logged when its stream ends
    # Retry-After is a floor the client must honour (a lower bound, not a speed target).
    assert waited >= 1.0
    assert attempts[1].time - attempts[0].time >= 1.0


def test_chat_post_whose_response_times_out_reaches_the_server_once(
    apps: Any, make_runner: Any
) -> None:
    server = apps.server
    server.inject_fault("/chat-messages", "delay", delay=1.5, count=3)
    since = len(server.request_log)
    timeout = di.Timeout(connect=2, read=0.3, stream_idle=0.3, stream_total_idle=5)
    runner = make_runner(apps.chat_key, user="sol", timeout=timeout, max_retries=3)
    with pytest.raises(di.APITimeoutError):
        runner("send_chat_message", "hello", response_mode="blocking")
    with pytest.raises(di.APITimeoutError):
        runner("send_chat_message", "hello")
    assert len(_requests(server, "/chat-messages", since)) == 2  # one per call, never resent


def test_get_after_503_is_retried(apps: Any, make_runner: Any) -> None:
    server = apps.server
    server.inject_fault("/info", "status", status=503, retry_after=0, count=1)
    since = len(server.request_log)
    info = make_runner(apps.chat_key, max_retries=2)("get_info")
    assert info.name == "Support"
    assert [r.status for r in _requests(server, "/info", since)] == [503, 200]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, di.BadRequestError),
        (401, di.AuthenticationError),
        (403, di.PermissionDeniedError),
        (404, di.NotFoundError),
    ],
)
def test_client_errors_are_never_retried(
    apps: Any, make_runner: Any, status: int, error: type[di.APIStatusError]
) -> None:
    server = apps.server
    server.inject_fault("/info", "status", status=status, count=3)
    since = len(server.request_log)
    with pytest.raises(error) as info:
        make_runner(apps.chat_key, max_retries=3)("get_info")
    assert info.value.status_code == status
    assert len(_requests(server, "/info", since)) == 1
