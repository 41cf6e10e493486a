"""Pause and resume over HTTP: a chatflow and a workflow stop at a Human Input node, their
form is read and submitted, and the resumed run finishes — sync and async.

Also: a chatflow in both terminal orders, a New Agent app, reasoning chunks, node_retry and
loop events, all from DifyTestServer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from dify_integrations import (
    AgentNotPublishedError,
    BadRequestError,
    HumanInputFormClosedError,
    NotFoundError,
    StreamError,
)
from dify_integrations.core.app_models import HumanInputForm
from dify_integrations.core.events import (
    HumanInputFormFilledEvent,
    HumanInputFormTimeoutEvent,
    LoopCompletedEvent,
    LoopNextEvent,
    LoopStartedEvent,
    NodeRetryEvent,
    ReasoningChunkEvent,
    WorkflowStartedEvent,
)
from dify_integrations.testing import DifyTestServer
from tests._shared_data import APPROVAL_FORM, decision_responder

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def hi_apps(dify_server: DifyTestServer) -> dict[str, Any]:
    flow = dify_server.create_chat_app(
        "Approval flow",
        mode="advanced-chat",
        responder=decision_responder,
        human_input=APPROVAL_FORM,
    )
    quick = dify_server.create_chat_app(
        "Quick flow",
        mode="advanced-chat",
        responder=decision_responder,
        human_input={**APPROVAL_FORM, "timeout": 0.3},
    )
    wf = dify_server.create_workflow_app(
        "Approval workflow",
        handler=lambda values: {"result": f"{values['__action_id']}/{values.get('comment')}"},
        nodes=[{"node_type": "human-input", **APPROVAL_FORM}, {"title": "Decide"}],
    )
    return {"flow": flow, "quick": quick, "wf": wf}


def test_chatflow_pause_submit_resume(hi_apps: Any, make_runner: Any, kind: str) -> None:
    run = make_runner(hi_apps["flow"].api_key, user=f"hi-{kind}")
    paused = run("send_chat_message", "refund order 7")
    assert paused.paused
    assert paused.status == "paused"
    assert paused.answer == ""
    (form,) = paused.human_input
    assert (form.form_content, form.node_title) == ("Approve the refund?", "Approve")
    assert [a["id"] for a in form.actions] == ["approve", "reject"]
    assert form.workflow_run_id == paused.workflow_run_id
    assert form.expiration_time is not None
    assert form.expiration_time > time.time()

    shown = run("get_human_input_form", form.form_token)
    assert isinstance(shown, HumanInputForm)
    assert shown.action_ids == ["approve", "reject"]
    assert shown.inputs[0]["output_variable_name"] == "comment"

    assert (
        run("submit_human_input_form", form.form_token, action="approve", inputs={"comment": "ok"})
        == {}
    )
    resumed = run("resume_chat_message", paused.workflow_run_id)
    assert not resumed.paused
    assert resumed.status == "succeeded"
    assert resumed.answer == "approve: ok"
    assert resumed.conversation_id == paused.conversation_id
    assert resumed.message_id == paused.message_id

    with pytest.raises(HumanInputFormClosedError) as info:
        run("submit_human_input_form", form.form_token, action="approve")
    assert info.value.code == "human_input_form_submitted"
    assert info.value.status_code == 412


def test_workflow_pause_submit_resume(hi_apps: Any, make_runner: Any, kind: str) -> None:
    run = make_runner(hi_apps["wf"].api_key, user=f"hiw-{kind}")
    paused = run("run_workflow", {})
    assert paused.paused
    assert paused.outputs == {}
    (form,) = paused.human_input
    run("submit_human_input_form", form.form_token, action="reject", inputs={"comment": "no"})
    events, stream = run.stream("stream_workflow_events", paused.workflow_run_id)
    started = next(e for e in events if isinstance(e, WorkflowStartedEvent))
    assert started.data.reason == "resumption"
    filled = next(e for e in events if isinstance(e, HumanInputFormFilledEvent))
    assert (filled.data.action_id, filled.data.action_text) == ("reject", "Reject")
    assert stream.result.status == "succeeded"
    assert stream.result.outputs == {"result": "reject/no"}
    # Once finished, the run's events are one workflow_finished.
    again = run("resume_workflow_run", paused.workflow_run_id)
    assert again.status == "succeeded"
    assert again.outputs == {"result": "reject/no"}
    detail = run("get_workflow_run", paused.workflow_run_id)
    assert detail.status == "succeeded"


def test_form_errors(hi_apps: Any, make_runner: Any, dify_server: DifyTestServer) -> None:
    run = make_runner(hi_apps["wf"].api_key, user="hi-err")
    with pytest.raises(NotFoundError):
        run("get_human_input_form", "no-such-token")
    paused = run("run_workflow", {})
    token = paused.human_input[0].form_token
    with pytest.raises(BadRequestError) as info:
        run("submit_human_input_form", token, action="maybe")
    assert info.value.code == "invalid_form_data"
    with pytest.raises(NotFoundError):  # another app's key cannot see the form
        make_runner(hi_apps["flow"].api_key, user="hi-err")("get_human_input_form", token)
    before = len(dify_server.request_log)
    with pytest.raises(ValueError, match="action"):
        run("submit_human_input_form", token, action="")
    assert len(dify_server.request_log) == before
    with pytest.raises(NotFoundError):
        run("resume_workflow_run", str(uuid.uuid4()))


def test_form_timeout(hi_apps: Any, make_runner: Any, kind: str) -> None:
    run = make_runner(hi_apps["quick"].api_key, user=f"hit-{kind}")
    paused = run("send_chat_message", "late")
    token = paused.human_input[0].form_token
    time.sleep(0.5)
    with pytest.raises(HumanInputFormClosedError) as info:
        run("submit_human_input_form", token, action="approve")
    assert info.value.code == "human_input_form_expired"
    with pytest.raises(StreamError) as failed:
        run.stream("stream_workflow_events", paused.workflow_run_id, kind="chat")
    events = failed.value.events  # type: ignore[attr-defined]
    assert any(isinstance(e, HumanInputFormTimeoutEvent) for e in events)
    assert "timed out" in failed.value.message


# --------------------------------------------------------------------------- current streams


@pytest.fixture(scope="module")
def legacy_server() -> Iterator[DifyTestServer]:
    with DifyTestServer(chatflow_order="legacy") as server:
        yield server


@pytest.mark.parametrize("order", ["current", "legacy"])
def test_chatflow_both_orders(
    order: str, dify_server: DifyTestServer, legacy_server: DifyTestServer, make_runner: Any
) -> None:
    server = dify_server if order == "current" else legacy_server
    app = server.create_chat_app(
        f"Order {order}", mode="advanced-chat", responder=lambda q, i, h, f: f"A: {q}"
    )
    run = make_runner(app.api_key, user="order", base_url=server.base_url)
    events, stream = run.stream("stream_chat_message", "hi")
    names = [e.event for e in events]
    expected = ["message_end", "workflow_finished"]
    assert names[-2:] == (expected if order == "current" else expected[::-1])
    assert stream.result.answer == "A: hi"
    assert stream.result.status == "succeeded"
    assert run("send_chat_message", "again").answer == "A: again"


def test_new_agent_app(dify_server: DifyTestServer, make_runner: Any) -> None:
    app = dify_server.create_chat_app(
        "New agent", mode="agent", responder=lambda q, i, h, f: ["The answer", " is 42."]
    )
    run = make_runner(app.api_key, user="agent")
    events, stream = run.stream("stream_chat_message", "q")
    names = [e.event for e in events]
    assert names[-2:] == ["message", "message_end"]
    assert "agent_message" in names
    assert stream.result.answer == "The answer is 42."
    assert not stream.result.replaced
    assert run("send_chat_message", "q").answer == "The answer is 42."
    with pytest.raises(BadRequestError) as info:
        run("send_chat_message", "q", response_mode="blocking")
    assert "streaming" in info.value.message
    unpublished = dify_server.create_chat_app("Draft agent", mode="agent", agent_published=False)
    with pytest.raises(AgentNotPublishedError):
        make_runner(unpublished.api_key, user="agent")("send_chat_message", "q")


def test_reasoning_chunks(dify_server: DifyTestServer, make_runner: Any) -> None:
    app = dify_server.create_chat_app(
        "Thinking flow",
        mode="advanced-chat",
        responder=lambda q, i, h, f: "42",
        reasoning="Six times seven.",
    )
    run = make_runner(app.api_key, user="think")
    events, stream = run.stream("stream_chat_message", "q")
    chunks = [e for e in events if isinstance(e, ReasoningChunkEvent)]
    assert chunks[-1].data.is_final
    assert "".join(c.data.reasoning for c in chunks) == "Six times seven."
    assert stream.result.reasoning == "Six times seven."
    assert stream.result.answer == "42"
    reply = run("send_chat_message", "q")
    assert (reply.answer, reply.reasoning) == ("42", "Six times seven.")


def test_node_retry_and_loop_events(dify_server: DifyTestServer, make_runner: Any) -> None:
    attempts: list[int] = []

    def flaky(values: dict[str, Any]) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError(f"attempt {len(attempts)} failed")
        return {"text": "steady"}

    app = dify_server.create_workflow_app(
        "Retry and loop",
        handler=lambda values: {"rounds": values["output"]},
        nodes=[
            {"title": "Flaky", "run": flaky, "retries": 2},
            {"title": "Loop", "node_type": "loop", "times": 3, "run": lambda v: v["index"] * 2},
            {"title": "End"},
        ],
    )
    run = make_runner(app.api_key, user="loops")
    events, stream = run.stream("stream_workflow", {})
    retries = [e for e in events if isinstance(e, NodeRetryEvent)]
    assert [r.data.retry_index for r in retries] == [1, 2]
    assert retries[0].data.status == "retry"
    assert retries[0].data.error == "attempt 1 failed"
    assert sum(isinstance(e, LoopStartedEvent) for e in events) == 1
    assert sum(isinstance(e, LoopNextEvent) for e in events) == 2
    completed = next(e for e in events if isinstance(e, LoopCompletedEvent))
    assert completed.data.outputs == {"output": [0, 2, 4]}
    assert stream.result.status == "succeeded"
    assert stream.result.outputs == {"rounds": [0, 2, 4]}
    attempts.clear()
