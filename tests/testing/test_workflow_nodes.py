"""Workflow apps with a callable per node and iteration nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from typing import Any

import pytest

from dify_integrations.testing import DifyTestServer

from ._support import Api, assert_same_shape, fixture_stream, iter_frames


def classify(values: dict[str, Any]) -> dict[str, Any]:
    return {"label": "bug" if "crash" in values["ticket"] else "question"}


def route(values: dict[str, Any]) -> dict[str, Any]:
    return {"team": {"bug": "engineering", "question": "support"}[values["label"]]}


def reply(values: dict[str, Any]) -> Generator[str, None, dict[str, Any]]:
    text = f"Routed to {values['team']} as a {values['label']}."
    for word in text.split(" "):
        yield word + " "
    return {"answer": text}


def node_events(frames: list[tuple[str, Any]], name: str) -> list[dict[str, Any]]:
    return [p["data"] for n, p in frames if n == name and p]


def test_each_node_runs_its_callable(server: DifyTestServer) -> None:
    app = server.create_workflow_app(
        "Triage",
        None,
        nodes=[
            {"title": "Classify", "node_type": "code", "run": classify},
            {"title": "Route", "node_type": "code", "run": route},
            {"title": "Reply", "node_type": "llm", "run": reply},
        ],
    )
    api = Api(server, app.api_key)
    frames = api.stream("/workflows/run", {"inputs": {"ticket": "app crash on start"}, "user": "u"})
    started = node_events(frames, "node_started")
    finished = node_events(frames, "node_finished")
    assert [d["title"] for d in started] == ["Start", "Classify", "Route", "Reply", "End"]
    assert [d["title"] for d in finished] == ["Start", "Classify", "Route", "Reply", "End"]
    assert [d["index"] for d in started] == [1, 2, 3, 4, 5]
    assert [s["id"] for s in started] == [f["id"] for f in finished]
    by_title = {d["title"]: d for d in finished}
    assert by_title["Classify"]["inputs"] == {"ticket": "app crash on start"}
    assert by_title["Classify"]["outputs"] == {"label": "bug"}
    assert by_title["Route"]["inputs"] == {"ticket": "app crash on start", "label": "bug"}
    assert by_title["Route"]["outputs"] == {"team": "engineering"}
    assert by_title["Reply"]["node_type"] == "llm"
    for data in finished:
        assert data["status"] == "succeeded"
        assert isinstance(data["elapsed_time"], float)
        assert data["elapsed_time"] >= 0
    chunks = [p for n, p in frames if n == "text_chunk" and p]
    assert "".join(c["data"]["text"] for c in chunks).strip() == ("Routed to engineering as a bug.")
    reply_node = by_title["Reply"]["node_id"]
    assert {tuple(c["data"]["from_variable_selector"]) for c in chunks} == {(reply_node, "text")}
    names = [n for n, _ in frames if n != "ping"]
    # text chunks stream between Reply's node_started and node_finished
    assert names.index("text_chunk") > names.index("node_started", 6)
    done = frames[-1][1]
    assert done is not None
    assert done["data"]["status"] == "succeeded"
    assert done["data"]["outputs"] == {"answer": "Routed to engineering as a bug."}
    assert done["data"]["total_steps"] == 5
    blocking = api.post(
        "/workflows/run", json={"inputs": {"ticket": "how do I log in?"}, "user": "u"}
    ).json()
    assert blocking["data"]["outputs"] == {"answer": "Routed to support as a question."}


def test_handler_runs_in_last_node_with_earlier_outputs(server: DifyTestServer) -> None:
    seen: list[dict[str, Any]] = []

    def handler(values: dict[str, Any]) -> dict[str, Any]:
        seen.append(values)
        return {"result": values["label"].upper()}

    app = server.create_workflow_app(
        "Handler last",
        handler,
        nodes=[{"title": "Classify", "run": classify}, {"title": "Format"}],
    )
    api = Api(server, app.api_key)
    body = api.post("/workflows/run", json={"inputs": {"ticket": "crash"}, "user": "u"}).json()
    assert body["data"]["outputs"] == {"result": "BUG"}
    assert seen == [{"ticket": "crash", "label": "bug"}]


def test_node_that_raises_fails_the_run_there(server: DifyTestServer) -> None:
    ran: list[str] = []

    def unreachable(values: dict[str, Any]) -> dict[str, Any]:
        ran.append("after")
        return {}

    def broken(values: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("[openai] Rate Limit Error, Error code: 429")

    app = server.create_workflow_app(
        "Fails in the middle",
        None,
        nodes=[
            {"title": "Classify", "run": classify},
            {"title": "Summarise", "node_type": "llm", "run": broken},
            {"title": "After", "run": unreachable},
        ],
    )
    api = Api(server, app.api_key)
    frames = api.stream("/workflows/run", {"inputs": {"ticket": "crash"}, "user": "u"})
    names = [n for n, _ in frames if n != "ping"]
    assert names == ["workflow_started"] + ["node_started", "node_finished"] * 3 + [
        "workflow_finished"
    ]
    failed = node_events(frames, "node_finished")[-1]
    assert (failed["title"], failed["status"]) == ("Summarise", "failed")
    assert failed["error"] == "[openai] Rate Limit Error, Error code: 429"
    assert failed["inputs"] == {"ticket": "crash", "label": "bug"}
    assert failed["outputs"] is None
    expected = fixture_stream("workflow_failed_streaming.sse")
    assert_same_shape(frames[-2][1], expected[-2][1])
    assert_same_shape(frames[-1][1], expected[-1][1])
    done = frames[-1][1]
    assert done is not None
    assert done["data"]["status"] == "failed"
    assert done["data"]["error"] == failed["error"]
    assert ran == []
    detail = api.get(f"/workflows/run/{done['workflow_run_id']}").json()
    assert (detail["status"], detail["error"]) == ("failed", failed["error"])


def test_invalid_node_specs(server: DifyTestServer) -> None:
    with pytest.raises(ValueError, match="unknown keys"):
        server.create_workflow_app("x", None, nodes=[{"title": "A", "handler": classify}])
    with pytest.raises(ValueError, match="callable"):
        server.create_workflow_app("x", None, nodes=[{"title": "A", "run": "classify"}])
    with pytest.raises(ValueError, match="over"):
        server.create_workflow_app("x", None, nodes=[{"node_type": "iteration"}])


# ---------------------------------------------------------------------- iterations

ITERATION_EVENTS = ("iteration_started", "iteration_next", "iteration_completed")


def upper(values: dict[str, Any]) -> str:
    return str(values["item"]).upper()


def iteration_app(server: DifyTestServer, run: Any = upper) -> Api:
    app = server.create_workflow_app(
        "Upper-case each",
        None,
        nodes=[
            {
                "title": "For each item",
                "node_type": "iteration",
                "over": "items",
                "run": run,
                "inner": {"title": "Upper-case", "node_type": "template-transform"},
            },
            {"title": "Join", "run": lambda v: {"result": v["output"]}},
        ],
    )
    return Api(server, app.api_key)


def test_iteration_matches_fixture(server: DifyTestServer) -> None:
    api = iteration_app(server)
    frames = api.stream("/workflows/run", {"inputs": {"items": ["a", "b"]}, "user": "u"})
    expected = fixture_stream("workflow_iteration_loop_streaming.sse")

    def iteration_part(seq: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        names = [n for n, _ in seq]
        first, last = names.index("iteration_started"), names.index("iteration_completed")
        return seq[first : last + 1]

    got, want = iteration_part(frames), iteration_part(expected)
    assert [n for n, _ in got] == [n for n, _ in want]
    for (_, actual), (_, reference) in zip(got, want, strict=True):
        assert_same_shape(actual, reference)
    started, *_, completed = (p["data"] for _, p in got)
    assert started["metadata"] == {"iterator_length": 2}
    assert started["inputs"] == {"iterator_selector": ["a", "b"]}
    assert started["id"] == started["node_id"]
    inner = [p["data"] for n, p in got if n == "node_finished"]
    assert [d["outputs"] for d in inner] == [{"output": "A"}, {"output": "B"}]
    assert {d["iteration_id"] for d in inner} == {started["node_id"]}
    assert [d["execution_metadata"]["iteration_index"] for d in inner] == [0, 1]
    assert len({d["node_id"] for d in inner}) == 1  # one node, executed per item
    assert len({d["id"] for d in inner}) == 2
    assert [d["index"] for d in inner] == [2, 3]  # after Start; the container has none
    assert [d["inputs"]["item"] for d in inner] == ["a", "b"]
    nxt = next(p["data"] for n, p in got if n == "iteration_next")
    assert nxt["index"] == 1
    assert completed["outputs"] == {"output": ["A", "B"]}
    assert (completed["status"], completed["error"], completed["steps"]) == ("succeeded", None, 2)
    done = frames[-1][1]
    assert done is not None
    assert done["data"]["outputs"] == {"result": ["A", "B"]}
    # the container gets no node_started / node_finished of its own
    assert "For each item" not in [d["title"] for d in node_events(frames, "node_started")]


def test_iteration_without_run_and_blocking(server: DifyTestServer) -> None:
    app = server.create_workflow_app(
        "Identity", None, nodes=[{"title": "Each", "node_type": "iteration", "over": "xs"}]
    )
    api = Api(server, app.api_key)
    body = api.post("/workflows/run", json={"inputs": {"xs": [1, 2, 3]}, "user": "u"}).json()
    assert body["data"]["status"] == "succeeded"
    assert body["data"]["outputs"] == {"output": [1, 2, 3]}
    frames = api.stream("/workflows/run", {"inputs": {"xs": [1, 2, 3]}, "user": "u"})
    names = [n for n, _ in frames]
    assert names.count("iteration_next") == 2
    assert names.count("node_started") == 2 + 3  # Start, End and one per item


def test_iteration_item_failure_fails_run(server: DifyTestServer) -> None:
    def picky(values: dict[str, Any]) -> str:
        if values["item"] == "b":
            raise ValueError("cannot upper-case b")
        return upper(values)

    api = iteration_app(server, picky)
    frames = api.stream("/workflows/run", {"inputs": {"items": ["a", "b", "c"]}, "user": "u"})
    names = [n for n, _ in frames if n != "ping"]
    assert names[-3:] == ["node_finished", "iteration_completed", "workflow_finished"]
    failed = frames[-3][1]["data"]
    assert (failed["status"], failed["error"]) == ("failed", "cannot upper-case b")
    assert failed["execution_metadata"]["iteration_index"] == 1
    completed = frames[-2][1]["data"]
    assert (completed["status"], completed["error"]) == ("failed", "cannot upper-case b")
    assert completed["outputs"] == {"output": ["A"]}
    done = frames[-1][1]["data"]
    assert (done["status"], done["error"]) == ("failed", "cannot upper-case b")
    assert "Join" not in [d["title"] for d in node_events(frames, "node_started")]


def test_iteration_over_non_list_fails(server: DifyTestServer) -> None:
    api = iteration_app(server)
    frames = api.stream("/workflows/run", {"inputs": {"items": "abc"}, "user": "u"})
    names = [n for n, _ in frames if n != "ping"]
    assert names[-3:] == ["iteration_started", "iteration_completed", "workflow_finished"]
    done = frames[-1][1]["data"]
    assert done["status"] == "failed"
    assert "please provide a list" in done["error"]


def test_stop_during_iteration(server: DifyTestServer) -> None:
    app = server.create_workflow_app(
        "Slow iteration",
        None,
        nodes=[{"title": "Each", "node_type": "iteration", "over": "xs", "run": upper}],
        token_delay=0.02,
    )
    api = Api(server, app.api_key)
    frames: list[tuple[str, Any]] = []
    body = {"inputs": {"xs": list(range(200))}, "user": "u", "response_mode": "streaming"}
    with api.session.post(api.base + "/workflows/run", json=body, stream=True, timeout=30) as resp:
        for name, payload in iter_frames(resp):
            frames.append((name, payload))
            if name == "iteration_next" and payload["data"]["index"] == 2:
                stop = api.post(f"/workflows/tasks/{payload['task_id']}/stop", json={"user": "u"})
                assert stop.status_code == 200
    names = [n for n, _ in frames]
    assert names[-1] == "workflow_finished"
    assert frames[-1][1]["data"]["status"] == "stopped"
    assert "iteration_completed" not in names
    assert names.count("iteration_next") < 199


def test_async_node_callables(server: DifyTestServer) -> None:
    async def lookup(values: dict[str, Any]) -> dict[str, Any]:
        return {"owner": f"team-{values['ticket']}"}

    async def stream(values: dict[str, Any]) -> AsyncIterator[str]:
        for piece in ("Owner: ", values["owner"]):
            yield piece

    app = server.create_workflow_app(
        "Async nodes",
        None,
        nodes=[{"title": "Lookup", "run": lookup}, {"title": "Say", "run": stream}],
    )
    api = Api(server, app.api_key)
    frames = api.stream("/workflows/run", {"inputs": {"ticket": "42"}, "user": "u"})
    text = "".join(p["data"]["text"] for n, p in frames if n == "text_chunk" and p)
    assert text == "Owner: team-42"
    done = frames[-1][1]
    assert done is not None
    assert done["data"]["outputs"] == {"text": "Owner: team-42"}
