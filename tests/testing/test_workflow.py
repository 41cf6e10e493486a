"""Workflow apps: blocking, streaming, failed runs, run detail, logs."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest

from dify_integrations.testing import DifyTestServer

from ._support import Api, assert_same_shape, fixture_json, fixture_stream

FORM = [{"text-input": {"label": "Topic", "variable": "topic", "required": True, "max_length": 48}}]


def summarise(inputs: dict[str, Any]) -> Generator[str, None, dict[str, Any]]:
    words = f"{inputs['topic']} convert sunlight into electricity.".split(" ")
    for i, word in enumerate(words):
        yield word if i == 0 else " " + word
    return {"summary": " ".join(words)}


@pytest.fixture(scope="module")
def wf(server: DifyTestServer) -> Api:
    app = server.create_workflow_app(
        "Summarise",
        summarise,
        user_input_form=FORM,
        nodes=[{"node_type": "llm", "title": "Summarise"}],
    )
    return Api(server, app.api_key)


def test_blocking_shape(wf: Api) -> None:
    resp = wf.post("/workflows/run", json={"inputs": {"topic": "Solar panels"}, "user": "u"})
    assert resp.status_code == 200
    body = resp.json()
    assert_same_shape(body, fixture_json("workflow_blocking.json"))
    assert body["data"]["status"] == "succeeded"
    assert body["data"]["outputs"] == {"summary": "Solar panels convert sunlight into electricity."}


def test_streaming_matches_fixture(wf: Api) -> None:
    frames = wf.stream("/workflows/run", {"inputs": {"topic": "Solar panels"}, "user": "u"})
    expected = fixture_stream("workflow_streaming.sse")
    got = [n for n, _ in frames]
    want = [n for n, _ in expected]
    # same order; our handler streams more chunks than the fixture's three
    assert [n for i, n in enumerate(got) if n != "text_chunk" or got[i - 1] != "text_chunk"] == [
        n for i, n in enumerate(want) if n != "text_chunk" or want[i - 1] != "text_chunk"
    ]
    for event in (
        "workflow_started",
        "node_started",
        "node_finished",
        "text_chunk",
        "workflow_finished",
    ):
        assert_same_shape(
            next(p for n, p in frames if n == event), next(p for n, p in expected if n == event)
        )
    text = "".join(p["data"]["text"] for n, p in frames if n == "text_chunk" and p)
    assert text == "Solar panels convert sunlight into electricity."
    started = next(p for n, p in frames if n == "workflow_started")
    assert started is not None
    assert started["data"]["inputs"]["sys.user_id"] == "u"


def test_failed_run(server: DifyTestServer) -> None:
    def broken(inputs: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("[openai] Rate Limit Error, Error code: 429")

    api = Api(server, server.create_workflow_app("Broken", broken).api_key)
    frames = api.stream("/workflows/run", {"inputs": {}, "user": "u"})
    expected = fixture_stream("workflow_failed_streaming.sse")
    assert [n for n, _ in frames] == [n for n, _ in expected]
    finished = frames[-1][1]
    assert finished is not None
    assert finished["data"]["status"] == "failed"
    assert finished["data"]["error"] == "[openai] Rate Limit Error, Error code: 429"
    assert_same_shape(finished, expected[-1][1])
    blocking = api.post("/workflows/run", json={"inputs": {}, "user": "u"})
    assert blocking.status_code == 200
    assert blocking.json()["data"]["status"] == "failed"


def test_run_detail_inputs_is_json_string(wf: Api) -> None:
    run = wf.post("/workflows/run", json={"inputs": {"topic": "Wind"}, "user": "u"}).json()
    detail = wf.get(f"/workflows/run/{run['workflow_run_id']}")
    assert detail.status_code == 200
    assert_same_shape(detail.json(), fixture_json("workflow_run_detail.json"))
    body = detail.json()
    assert isinstance(body["inputs"], str)
    assert json.loads(body["inputs"])["topic"] == "Wind"
    assert body["outputs"] == run["data"]["outputs"]
    missing = wf.get("/workflows/run/unknown-run")
    assert missing.status_code == 404
    assert missing.json() == {
        "code": "not_found",
        "message": "Workflow run not found.",
        "status": 404,
    }


def test_workflow_validation(wf: Api) -> None:
    resp = wf.post("/workflows/run", json={"inputs": {}, "user": "u"})
    assert resp.json() == {
        "code": "invalid_param",
        "message": "topic is required in input form",
        "status": 400,
    }
    resp = wf.post("/workflows/run", json={"inputs": {"topic": "x"}})
    assert resp.json()["message"] == "Arg user must be provided."


def test_run_specific_version(wf: Api, server: DifyTestServer) -> None:
    app = server.get_app(str(wf.session.headers["Authorization"]).split()[1])
    assert app is not None
    ok = wf.post(f"/workflows/{app.workflow_id}/run", json={"inputs": {"topic": "x"}, "user": "u"})
    assert ok.status_code == 200
    bad = wf.post("/workflows/not-a-uuid/run", json={"inputs": {"topic": "x"}, "user": "u"})
    assert bad.json() == {
        "code": "bad_request",
        "message": "Invalid workflow ID format",
        "status": 400,
    }
    unknown = wf.post(
        "/workflows/9b2f6c1e-7d4a-4e3b-a1c2-3d4e5f6a7b8c/run",
        json={"inputs": {"topic": "x"}, "user": "u"},
    )
    assert unknown.status_code == 404


def test_logs(wf: Api) -> None:
    wf.post("/workflows/run", json={"inputs": {"topic": "logs"}, "user": "u"})
    resp = wf.get("/workflows/logs", params={"limit": 1})
    assert resp.status_code == 200
    body = resp.json()
    assert_same_shape(body, fixture_json("workflow_logs.json"))
    assert body["limit"] == 1
    assert body["total"] >= 1
    assert len(body["data"]) == 1
