"""Fixtures of the reliability suite: one local server, its apps, and a leak detector.

Every test here talks real HTTP to `DifyTestServer` on loopback. After each test the
garbage collector runs and any ``ResourceWarning`` (unclosed socket, transport, aiohttp
session or connector) or aiohttp ``Unclosed ...`` report to the asyncio exception handler
fails the test: no connection may leak, whatever the fault.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.tools import ToolException

from dify_integrations.core.config import Timeout
from dify_integrations.testing import DifyTestServer
from dify_integrations.testing._faults import Fault

from ._subjects import (
    HANDBOOK,
    RETRIEVE_QUERY,
    WORKFLOW_FORM,
    Call,
    Mode,
    Outcome,
    Subject,
    big_handler,
    big_responder,
    completion_responder,
    echo_responder,
    slow_responder,
    workflow_handler,
)

#: Generous timeouts for calls that must succeed (the machine is shared and noisy).
RELAXED = Timeout(connect=5.0, read=30.0, stream_idle=30.0, stream_total_idle=60.0)


@dataclass(frozen=True)
class Apps:
    """The session server and the keys of its apps."""

    server: DifyTestServer
    chat_key: str
    completion_key: str
    workflow_key: str
    big_chat_key: str
    big_completion_key: str
    big_workflow_key: str
    slow_chat_key: str
    dataset_key: str
    dataset_id: str

    def key(self, family: str, *, big: bool = False) -> str:
        """The API key of the app serving ``family`` (``big``: the 10 MB variant)."""
        keys = {
            "chat": (self.chat_key, self.big_chat_key),
            "completion": (self.completion_key, self.big_completion_key),
            "workflow": (self.workflow_key, self.big_workflow_key),
            "retrieve": (self.dataset_key, self.dataset_key),
        }
        return keys[family][1 if big else 0]


@pytest.fixture(scope="session")
def apps() -> Iterator[Apps]:
    """One local server for the suite, with a normal and a 10 MB app per kind."""
    with DifyTestServer(ping_interval=5.0) as server:
        ds = server.create_dataset("Reliability handbook", documents=HANDBOOK)
        yield Apps(
            server=server,
            chat_key=server.create_chat_app("Echo", responder=echo_responder).api_key,
            completion_key=server.create_completion_app(
                "Completer", template="{{query}}", responder=completion_responder
            ).api_key,
            workflow_key=server.create_workflow_app(
                "Echo flow", handler=workflow_handler, user_input_form=WORKFLOW_FORM
            ).api_key,
            big_chat_key=server.create_chat_app("Big", responder=big_responder).api_key,
            big_completion_key=server.create_completion_app(
                "Big writer", template="{{query}}", responder=big_responder
            ).api_key,
            big_workflow_key=server.create_workflow_app(
                "Big flow", handler=big_handler, user_input_form=WORKFLOW_FORM
            ).api_key,
            slow_chat_key=server.create_chat_app(
                "Slow", responder=slow_responder, token_delay=0.01
            ).api_key,
            dataset_key=server.dataset_api_key,
            dataset_id=ds.id,
        )


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Mode:
    """Runs a test once through the sync and once through the async path."""
    value: Mode = request.param
    return value


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Rig:
    """One test's view of the server: faults, calls, and what reached the server."""

    apps: Apps
    mode: Mode
    user: str = field(default_factory=lambda: f"rel-{uuid.uuid4().hex[:12]}")
    start: int = 0

    def __post_init__(self) -> None:
        self.start = len(self.apps.server.request_log)

    @property
    def server(self) -> DifyTestServer:
        """The session server."""
        return self.apps.server

    def call(
        self,
        subject: Subject,
        *,
        max_retries: int,
        timeout: Timeout = RELAXED,
        big: bool = False,
        base_url: str | None = None,
    ) -> Call:
        """The settings of one call (the user is unique to this test)."""
        family = subject.family.name
        return Call(
            api_key=self.apps.key(family, big=big),
            base_url=base_url or self.server.base_url,
            user=self.user,
            timeout=timeout,
            max_retries=max_retries,
            query=RETRIEVE_QUERY if family == "retrieve" else f"question from {self.user}",
            dataset_id=self.apps.dataset_id,
        )

    def fault(self, subject: Subject, kind: str, **kwargs: Any) -> Fault:
        """Inject a fault on the subject's POST route."""
        return self.server.inject_fault(subject.family.route, kind, method="POST", **kwargs)  # type: ignore[arg-type]

    def run(self, subject: Subject, call: Call) -> Outcome:
        """Make the subject's call in this test's mode."""
        return subject.run(self.mode, call)

    def fail(self, subject: Subject, call: Call, expected: type[BaseException]) -> Any:
        """Make the call, which must fail with ``expected``; return the exception.

        The LlamaIndex workflow tool may return the error as an ``is_error`` output
        instead of raising, and the LangChain one raises a ``ToolException`` chained
        from it (their documented behaviour); anything else returned is a
        partial answer passed off as complete, and fails the test.
        """
        try:
            outcome = self.run(subject, call)
        except expected as exc:
            return exc
        except ToolException as exc:
            # The LangChain workflow tool's documented error: a ToolException (the agent
            # sees it) chained from the Dify error that caused it.
            cause = exc.__cause__
            if not isinstance(cause, expected):
                pytest.fail(f"{subject} raised {exc!r} caused by {cause!r}, not {expected}")
            return cause
        if outcome.error is not None:
            assert isinstance(outcome.error, expected), repr(outcome.error)
            return outcome.error
        pytest.fail(f"{subject} returned {outcome.text[:80]!r} as a complete answer")

    def posts(self, subject: Subject) -> int:
        """POSTs of the subject's operation that reached the server during this test."""
        log = self.server.request_log[self.start :]
        return sum(1 for r in log if r.method == "POST" and subject.family.matches(r.path))

    def created(self) -> int:
        """Messages and workflow runs the server created for this test's user."""
        ws = self.server.workspace
        with ws.lock:
            messages = sum(1 for m in ws.messages.values() if m.user == self.user)
            runs = sum(1 for r in ws.runs.values() if r.user == self.user)
        return messages + runs

    def created_once(self) -> bool:
        """Exactly one message or run was created (the server thread may lag a little)."""
        deadline = time.monotonic() + 5.0
        while self.created() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.created() == 1


@pytest.fixture
def rig(apps: Apps, mode: Mode) -> Iterator[Rig]:
    """The test's rig; faults left over are cleared afterwards."""
    yield Rig(apps, mode)
    apps.server.clear_faults()


class _UnclosedReports(logging.Handler):
    """Collects aiohttp's ``Unclosed client session/connector`` loop-handler reports."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "Unclosed" in message or "unclosed" in message:
            self.messages.append(message.splitlines()[0])


def collect_leaks() -> list[str]:
    """Run the garbage collector; return every resource it found left open."""
    reports = _UnclosedReports()
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addHandler(reports)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            for _ in range(2):  # the second pass frees what the first one's finalizers left
                gc.collect()
    finally:
        asyncio_logger.removeHandler(reports)
    found = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    return found + reports.messages


@pytest.fixture(scope="package", autouse=True)
def _frozen_heap() -> Iterator[None]:
    """Freeze the heap before this suite, so each per-test collection stays cheap.

    A full collection of the heap (frameworks imported) takes about 0.2 s; frozen objects
    are skipped, so each test's collection only scans what was created since the last
    one (survivors are frozen again after every test).
    """
    for module in ("dify_integrations.langchain", "dify_integrations.llama_index"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    collect_leaks()  # what earlier suites left is theirs, not ours
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _no_leaks(_frozen_heap: None) -> Iterator[None]:
    """Fail the test when collecting its garbage finds an open socket or session."""
    yield
    leaks = collect_leaks()
    gc.freeze()
    assert not leaks, f"resources left open: {leaks}"
