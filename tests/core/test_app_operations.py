"""The operations beyond the seed, over HTTP against DifyTestServer, sync and async.

Feedback, suggested questions, pinned workflow versions, trace ids, conversation variables,
audio, /site and workflow logs: each works, and each has an error case.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dify_integrations import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
)
from dify_integrations.core.app_models import (
    AppSite,
    AudioText,
    ConversationVariable,
    ConversationVariableList,
    FeedbackList,
    SuggestedQuestions,
    WorkflowLogList,
)
from dify_integrations.testing import DifyTestServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def current_apps(dify_server: DifyTestServer) -> dict[str, Any]:
    server = dify_server
    chat = server.create_chat_app(
        "Suggesting",
        responder=lambda q, i, h, f: f"About {q}.",
        suggested_questions_after_answer=True,
    )
    plain = server.create_chat_app("Plain", responder=lambda q, i, h, f: "ok")
    flow = server.create_chat_app(
        "Vars flow",
        mode="advanced-chat",
        responder=lambda q, i, h, f: "flow answer",
        conversation_variables=[
            {"name": "topic", "value_type": "string", "value": "none"},
            {"name": "count", "value_type": "number", "value": 0},
        ],
    )
    comp = server.create_completion_app("Writer", template="Summary of {{query}}")
    wf = server.create_workflow_app("Echo", handler=lambda inputs: {"echo": inputs.get("x", "")})
    return {"chat": chat, "plain": plain, "flow": flow, "comp": comp, "wf": wf}


# --------------------------------------------------------------------------- feedback


def test_feedback_send_list_and_revoke(current_apps: Any, make_runner: Any, kind: str) -> None:
    run = make_runner(current_apps["chat"].api_key, user=f"fb-{kind}")
    reply = run("send_chat_message", "shipping")
    assert run("send_feedback", reply.message_id, "like", content="great") == {"result": "success"}
    page = run("list_feedbacks", limit=100)
    assert isinstance(page, FeedbackList)
    mine = [f for f in page.data if f.message_id == reply.message_id]
    assert len(mine) == 1
    assert (mine[0].rating, mine[0].content, mine[0].from_source) == ("like", "great", "user")
    assert run("send_feedback", reply.message_id, None) == {"result": "success"}
    page = run("list_feedbacks", limit=100)
    assert all(f.message_id != reply.message_id for f in page.data)


def test_feedback_errors(current_apps: Any, make_runner: Any, dify_server: DifyTestServer) -> None:
    run = make_runner(current_apps["chat"].api_key, user="fb-err")
    with pytest.raises(NotFoundError) as info:
        run("send_feedback", str(uuid.uuid4()), "dislike")
    assert info.value.code == "not_found"
    before = len(dify_server.request_log)
    with pytest.raises(ValueError, match="rating"):
        run("send_feedback", str(uuid.uuid4()), "meh")
    with pytest.raises(ValueError, match="limit"):
        run("list_feedbacks", limit=0)
    assert len(dify_server.request_log) == before  # refused before any request
    bad = make_runner("app-not-a-real-key")
    with pytest.raises(AuthenticationError):
        bad("list_feedbacks")


# --------------------------------------------------------------------------- suggested


def test_suggested_questions(current_apps: Any, make_runner: Any) -> None:
    run = make_runner(current_apps["chat"].api_key, user="sq")
    reply = run("send_chat_message", "return policy for shoes")
    suggested = run("get_suggested_questions", reply.message_id)
    assert isinstance(suggested, SuggestedQuestions)
    assert suggested.result == "success"
    assert len(suggested.data) == 3
    assert all(isinstance(q, str) and q for q in suggested.data)


def test_suggested_questions_disabled_is_bad_request(current_apps: Any, make_runner: Any) -> None:
    run = make_runner(current_apps["plain"].api_key, user="sq")
    reply = run("send_chat_message", "hi")
    with pytest.raises(BadRequestError) as info:
        run("get_suggested_questions", reply.message_id)
    assert info.value.code == "bad_request"


# --------------------------------------------------------------------------- pinned versions


def test_pinned_workflow_version(
    current_apps: Any, make_runner: Any, dify_server: DifyTestServer, kind: str
) -> None:
    wf = current_apps["wf"]
    run = make_runner(wf.api_key, user=f"pin-{kind}")
    result = run("run_workflow", {"x": "hi"}, workflow_id=wf.workflow_id)
    assert result.status == "succeeded"
    assert result.outputs == {"echo": "hi"}
    _, stream = run.stream("stream_workflow", {"x": "yo"}, workflow_id=wf.workflow_id)
    assert stream.result.outputs == {"echo": "yo"}
    routes = [r.route for r in dify_server.request_log if r.user == f"pin-{kind}"]
    assert routes == ["/workflows/{workflow_id}/run"] * 2
    with pytest.raises(NotFoundError):
        run("run_workflow", {"x": "hi"}, workflow_id=str(uuid.uuid4()))
    with pytest.raises(ValueError, match="workflow_id"):
        run("run_workflow", {"x": "hi"}, workflow_id="v1")


def test_chat_workflow_id(current_apps: Any, make_runner: Any) -> None:
    flow = current_apps["flow"]
    run = make_runner(flow.api_key, user="pin-chat")
    assert run("send_chat_message", "hi", workflow_id=flow.workflow_id).answer == "flow answer"
    with pytest.raises(NotFoundError):
        run("send_chat_message", "hi", workflow_id=str(uuid.uuid4()))
    with pytest.raises(ValueError, match="workflow_id"):
        run("send_chat_message", "hi", workflow_id="not-a-uuid")


def test_server_refuses_a_malformed_chat_workflow_id(
    dify_server: DifyTestServer, current_apps: Any
) -> None:
    import requests

    response = requests.post(
        f"{dify_server.base_url}/chat-messages",
        headers={"Authorization": f"Bearer {current_apps['flow'].api_key}"},
        json={"query": "hi", "inputs": {}, "user": "u", "workflow_id": "v1"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


# --------------------------------------------------------------------------- trace id


def test_trace_id_reaches_the_server(
    current_apps: Any, make_runner: Any, dify_server: DifyTestServer, kind: str
) -> None:
    trace = f"trace-{kind}-{uuid.uuid4().hex[:8]}"
    run_chat = make_runner(current_apps["chat"].api_key, user="tr")
    run_chat("send_chat_message", "hi", trace_id=trace + "-c")
    run_chat.stream("stream_chat_message", "hi", trace_id=trace + "-s")
    make_runner(current_apps["comp"].api_key, user="tr")(
        "send_completion", query="x", trace_id=trace + "-p"
    )
    make_runner(current_apps["wf"].api_key, user="tr")(
        "run_workflow", {"x": "1"}, trace_id=trace + "-w"
    )
    logged = {
        r.trace_id: r.route
        for r in dify_server.request_log
        if r.trace_id and r.trace_id.startswith(trace)
    }
    assert logged == {
        trace + "-c": "/chat-messages",
        trace + "-s": "/chat-messages",
        trace + "-p": "/completion-messages",
        trace + "-w": "/workflows/run",
    }


@pytest.mark.parametrize("bad", ["", "has space", "x" * 129, "new\nline"])
def test_bad_trace_id_is_refused_before_any_request(
    current_apps: Any, make_runner: Any, bad: str
) -> None:
    run = make_runner(current_apps["chat"].api_key, user="tr")
    with pytest.raises(ValueError, match="trace_id"):
        run("send_chat_message", "hi", trace_id=bad)


# --------------------------------------------------------------------------- conversation variables


def test_conversation_variables(current_apps: Any, make_runner: Any) -> None:
    run = make_runner(current_apps["flow"].api_key, user="vars")
    conv = run("send_chat_message", "hi").conversation_id
    page = run("list_conversation_variables", conv)
    assert isinstance(page, ConversationVariableList)
    by_name = {v.name: v for v in page.data}
    assert set(by_name) == {"topic", "count"}
    updated = run("update_conversation_variable", conv, by_name["topic"].id, "shipping")
    assert isinstance(updated, ConversationVariable)
    assert updated.value == "shipping"
    only = run("list_conversation_variables", conv, variable_name="topic")
    assert [(v.name, v.value) for v in only.data] == [("topic", "shipping")]
    first = run("list_conversation_variables", conv, limit=1)
    assert first.has_more is True
    assert len(first.data) == 1


def test_conversation_variable_errors(current_apps: Any, make_runner: Any) -> None:
    run = make_runner(current_apps["flow"].api_key, user="vars-err")
    conv = run("send_chat_message", "hi").conversation_id
    count = next(v for v in run("list_conversation_variables", conv).data if v.name == "count")
    with pytest.raises(BadRequestError):
        run("update_conversation_variable", conv, count.id, "not a number")
    with pytest.raises(NotFoundError):
        run("update_conversation_variable", conv, str(uuid.uuid4()), 1)
    with pytest.raises(NotFoundError):
        run("list_conversation_variables", str(uuid.uuid4()))
    with pytest.raises(TypeError, match="JSON"):
        run("update_conversation_variable", conv, count.id, object())


# --------------------------------------------------------------------------- audio


def test_audio_round_trip(current_apps: Any, make_runner: Any) -> None:
    run = make_runner(current_apps["chat"].api_key, user="audio")
    speech = run("text_to_audio", "Hello there")
    assert isinstance(speech, bytes)
    assert speech.startswith(b"ID3")
    text = run("audio_to_text", speech, filename="hello.mp3")
    assert isinstance(text, AudioText)
    assert text.text == "Hello there"
    reply = run("send_chat_message", "ping")
    assert run("text_to_audio", message_id=reply.message_id).endswith(reply.answer.encode())


def test_audio_errors(current_apps: Any, make_runner: Any) -> None:
    run = make_runner(current_apps["chat"].api_key, user="audio")
    with pytest.raises(ValueError, match="audio"):
        run("audio_to_text", b"abc", filename="notes.txt")
    with pytest.raises(ValueError, match="text"):
        run("text_to_audio")
    with pytest.raises(NotFoundError):
        run("text_to_audio", message_id=str(uuid.uuid4()))


# --------------------------------------------------------------------------- site and logs


def test_site(current_apps: Any, make_runner: Any) -> None:
    site = make_runner(current_apps["chat"].api_key)("get_site")
    assert isinstance(site, AppSite)
    assert site.title == "Suggesting"
    assert site.default_language == "en-US"
    with pytest.raises(AuthenticationError):
        make_runner("app-unknown-key")("get_site")


def test_workflow_logs(current_apps: Any, make_runner: Any) -> None:
    run = make_runner(current_apps["wf"].api_key, user="logs")
    done = run("run_workflow", {"x": "logged"})
    page = run("list_workflow_logs", status="succeeded", limit=100)
    assert isinstance(page, WorkflowLogList)
    runs = [log.workflow_run for log in page.data]
    assert done.workflow_run_id in [r.id for r in runs]
    assert all(r.status == "succeeded" for r in runs)
    with pytest.raises(ValueError, match="status"):
        run("list_workflow_logs", status="running")
    with pytest.raises(BadRequestError) as info:
        make_runner(current_apps["chat"].api_key)("list_workflow_logs")
    assert info.value.code == "not_workflow_app"
