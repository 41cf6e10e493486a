"""Conversations (list, pagination, rename, delete) and messages."""

from __future__ import annotations

import pytest

from dify_integrations.testing import DifyTestServer

from ._support import Api, assert_same_shape, fixture_json


@pytest.fixture
def api(server: DifyTestServer) -> Api:
    return Api(server, server.create_chat_app("Conversations", opening_statement="Hello!").api_key)


def _new(api: Api, query: str, user: str = "u", **extra: object) -> str:
    body = api.post(
        "/chat-messages", json={"query": query, "inputs": {}, "user": user, **extra}
    ).json()
    return str(body["conversation_id"])


def test_list_paginates_with_last_id(api: Api) -> None:
    ids = [_new(api, f"question number {i}") for i in range(5)]
    seen: list[str] = []
    last_id = None
    while True:
        params = {"user": "u", "limit": 2, **({"last_id": last_id} if last_id else {})}
        page = api.get("/conversations", params=params).json()
        assert_same_shape(page, fixture_json("conversations_list.json"))
        seen += [c["id"] for c in page["data"]]
        if not page["has_more"]:
            break
        last_id = page["data"][-1]["id"]
    assert seen == list(reversed(ids))  # -updated_at
    asc = api.get(
        "/conversations", params={"user": "u", "sort_by": "created_at", "limit": 100}
    ).json()
    assert [c["id"] for c in asc["data"]] == ids
    assert api.get("/conversations", params={"user": "other"}).json()["data"] == []
    bad = api.get(
        "/conversations", params={"user": "u", "last_id": "9b2f6c1e-7d4a-4e3b-a1c2-3d4e5f6a7b8c"}
    )
    assert bad.json() == {
        "code": "not_found",
        "message": "Last Conversation Not Exists.",
        "status": 404,
    }
    assert (
        api.get("/conversations", params={"user": "u", "limit": 101}).json()["code"]
        == "invalid_param"
    )


def test_names_and_rename(api: Api) -> None:
    auto = _new(api, "Where is my parcel today")
    plain = _new(api, "hello", auto_generate_name=False)
    convs = {c["id"]: c for c in api.get("/conversations", params={"user": "u"}).json()["data"]}
    assert convs[plain]["name"] == "New conversation"
    assert convs[auto]["name"] != "New conversation"
    assert "parcel" in convs[auto]["name"]
    assert convs[auto]["introduction"] == "Hello!"
    renamed = api.post(f"/conversations/{plain}/name", json={"name": "Greetings", "user": "u"})
    assert renamed.status_code == 200
    assert_same_shape(renamed.json(), fixture_json("conversation_rename.json"))
    assert renamed.json()["name"] == "Greetings"
    generated = api.post(
        f"/conversations/{plain}/name", json={"auto_generate": True, "user": "u"}
    ).json()
    assert generated["name"] == "hello"
    missing = api.post(f"/conversations/{plain}/name", json={"user": "u"})
    assert missing.status_code == 400
    assert "name is required when auto_generate is false" in missing.json()["message"]
    foreign = api.post(f"/conversations/{plain}/name", json={"name": "x", "user": "intruder"})
    assert foreign.status_code == 404


def test_delete_is_204_without_body(api: Api) -> None:
    conv = _new(api, "to be deleted")
    resp = api.delete(f"/conversations/{conv}", json={"user": "u"})
    assert resp.status_code == 204
    assert resp.content == b""
    assert conv not in [
        c["id"] for c in api.get("/conversations", params={"user": "u"}).json()["data"]
    ]
    again = api.post(
        "/chat-messages", json={"query": "x", "inputs": {}, "user": "u", "conversation_id": conv}
    )
    assert again.status_code == 404
    assert api.delete(f"/conversations/{conv}", json={"user": "u"}).status_code == 404
    no_json = api.delete(f"/conversations/{conv}")
    assert no_json.status_code == 415


def test_messages_first_id_cursor(api: Api, server: DifyTestServer) -> None:
    conv = _new(api, "turn 0")
    for i in range(1, 5):
        api.post(
            "/chat-messages",
            json={"query": f"turn {i}", "inputs": {}, "user": "u", "conversation_id": conv},
        )
    assert server.message_count(conv) == 5
    page = api.get("/messages", params={"user": "u", "conversation_id": conv, "limit": 2}).json()
    # Current Dify adds token, price and human-input fields to every item.
    current = (
        "message_tokens",
        "answer_tokens",
        "total_tokens",
        "provider_response_latency",
        "total_price",
        "currency",
        "extra_contents",
    )
    for item in page["data"]:
        assert [k for k in item if k in current] == list(current)
        assert item["total_tokens"] == item["message_tokens"] + item["answer_tokens"] > 0
    older = {
        **page,
        "data": [{k: v for k, v in m.items() if k not in current} for m in page["data"]],
    }
    assert_same_shape(older, fixture_json("messages_list.json"))
    assert [m["query"] for m in page["data"]] == ["turn 3", "turn 4"]
    assert page["has_more"] is True
    older = api.get(
        "/messages",
        params={
            "user": "u",
            "conversation_id": conv,
            "limit": 2,
            "first_id": page["data"][0]["id"],
        },
    ).json()
    assert [m["query"] for m in older["data"]] == ["turn 1", "turn 2"]
    assert older["has_more"] is True
    oldest = api.get(
        "/messages",
        params={
            "user": "u",
            "conversation_id": conv,
            "limit": 2,
            "first_id": older["data"][0]["id"],
        },
    ).json()
    assert [m["query"] for m in oldest["data"]] == ["turn 0"]
    assert oldest["has_more"] is False
    assert page["data"][1]["answer"] == "You said: turn 4"
    assert (
        api.get("/messages", params={"user": "other", "conversation_id": conv}).status_code == 404
    )


def test_feedback(api: Api) -> None:
    conv = _new(api, "rate me")
    msg = api.get("/messages", params={"user": "u", "conversation_id": conv}).json()["data"][0]
    ok = api.post(f"/messages/{msg['id']}/feedbacks", json={"rating": "like", "user": "u"})
    assert ok.json() == {"result": "success"}
    again = api.get("/messages", params={"user": "u", "conversation_id": conv}).json()["data"][0]
    assert again["feedback"] == {"rating": "like"}
