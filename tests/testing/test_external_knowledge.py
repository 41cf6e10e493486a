"""DifyTestServer's external knowledge bases against small hand-written endpoints."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from aiohttp import web

from dify_integrations import DifyClient, InternalServerError, StreamError
from dify_integrations.testing import DifyTestServer


class Endpoint:
    """An aiohttp app in a thread that answers ``/retrieval`` with a canned reply."""

    def __init__(self, status: int = 200, body: Any = None) -> None:
        self.status = status
        self.body = body if body is not None else {"records": []}
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.loop = asyncio.new_event_loop()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        text = self.body if isinstance(self.body, str) else json.dumps(self.body)
        return web.Response(status=self.status, text=text, content_type="application/json")

    def __enter__(self) -> Endpoint:
        app = web.Application()
        app.router.add_post("/kb/retrieval", self.handle)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/kb"
        self.runner = runner
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()


RECORD = {"content": "Returns within 30 days.", "score": 0.8, "title": "returns.md", "metadata": {"path": "s3://kb/returns.md"}}  # fmt: skip


@pytest.fixture
def server() -> Iterator[DifyTestServer]:
    with DifyTestServer() as local:
        yield local


def _retrieve(server: DifyTestServer, dataset_id: str, body: dict[str, Any]) -> Any:
    with DifyClient(server.dataset_api_key, base_url=server.base_url, max_retries=0) as client:
        return client.retrieve(dataset_id, **body)


def test_hit_testing_request_and_records(server: DifyTestServer) -> None:
    with Endpoint(body={"records": [RECORD]}) as endpoint:
        ds = server.create_external_dataset(
            "Ext", endpoint.url, "ext-key", "kb-1", top_k=7, score_threshold=0.3,
            score_threshold_enabled=True,
        )  # fmt: skip
        answer = _retrieve(server, ds.id, {"query": 'say "hi"'})
    ((headers, raw),) = endpoint.received
    assert headers["Authorization"] == "Bearer ext-key"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(raw) == {  # the dataset's saved settings; quotes escaped like Dify
        "retrieval_setting": {"top_k": 7, "score_threshold": 0.3},
        "query": 'say \\"hi\\"',
        "knowledge_id": "kb-1",
    }
    assert list(json.loads(raw)) == ["retrieval_setting", "query", "knowledge_id"]
    record = answer.records[0]
    assert (record.content, record.score, record.title, record.metadata) == (
        RECORD["content"], 0.8, "returns.md", {"path": "s3://kb/returns.md"},
    )  # fmt: skip
    assert answer.query == {"content": 'say "hi"'}


def test_external_retrieval_model_wins_and_threshold_off_sends_zero(server: DifyTestServer) -> None:
    with Endpoint() as endpoint:
        ds = server.create_external_dataset("Ext", endpoint.url, "k", "kb-1")
        url = f"{server.base_url}/datasets/{ds.id}/retrieve"
        auth = {"Authorization": f"Bearer {server.dataset_api_key}"}
        external = {"top_k": 9, "score_threshold": 0.9, "score_threshold_enabled": False}
        with requests.Session() as http:
            first = http.post(
                url, json={"query": "q", "external_retrieval_model": external}, headers=auth
            )
            external["score_threshold_enabled"] = True
            second = http.post(
                url, json={"query": "q", "external_retrieval_model": external}, headers=auth
            )
    assert (first.status_code, second.status_code) == (200, 200)
    bodies = [json.loads(raw) for _, raw in endpoint.received]
    assert [b["retrieval_setting"] for b in bodies] == [
        {"top_k": 9, "score_threshold": 0.0},
        {"top_k": 9, "score_threshold": 0.9},
    ]


def test_non_200_gives_no_records_like_dify(server: DifyTestServer) -> None:
    with Endpoint(status=403, body={"error_code": 1002, "error_msg": "no"}) as endpoint:
        ds = server.create_external_dataset("Ext", endpoint.url, "secret-ext-key", "kb-1")
        answer = _retrieve(server, ds.id, {"query": "q"})
    assert answer.records == []
    call = server.external_calls[-1]
    assert (call.status, call.records) == (403, 0)
    assert "secret-ext-key" not in repr(call)


def test_unreachable_endpoint_is_a_500(server: DifyTestServer) -> None:
    with Endpoint() as endpoint:
        url = endpoint.url
    ds = server.create_external_dataset("Ext", url, "k", "kb-1", timeout=5)
    with pytest.raises(InternalServerError):
        _retrieve(server, ds.id, {"query": "q"})


def test_null_metadata_fails_the_chat_message_like_difys_pipeline(server: DifyTestServer) -> None:
    with Endpoint(body={"records": [{**RECORD, "metadata": None}]}) as endpoint:
        ds = server.create_external_dataset("Ext", endpoint.url, "k", "kb-1")
        hit = _retrieve(server, ds.id, {"query": "q"})
        assert hit.records[0].metadata is None  # hit testing passes it through
        app = server.create_chat_app("Bot", dataset_ids=[ds.id])
        with (
            DifyClient(app.api_key, base_url=server.base_url, user="u", max_retries=0) as client,
            pytest.raises(StreamError, match="internal_server_error"),
        ):
            client.send_chat_message("q")


def test_chat_resources_and_context_from_external_records(server: DifyTestServer) -> None:
    records = [RECORD, {**RECORD, "content": "Refunds take a week.", "score": 0.9, "title": "refunds.md", "metadata": {"document_id": "doc-9"}}]  # fmt: skip
    with Endpoint(body={"records": records}) as endpoint:
        ds = server.create_external_dataset("Ext", endpoint.url, "k", "kb-1")
        app = server.create_chat_app("Bot", dataset_ids=[ds.id])
        with DifyClient(app.api_key, base_url=server.base_url, user="u") as client:
            reply = client.send_chat_message("How long do refunds take?")
    resources = [r.model_dump() for r in reply.metadata.retriever_resources]
    assert [
        (r["document_name"], r["document_id"], r["score"], r["position"]) for r in resources
    ] == [
        ("refunds.md", "doc-9", 0.9, 1),
        ("returns.md", "returns.md", 0.8, 2),
    ]
    assert all(
        r["data_source_type"] == "external" and r["dataset_name"] == "Ext" for r in resources
    )
    assert "Refunds take a week." in reply.answer
    ((_, raw),) = endpoint.received
    assert "metadata_condition" not in json.loads(raw)


def test_bad_external_dataset_arguments(server: DifyTestServer) -> None:
    with pytest.raises(ValueError, match="http"):
        server.create_external_dataset("Ext", "ftp://x", "k", "kb")
    with pytest.raises(ValueError, match="external_knowledge_id"):
        server.create_external_dataset("Ext", "http://127.0.0.1:9", "k", "")
    with pytest.raises(ValueError, match="top_k"):
        server.create_external_dataset("Ext", "http://127.0.0.1:9", "k", "kb", top_k=0)
    with pytest.raises(ValueError, match="unknown dataset"):
        server.create_workflow_app(
            "W", None, nodes=[{"node_type": "knowledge-retrieval", "dataset_ids": ["nope"]}]
        )
