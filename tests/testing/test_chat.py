"""Chat-family and completion apps: envelopes, event order per mode, validation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dify_integrations.testing import App, Dataset, DifyTestServer

from ._support import Api, assert_same_shape, collapse, fixture_json, fixture_stream

FORM = [
    {
        "select": {
            "label": "Tier",
            "variable": "tier",
            "required": False,
            "options": ["standard", "gold"],
            "default": "standard",
        }
    },
    {
        "text-input": {
            "label": "Order",
            "variable": "order_no",
            "required": True,
            "max_length": 8,
            "default": "",
        }
    },
    {"number": {"label": "Qty", "variable": "qty", "required": False}},
]


def names(frames: list[tuple[str, Any]]) -> list[str]:
    return [name for name, _ in frames]


def test_chat_blocking_shape(chat: Api) -> None:
    resp = chat.post(
        "/chat-messages",
        json={"query": "How long do I have to return items?", "inputs": {}, "user": "u1"},
    )
    assert resp.status_code == 200
    body = resp.json()
    assert_same_shape(body, fixture_json("chat_blocking.json"))
    assert body["mode"] == "chat"
    assert "30 days" in body["answer"]
    resources = body["metadata"]["retriever_resources"]
    assert resources
    assert resources[0]["document_name"] == "returns-policy.md"
    assert 0 < resources[0]["score"] <= 1
    usage = body["metadata"]["usage"]
    assert usage["currency"] == "USD"
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert isinstance(usage["total_price"], str)
    assert float(usage["total_price"]) > 0


def test_chat_streaming_matches_fixture(chat: Api) -> None:
    frames = chat.stream(
        "/chat-messages", {"query": "When are refunds issued?", "inputs": {}, "user": "u1"}
    )
    expected = fixture_stream("chat_streaming.sse")
    assert collapse(names(frames)) == collapse(names(expected))
    first_msg = next(p for n, p in frames if n == "message")
    assert_same_shape(first_msg, next(p for n, p in expected if n == "message"))
    end = frames[-1][1]
    assert end is not None
    expected_end = dict(next(p for n, p in expected if n == "message_end") or {})
    assert_same_shape(end, expected_end)
    answer = "".join(p["answer"] for n, p in frames if n == "message" and p)
    assert "refund" in answer.lower()
    assert len([n for n in names(frames) if n == "message"]) > 1  # token by token
    assert {p["task_id"] for _, p in frames if p} == {first_msg["task_id"]}


def test_completion_blocking_and_streaming(server: DifyTestServer) -> None:
    app = server.create_completion_app(
        "Translator",
        template="Bonjour {{name}}, you asked: {{query}}",
        user_input_form=[{"text-input": {"label": "Name", "variable": "name", "required": True}}],
    )
    api = Api(server, app.api_key)
    resp = api.post(
        "/completion-messages", json={"inputs": {"name": "Ada"}, "query": "hi", "user": "u"}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert_same_shape(body, fixture_json("completion_blocking.json"))
    assert body["answer"] == "Bonjour Ada, you asked: hi"
    frames = api.stream("/completion-messages", {"inputs": {"name": "Bob"}, "user": "u"})
    expected = fixture_stream("completion_streaming.sse")
    assert collapse(names(frames)) == collapse(names(expected))
    assert_same_shape(frames[0][1], expected[0][1])
    assert_same_shape(frames[-1][1], expected[-1][1])
    assert (
        "".join(p["answer"] for n, p in frames if n == "message" and p)
        == "Bonjour Bob, you asked: "
    )


def test_agent_chat_streaming_matches_fixture(server: DifyTestServer, handbook: Dataset) -> None:
    app = server.create_chat_app("Agent", mode="agent-chat", dataset_ids=[handbook.id])
    api = Api(server, app.api_key)
    frames = api.stream(
        "/chat-messages", {"query": "What does the warranty cover?", "inputs": {}, "user": "u"}
    )
    expected = fixture_stream("agent_chat_streaming.sse")
    assert collapse(names(frames)) == collapse(names(expected))
    thoughts = [p for n, p in frames if n == "agent_thought" and p]
    assert_same_shape(thoughts[0], expected[0][1])
    assert thoughts[1]["tool"]
    assert thoughts[1]["id"] == thoughts[0]["id"]
    assert thoughts[-1]["thought"] == "".join(
        p["answer"] for n, p in frames if n == "agent_message" and p
    )
    msg = next(p for n, p in frames if n == "agent_message")
    assert_same_shape(msg, next(p for n, p in expected if n == "agent_message"))
    resp = api.post(
        "/chat-messages",
        json={"query": "x", "inputs": {}, "user": "u", "response_mode": "blocking"},
    )
    assert resp.status_code == 400
    assert resp.json() == {
        "code": "invalid_param",
        "message": "Agent Chat App does not support blocking mode",
        "status": 400,
    }


@pytest.fixture(scope="module")
def legacy_server() -> Iterator[DifyTestServer]:
    """A server in the older chatflow order (workflow_finished before message_end)."""
    with DifyTestServer(chatflow_order="legacy") as srv:
        yield srv


def test_advanced_chat_streaming_matches_fixture(legacy_server: DifyTestServer) -> None:
    # The captured fixture is of an older build: the server's legacy order matches it.
    server = legacy_server
    app = server.create_chat_app(
        "Flow", mode="advanced-chat", responder=lambda q, i, h, f: f"Echo: {q}"
    )
    api = Api(server, app.api_key)
    frames = api.stream(
        "/chat-messages", {"query": "What is the return window?", "inputs": {}, "user": "u"}
    )
    expected = fixture_stream("advanced_chat_streaming.sse")
    assert names(frames)[0] == "ping"
    assert collapse(names(frames)) == collapse(names(expected))
    for event in (
        "workflow_started",
        "node_started",
        "node_finished",
        "message",
        "workflow_finished",
        "message_end",
    ):
        assert_same_shape(
            next(p for n, p in frames if n == event), next(p for n, p in expected if n == event)
        )
    assert (
        "".join(p["answer"] for n, p in frames if n == "message" and p)
        == "Echo: What is the return window?"
    )
    blocking = api.post("/chat-messages", json={"query": "again", "inputs": {}, "user": "u"})
    assert_same_shape(blocking.json(), fixture_json("advanced_chat_blocking.json"))
    assert blocking.json()["mode"] == "advanced-chat"


def test_advanced_chat_failure(server: DifyTestServer) -> None:
    def broken(
        query: str,
        inputs: dict[str, Any],
        history: list[tuple[str, str]],
        files: list[dict[str, Any]],
    ) -> str:
        raise RuntimeError("[openai] Rate Limit Error, Error code: 429")

    api = Api(
        server,
        server.create_chat_app("Broken flow", mode="advanced-chat", responder=broken).api_key,
    )
    frames = api.stream("/chat-messages", {"query": "hi", "inputs": {}, "user": "u"})
    expected = fixture_stream("advanced_chat_failed_streaming.sse")
    assert names(frames) == names(expected)
    assert frames[-1][1] == {**frames[-1][1], "code": "invalid_param", "status": 400}
    assert frames[-1][1] is not None
    assert frames[-1][1]["message"] == "Run failed: [openai] Rate Limit Error, Error code: 429"
    assert_same_shape(frames[-1][1], expected[-1][1])
    assert "task_id" not in frames[-1][1]


def test_chat_responder_error_is_error_event(server: DifyTestServer) -> None:
    def broken(
        query: str,
        inputs: dict[str, Any],
        history: list[tuple[str, str]],
        files: list[dict[str, Any]],
    ) -> Any:
        yield "Let me"
        yield " check"
        raise ValueError("bad value")

    api = Api(server, server.create_chat_app("Broken chat", responder=broken).api_key)
    frames = api.stream("/chat-messages", {"query": "hi", "inputs": {}, "user": "u"})
    expected = fixture_stream("stream_with_error.sse")
    assert names(frames) == names(expected)
    assert_same_shape(frames[-1][1], expected[-1][1])
    resp = api.post("/chat-messages", json={"query": "hi", "inputs": {}, "user": "u"})
    assert resp.status_code == 400
    assert resp.json() == {"code": "invalid_param", "message": "bad value", "status": 400}


def test_responder_gets_history_inputs_and_files(server: DifyTestServer) -> None:
    seen: list[tuple[str, dict[str, Any], list[tuple[str, str]], list[dict[str, Any]]]] = []

    def responder(
        query: str,
        inputs: dict[str, Any],
        history: list[tuple[str, str]],
        files: list[dict[str, Any]],
    ) -> list[str]:
        seen.append((query, inputs, history, files))
        return ["turn ", str(len(history) + 1)]

    app = server.create_chat_app("Recorder", responder=responder, user_input_form=FORM)
    api = Api(server, app.api_key)
    first = api.post(
        "/chat-messages",
        json={
            "query": "one",
            "inputs": {"order_no": "A1"},
            "user": "u",
            "files": [
                {
                    "type": "image",
                    "transfer_method": "remote_url",
                    "url": "https://example.com/a.png",
                }
            ],
        },
    ).json()
    assert first["answer"] == "turn 1"
    conv = first["conversation_id"]
    second = api.post(
        "/chat-messages",
        json={"query": "two", "inputs": {"order_no": "ZZ"}, "user": "u", "conversation_id": conv},
    ).json()
    assert second["answer"] == "turn 2"
    assert second["conversation_id"] == conv
    assert seen[1][2] == [("one", "turn 1")]
    assert seen[1][1]["order_no"] == "A1"  # stored conversation inputs win
    assert seen[0][1]["tier"] == "standard"  # default filled in
    assert seen[0][3][0]["url"] == "https://example.com/a.png"
    assert server.message_count(conv) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": {"order_no": "A"}, "user": "u", "query": ""}, "query is required"),
        ({"inputs": {}, "user": "u", "query": "q"}, "order_no is required in input form"),
        (
            {"inputs": {"order_no": "123456789"}, "user": "u", "query": "q"},
            "order_no in input form must be less than 8 characters",
        ),
        (
            {"inputs": {"order_no": "A", "tier": "platinum"}, "user": "u", "query": "q"},
            "tier in input form must be one of the following: ['standard', 'gold']",
        ),
        (
            {"inputs": {"order_no": "A", "qty": "many"}, "user": "u", "query": "q"},
            "qty in input form must be a valid number",
        ),
        (
            {"inputs": {"order_no": 5}, "user": "u", "query": "q"},
            "(type 'text-input') order_no in input form must be a string",
        ),
        ({"inputs": {}, "query": "q"}, "Arg user must be provided."),
        ({"inputs": {}, "query": "q", "user": ""}, "Arg user must be provided."),
        (
            {"inputs": {"order_no": "A"}, "user": "u", "query": "q", "conversation_id": "nope"},
            "conversation_id must be a valid UUID",
        ),
    ],
)
def test_chat_validation(server: DifyTestServer, body: dict[str, Any], message: str) -> None:
    app = server.create_chat_app("Validation", user_input_form=FORM)
    api = Api(server, app.api_key)
    resp = api.post("/chat-messages", json=body)
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid_param"
    assert message in resp.json()["message"]


def test_pydantic_style_errors(chat: Api) -> None:
    resp = chat.post("/chat-messages", json={"inputs": {}, "user": "u"})
    assert resp.status_code == 400
    assert resp.json()["message"].startswith(
        "1 validation error for ChatRequestPayload\nquery\n  Field required"
    )
    resp = chat.post(
        "/chat-messages", json={"inputs": {}, "user": "u", "query": "q", "response_mode": "fast"}
    )
    assert resp.status_code == 400
    assert "response_mode" in resp.json()["message"]


def test_json_body_rules(chat: Api) -> None:
    resp = chat.post(
        "/chat-messages",
        data="query=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 415
    assert resp.json()["code"] == "unsupported_media_type"
    resp = chat.post("/chat-messages", data="", headers={"Content-Type": "application/json"})
    assert resp.json() == {
        "code": "bad_request",
        "message": "Invalid JSON payload received or JSON payload is empty.",
        "status": 400,
    }


def test_unknown_or_foreign_conversation(chat: Api) -> None:
    first = chat.post(
        "/chat-messages", json={"query": "hello", "inputs": {}, "user": "alice"}
    ).json()
    for user, conv in (
        ("bob", first["conversation_id"]),
        ("alice", "9b2f6c1e-7d4a-4e3b-a1c2-3d4e5f6a7b8c"),
    ):
        resp = chat.post(
            "/chat-messages",
            json={"query": "x", "inputs": {}, "user": user, "conversation_id": conv},
        )
        assert resp.status_code == 404
        assert resp.json() == {
            "code": "not_found",
            "message": "Conversation Not Exists.",
            "status": 404,
        }


def test_mode_gates(server: DifyTestServer, chat_app: App) -> None:
    completion = Api(server, server.create_completion_app("Gate completion").api_key)
    workflow = Api(
        server, server.create_workflow_app("Gate workflow", handler=lambda inputs: {}).api_key
    )
    chat = Api(server, chat_app.api_key)
    body = {"query": "q", "inputs": {}, "user": "u"}
    for api in (completion, workflow):
        resp = api.post("/chat-messages", json=body)
        assert resp.json() == {
            "code": "not_chat_app",
            "message": "Please check if your app mode matches the right API route.",
            "status": 400,
        }
        assert api.get("/conversations", params={"user": "u"}).json()["code"] == "not_chat_app"
    for api in (chat, workflow):
        resp = api.post("/completion-messages", json=body)
        assert resp.json() == {
            "code": "app_unavailable",
            "message": "App unavailable, please check your app configurations.",
            "status": 400,
        }
    for api in (chat, completion):
        resp = api.post("/workflows/run", json=body)
        assert resp.json()["code"] == "not_workflow_app"
        assert (
            api.post("/workflows/tasks/x/stop", json={"user": "u"}).json()["code"]
            == "not_workflow_app"
        )
    assert (
        completion.post("/chat-messages/x/stop", json={"user": "u"}).json()["code"]
        == "not_chat_app"
    )
    assert (
        chat.post("/completion-messages/x/stop", json={"user": "u"}).json()["code"]
        == "app_unavailable"
    )


def test_message_files_in_message_end(server: DifyTestServer, chat: Api) -> None:
    up = chat.post(
        "/files/upload",
        files={"file": ("invoice.pdf", b"%PDF-1.4 test", "application/pdf")},
        data={"user": "u"},
    )
    assert up.status_code == 201
    files = [
        {
            "type": "image",
            "transfer_method": "remote_url",
            "url": "https://example.com/receipt.png",
        },
        {"type": "document", "transfer_method": "local_file", "upload_file_id": up.json()["id"]},
    ]
    frames = chat.stream(
        "/chat-messages", {"query": "refund?", "inputs": {}, "user": "u", "files": files}
    )
    end = frames[-1][1]
    assert end is not None
    expected = fixture_stream("chat_streaming.sse")[-1][1]
    assert_same_shape(end["files"], (expected or {})["files"])
    assert [f["transfer_method"] for f in end["files"]] == ["remote_url", "local_file"]
    bad = chat.post(
        "/chat-messages",
        json={
            "query": "q",
            "inputs": {},
            "user": "u",
            "files": [
                {"type": "document", "transfer_method": "local_file", "upload_file_id": "zzz"}
            ],
        },
    )
    assert bad.status_code == 400
    assert bad.json()["message"] == "Invalid upload file id format"
