"""Stop really halts a running generation, and ends the stream the Dify way."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import requests

from dify_integrations.testing import DifyTestServer

from ._support import Api, fixture_json, iter_frames

WORDS = 200


def long_answer(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: list[dict[str, Any]]
) -> list[str]:
    return [f"w{i} " for i in range(WORDS)]


def _run_until_stopped(
    api: Api, path: str, body: dict[str, Any], stop_path: str, delta: str
) -> list[tuple[str, Any]]:
    frames: list[tuple[str, Any]] = []
    with api.session.post(
        api.base + path, json={**body, "response_mode": "streaming"}, stream=True, timeout=30
    ) as resp:
        deltas = 0
        for name, payload in iter_frames(resp):
            frames.append((name, payload))
            if name == delta:
                deltas += 1
                if deltas == 3:
                    task_id = payload["task_id"]
                    stop = api.post(stop_path.format(task_id=task_id), json={"user": "u"})
                    assert stop.status_code == 200
                    assert stop.json() == fixture_json("stop_response.json")
    return frames


def test_chat_stop_halts(server: DifyTestServer) -> None:
    app = server.create_chat_app("Slow chat", responder=long_answer, token_delay=0.02)
    api = Api(server, app.api_key)
    frames = _run_until_stopped(
        api,
        "/chat-messages",
        {"query": "q", "inputs": {}, "user": "u"},
        "/chat-messages/{task_id}/stop",
        "message",
    )
    names = [n for n, _ in frames if n != "ping"]
    assert names[-1] == "message_end"
    assert names.count("message") < WORDS
    task_id = frames[0][1]["task_id"]
    assert server.stop_calls(task_id) == 1
    conv = frames[0][1]["conversation_id"]
    stored = api.get("/messages", params={"user": "u", "conversation_id": conv}).json()["data"][0][
        "answer"
    ]
    assert stored == "".join(p["answer"] for n, p in frames if n == "message")


def test_stop_of_unknown_or_foreign_task_is_success_without_effect(server: DifyTestServer) -> None:
    app = server.create_chat_app("Slow chat 2", responder=long_answer, token_delay=0.002)
    api = Api(server, app.api_key)
    assert api.post("/chat-messages/unknown-task/stop", json={"user": "u"}).json() == {
        "result": "success"
    }
    assert (
        api.post("/chat-messages/unknown-task/stop", json={}).json()["message"]
        == "Arg user must be provided."
    )
    frames: list[tuple[str, Any]] = []
    with api.session.post(
        api.base + "/chat-messages",
        json={"query": "q", "inputs": {}, "user": "u", "response_mode": "streaming"},
        stream=True,
        timeout=30,
    ) as resp:
        for name, payload in iter_frames(resp):
            frames.append((name, payload))
            if len(frames) == 2:
                api.post(f"/chat-messages/{payload['task_id']}/stop", json={"user": "someone-else"})
    assert [n for n, _ in frames].count("message") == WORDS


def test_workflow_stop_ends_with_stopped(server: DifyTestServer) -> None:
    def slow(inputs: dict[str, Any]) -> Generator[str, None, dict[str, Any]]:
        for i in range(WORDS):
            yield f"chunk{i} "
        return {"done": True}

    api = Api(server, server.create_workflow_app("Slow flow", slow, token_delay=0.02).api_key)
    frames = _run_until_stopped(
        api,
        "/workflows/run",
        {"inputs": {}, "user": "u"},
        "/workflows/tasks/{task_id}/stop",
        "text_chunk",
    )
    assert frames[-1][0] == "workflow_finished"
    data = frames[-1][1]["data"]
    assert data["status"] == "stopped"
    assert data["error"]
    assert [n for n, _ in frames].count("text_chunk") < WORDS
    detail = api.get(f"/workflows/run/{data['id']}").json()
    assert detail["status"] == "stopped"


def test_chatflow_stop_ends_with_message_end_then_workflow_finished(server: DifyTestServer) -> None:
    api = Api(
        server,
        server.create_chat_app(
            "Slow flow chat", mode="advanced-chat", responder=long_answer, token_delay=0.02
        ).api_key,
    )
    frames = _run_until_stopped(
        api,
        "/chat-messages",
        {"query": "q", "inputs": {}, "user": "u"},
        "/chat-messages/{task_id}/stop",
        "message",
    )
    payloads = [(n, p) for n, p in frames if n != "ping"]
    # Current Dify's order (a DifyTestServer(chatflow_order="legacy") sends the reverse).
    assert [n for n, _ in payloads[-2:]] == ["message_end", "workflow_finished"]
    assert payloads[-1][1]["data"]["status"] == "stopped"


def test_seed_stop_path_is_not_served(server: DifyTestServer) -> None:
    app = server.create_workflow_app("Seed path", lambda inputs: {})
    resp = requests.post(
        f"{server.base_url}/workflows/abc/stop",
        headers={"Authorization": f"Bearer {app.api_key}"},
        json={"user": "u"},
        timeout=10,
    )
    assert resp.status_code == 404
    assert resp.json()["code"] == "not_found"
