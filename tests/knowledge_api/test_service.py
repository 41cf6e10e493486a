"""The service over HTTP: error bodies, limits, keys, top_k/score_threshold, concurrency."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from typing import Any

import pytest

from dify_integrations.knowledge_api import (
    Record,
    ServiceSettings,
    create_app,
    normalize_score,
    saturating,
)

from .conftest import KEY, StartService

BODY = {"knowledge_id": "kb", "query": "returns", "retrieval_setting": {"top_k": 3, "score_threshold": 0.0}}  # fmt: skip


def _scored(query: str) -> list[dict[str, Any]]:
    return [
        {"content": f"hit {i}", "score": score, "title": f"d{i}.md", "metadata": {"i": i}}
        for i, score in enumerate([0.91, 0.75, 0.5, 0.2, 0.05])
    ]


async def test_records_have_difys_shape(start_service: StartService) -> None:
    def retriever(query: str) -> list[Record]:
        return [Record("text", 0.8, "t.md", {"path": "s3://x"}), Record("bare")]

    service = await start_service(create_app({"kb": retriever}, api_key=KEY))
    records = await service.retrieve("q")
    assert records == [
        {"content": "text", "score": 0.8, "title": "t.md", "metadata": {"path": "s3://x"}},
        {"content": "bare", "score": 0.5, "title": "", "metadata": {}},  # rank 1: 1/(1+1)
    ]


@pytest.mark.parametrize(
    ("top_k", "threshold", "expected"),
    [(5, 0.0, 5), (2, 0.0, 2), (5, 0.5, 3), (5, 0.76, 1), (1, 0.95, 0), (10, 0.0, 5)],
)
async def test_top_k_and_score_threshold(
    start_service: StartService, top_k: int, threshold: float, expected: int
) -> None:
    service = await start_service(create_app({"kb": _scored}, api_key=KEY))
    records = await service.retrieve("q", top_k=top_k, score_threshold=threshold)
    assert len(records) == expected
    assert all(r["score"] >= threshold for r in records)
    assert [r["score"] for r in records] == sorted((r["score"] for r in records), reverse=True)


async def test_top_k_reaches_the_retriever_and_null_top_k_takes_the_default(
    start_service: StartService,
) -> None:
    asked: list[int] = []

    def retriever(query: str, top_k: int) -> list[str]:
        asked.append(top_k)
        return [f"r{i}" for i in range(top_k + 3)]  # more than asked: the service cuts

    settings = ServiceSettings(default_top_k=2)
    service = await start_service(create_app({"kb": retriever}, api_key=KEY, settings=settings))
    assert len(await service.retrieve("q", top_k=4)) == 4
    status, answer = await service.post(
        {
            "knowledge_id": "kb",
            "query": "q",
            "retrieval_setting": {"top_k": None, "score_threshold": None},
        }
    )
    assert status == 200
    assert len(answer["records"]) == 2
    assert asked == [4, 2]


def test_normalize_score_rule() -> None:
    assert normalize_score(0.42, 0) == 0.42
    assert normalize_score(1.0, 3) == 1.0
    assert normalize_score(1.0000000000000002, 0) == 1.0  # float noise of a cosine
    assert normalize_score(-0.3, 0) == 0.0
    assert normalize_score(3.0, 0) == 1.0
    assert normalize_score(float("inf"), 0) == 1.0
    assert [normalize_score(None, r) for r in range(3)] == [1.0, 0.5, 0.333333]
    assert normalize_score(float("nan"), 1) == 0.5
    raw = [-2.0, -0.1, 0.0, 0.3, 0.999, 1.0, 1.5, 40.0]
    mapped = [normalize_score(s, 0) for s in raw]
    assert mapped == sorted(mapped)  # monotonic: never swaps two records


def test_saturating_rule() -> None:
    bm25 = saturating(5.0)
    assert bm25(5.0, 0) == 0.5
    assert bm25(15.0, 0) == 0.75
    assert bm25(-1.0, 0) == 0.0
    assert bm25(None, 1) == 0.5
    assert bm25(float("inf"), 0) == 1.0
    raw = [0.0, 0.5, 1.0, 2.0, 9.0, 100.0]
    assert [bm25(s, 0) for s in raw] == sorted(bm25(s, 0) for s in raw)
    with pytest.raises(ValueError, match="positive"):
        saturating(0)


async def test_scores_outside_0_1_are_normalised(start_service: StartService) -> None:
    def raw(query: str) -> list[tuple[str, float]]:
        return [("bm25 high", 7.5), ("bm25 low", 2.5), ("cosine", 0.3), ("negative", -0.4)]

    service = await start_service(create_app({"kb": raw}, api_key=KEY))
    records = await service.retrieve("q")
    assert [(r["content"], r["score"]) for r in records] == [
        ("bm25 high", 1.0),
        ("bm25 low", 1.0),  # clamped, and kept after the higher raw score
        ("cosine", 0.3),
        ("negative", 0.0),
    ]
    service = await start_service(create_app({"kb": raw}, api_key=KEY, normalize=saturating(2.5)))
    records = await service.retrieve("q", score_threshold=0.2)
    assert [(r["content"], r["score"]) for r in records] == [
        ("bm25 high", 0.75),
        ("bm25 low", 0.5),
    ]


async def test_custom_normalizer_must_stay_in_range(start_service: StartService) -> None:
    service = await start_service(
        create_app({"kb": _scored}, api_key=KEY, normalize=lambda s, r: 2.0)
    )
    status, answer = await service.post(BODY)
    assert status == 500
    assert answer["error_code"] == 5001


# ------------------------------------------------------------------ error bodies


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, 1001),
        ({"Authorization": ""}, 1001),
        ({"Authorization": f"Basic {KEY}"}, 1001),
        ({"Authorization": "Bearer"}, 1001),
        ({"Authorization": f"Bearer {KEY} extra"}, 1001),
        ({"Authorization": "Bearer wrong-key"}, 1002),
        ({"Authorization": f"Bearer {KEY}x"}, 1002),
        ({"Authorization": f"bearer {KEY}"}, None),  # the scheme is case-insensitive
    ],
)
async def test_auth_error_bodies(
    start_service: StartService, headers: dict[str, str], code: int | None
) -> None:
    service = await start_service(create_app({"kb": _scored}, api_key=KEY))
    status, answer = await service.post(BODY, key=None, headers=headers)
    if code is None:
        assert status == 200
        return
    assert status == 403
    assert answer["error_code"] == code
    assert set(answer) == {"error_code", "error_msg"}
    assert KEY not in json.dumps(answer)


async def test_auth_is_checked_before_the_body_is_read(start_service: StartService) -> None:
    service = await start_service(create_app({"kb": _scored}, api_key=KEY))
    status, answer = await service.post(data=b"{not json", key="wrong")
    assert (status, answer["error_code"]) == (403, 1002)
    status, answer = await service.post(data=b"{not json", key=None)
    assert (status, answer["error_code"]) == (403, 1001)


async def test_unknown_knowledge_id(start_service: StartService) -> None:
    service = await start_service(create_app({"kb": _scored}, api_key=KEY))
    status, answer = await service.post({**BODY, "knowledge_id": "nope"})
    assert status == 404
    assert answer == {"error_code": 2001, "error_msg": "The knowledge does not exist."}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"", "not valid JSON"),
        (json.dumps({**BODY, "query": ""}).encode(), "'query'"),
        (json.dumps({**BODY, "query": 5}).encode(), "'query'"),
        (json.dumps({**BODY, "knowledge_id": None}).encode(), "'knowledge_id'"),
        (json.dumps({k: v for k, v in BODY.items() if k != "retrieval_setting"}).encode(), "'retrieval_setting'"),
        (json.dumps({**BODY, "retrieval_setting": {"top_k": "3"}}).encode(), "top_k"),
        (json.dumps({**BODY, "retrieval_setting": {"top_k": 0}}).encode(), "top_k"),
        (json.dumps({**BODY, "retrieval_setting": {"top_k": True}}).encode(), "top_k"),
        (json.dumps({**BODY, "retrieval_setting": {"top_k": 10**6}}).encode(), "at most"),
        (json.dumps({**BODY, "retrieval_setting": {"top_k": 2, "score_threshold": 1.5}}).encode(), "score_threshold"),
        (json.dumps({**BODY, "retrieval_setting": {"top_k": 2, "score_threshold": "0.5"}}).encode(), "score_threshold"),
        (json.dumps({**BODY, "metadata_condition": {"conditions": [{"name": "a", "comparison_operator": "~"}]}}).encode(), "metadata_condition"),
        (b"[" * 100_000 + b"]" * 100_000, "too large"),
    ],
)  # fmt: skip
async def test_malformed_bodies_get_400(
    start_service: StartService, body: bytes, reason: str
) -> None:
    settings = ServiceSettings(max_body_bytes=300_000)
    service = await start_service(create_app({"kb": _scored}, api_key=KEY, settings=settings))
    status, answer = await service.post(data=body)
    if reason == "too large":  # a nesting bomb inside the size limit is refused as such
        assert status in (400, 413)
        assert answer["error_code"] in (4001, 4013)
        return
    assert status == 400, answer
    assert answer["error_code"] == 4001
    assert reason in answer["error_msg"]


async def test_body_size_limit(start_service: StartService) -> None:
    settings = ServiceSettings(max_body_bytes=1024)
    service = await start_service(create_app({"kb": _scored}, api_key=KEY, settings=settings))
    big = {**BODY, "query": "x" * 2000}
    status, answer = await service.post(big)
    assert (status, answer["error_code"]) == (413, 4013)
    status, _ = await service.post(BODY)
    assert status == 200


async def test_unknown_route_and_method_answer_json(start_service: StartService) -> None:
    service = await start_service(create_app({"kb": _scored}, api_key=KEY))
    status, answer = await service.post(BODY, path="/retrieve")
    assert (status, answer["error_code"]) == (404, 404)
    async with service.session.get(service.endpoint + "/retrieval") as resp:
        assert resp.status == 405
        assert (await resp.json())["error_code"] == 405


async def test_retriever_that_raises_gets_500_without_details(
    start_service: StartService, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(query: str) -> list[str]:
        raise RuntimeError("database password is hunter2")

    service = await start_service(create_app({"kb": broken}, api_key=KEY))
    with caplog.at_level(logging.ERROR, logger="dify_integrations.knowledge_api"):
        status, answer = await service.post(BODY)
    assert status == 500
    assert answer["error_code"] == 5001
    assert answer["error_msg"].startswith("Retrieval failed.")
    text = json.dumps(answer)
    assert "hunter2" not in text
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert any("hunter2" in (r.exc_text or "") for r in caplog.records)  # the operator sees it


async def test_retriever_returning_garbage_is_a_500(start_service: StartService) -> None:
    service = await start_service(create_app({"kb": lambda q: [object()]}, api_key=KEY))
    status, answer = await service.post(BODY)
    assert (status, answer["error_code"]) == (500, 5001)


async def test_slow_retriever_times_out(start_service: StartService) -> None:
    release = asyncio.Event()

    async def slow(query: str) -> list[str]:
        await release.wait()
        return ["late"]

    settings = ServiceSettings(request_timeout=0.3)
    service = await start_service(create_app({"kb": slow}, api_key=KEY, settings=settings))
    status, answer = await service.post(BODY)
    assert status == 504
    assert answer == {"error_code": 5004, "error_msg": "Retrieval timed out."}
    release.set()


async def test_slow_sync_retriever_times_out(start_service: StartService) -> None:
    gate = threading.Event()

    def slow(query: str) -> list[str]:
        gate.wait(5)
        return ["late"]

    settings = ServiceSettings(request_timeout=0.3)
    service = await start_service(create_app({"kb": slow}, api_key=KEY, settings=settings))
    status, answer = await service.post(BODY)
    gate.set()
    assert (status, answer["error_code"]) == (504, 5004)


async def test_200_concurrent_requests_bounded_concurrency(start_service: StartService) -> None:
    running = 0
    peak = 0

    async def retriever(query: str) -> list[dict[str, Any]]:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return [{"content": query, "score": 0.9, "metadata": {}}]

    settings = ServiceSettings(max_concurrency=8)
    service = await start_service(create_app({"kb": retriever}, api_key=KEY, settings=settings))
    results = await asyncio.gather(*(service.post({**BODY, "query": f"q{i}"}) for i in range(200)))
    assert [status for status, _ in results] == [200] * 200
    assert [answer["records"][0]["content"] for _, answer in results] == [
        f"q{i}" for i in range(200)
    ]
    assert peak == 8  # never more than the bound, and the bound was reached


async def test_sync_retrievers_run_in_the_pool_async_ones_on_the_loop(
    start_service: StartService,
) -> None:
    threads: dict[str, str] = {}

    def sync_retriever(query: str) -> list[str]:
        threads["sync"] = threading.current_thread().name
        return ["s"]

    async def async_retriever(query: str) -> list[str]:
        threads["async"] = threading.current_thread().name
        return ["a"]

    service = await start_service(
        create_app({"s": sync_retriever, "a": async_retriever}, api_key=KEY)
    )
    await service.retrieve("q", knowledge_id="s")
    await service.retrieve("q", knowledge_id="a")
    assert threads["sync"].startswith("knowledge-api")
    assert threads["async"] == threading.current_thread().name


async def test_keys_are_compared_with_compare_digest(
    start_service: StartService, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    service = await start_service(create_app({"kb": _scored}, api_key=KEY))
    assert (await service.post(BODY, key="guess"))[0] == 403
    assert (await service.post(BODY))[0] == 200
    assert calls == [(b"guess", KEY.encode()), (KEY.encode(), KEY.encode())]


async def test_per_knowledge_keys(
    start_service: StartService, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(b) or real(a, b))
    app = create_app(
        {"a": _scored, "b": _scored, "c": _scored}, api_key={"a": "key-a", "b": "key-b"}
    )
    service = await start_service(app)
    assert len(await service.retrieve("q", knowledge_id="a", key="key-a")) == 5
    # all keys are compared before the body is read, whichever matches
    assert calls[:2] == [b"key-a", b"key-b"]
    status, answer = await service.post({**BODY, "knowledge_id": "b"}, key="key-a")
    assert (status, answer["error_code"]) == (403, 1002)
    status, answer = await service.post({**BODY, "knowledge_id": "c"}, key="key-a")
    assert (status, answer["error_code"]) == (404, 2001)  # served ids need a key
    status, answer = await service.post({**BODY, "knowledge_id": "a"}, key="key-c")
    assert (status, answer["error_code"]) == (403, 1002)


def test_bad_construction() -> None:
    with pytest.raises(ValueError, match="no retrievers"):
        create_app({}, api_key=KEY)
    with pytest.raises(ValueError, match="api_key"):
        create_app({"kb": _scored}, api_key="")
    with pytest.raises(ValueError, match="api_key"):
        create_app({"kb": _scored}, api_key="has space")
    with pytest.raises(ValueError, match="not served"):
        create_app({"kb": _scored}, api_key={"other": "k"})
    with pytest.raises(TypeError, match="cannot serve"):
        create_app({"kb": 42}, api_key=KEY)
    with pytest.raises(ValueError, match="path_prefix"):
        ServiceSettings(path_prefix="dify/")
    with pytest.raises(ValueError, match="request_timeout"):
        ServiceSettings(request_timeout=0)


async def test_health_and_path_prefix(start_service: StartService) -> None:
    settings = ServiceSettings(path_prefix="/dify")
    service = await start_service(create_app({"kb": _scored}, api_key=KEY, settings=settings))
    async with service.session.get(service.endpoint + "/dify/health") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok", "knowledge_bases": 1}
    status, answer = await service.post(BODY, path="/dify/retrieval")
    assert status == 200
    assert len(answer["records"]) == 3


async def test_access_log_is_structured_and_has_no_key(
    start_service: StartService, caplog: pytest.LogCaptureFixture
) -> None:
    service = await start_service(create_app({"kb": _scored}, api_key=KEY))
    with caplog.at_level(logging.INFO, logger="dify_integrations.knowledge_api.access"):
        await service.post(BODY)
        await service.post(BODY, key="wrong")
    entries = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith(".access")]
    assert [(e["status"], e["knowledge_id"], e["records"], e["error_code"]) for e in entries] == [
        (200, "kb", 3, None),
        (403, None, None, 1002),
    ]
    assert all(e["path"] == "/retrieval" and e["duration_ms"] >= 0 for e in entries)
    assert all(KEY not in r.getMessage() and "wrong" not in r.getMessage() for r in caplog.records)


def test_keys_repr_hides_them() -> None:
    app = create_app({"kb": _scored}, api_key=KEY)
    from dify_integrations.knowledge_api._app import SERVICE

    assert KEY not in repr(app[SERVICE].keys)
    assert KEY not in repr(vars(app[SERVICE]))


async def test_metadata_that_json_cannot_hold(start_service: StartService) -> None:
    import datetime

    def odd(query: str) -> list[dict[str, Any]]:
        meta = {"when": datetime.date(2024, 1, 2), "nan": float("nan"), "set": {1}, "obj": object}
        return [{"content": "x", "score": 0.5, "metadata": meta}]

    service = await start_service(create_app({"kb": odd}, api_key=KEY))
    (record,) = await service.retrieve("q")
    assert record["metadata"]["when"] == "2024-01-02"
    assert record["metadata"]["nan"] is None
    assert record["metadata"]["set"] == [1]
    assert isinstance(record["metadata"]["obj"], str)


async def test_service_side_filter_asks_for_more_until_top_k_match(
    start_service: StartService,
) -> None:
    asked: list[int] = []
    corpus = [
        {
            "content": f"doc {i}",
            "score": 1 - i / 200,
            "metadata": {"lang": "de" if i >= 60 else "en"},
        }
        for i in range(100)
    ]

    def retriever(query: str, top_k: int) -> list[dict[str, Any]]:
        asked.append(top_k)
        return corpus[:top_k]

    service = await start_service(create_app({"kb": retriever}, api_key=KEY))
    condition = {"conditions": [{"name": "lang", "comparison_operator": "is", "value": "de"}]}
    records = await service.retrieve("q", top_k=3, metadata_condition=condition)
    assert [r["content"] for r in records] == ["doc 60", "doc 61", "doc 62"]
    assert asked == [12, 48, 192]  # top_k * 4, then 4x more while too few matched
    asked.clear()
    assert (
        await service.retrieve(
            "q",
            top_k=3,
            metadata_condition={
                "conditions": [{"name": "lang", "comparison_operator": "is", "value": "fr"}]
            },
        )
        == []
    )
    assert asked == [12, 48, 192]  # stops when the retriever has no more (100 < 192)


def test_public_names() -> None:
    import dify_integrations.knowledge_api as package

    assert sorted(package.__all__) == [
        "Condition", "ConditionError", "KnowledgeAPIServer", "MetadataCondition", "OPERATORS",
        "Query", "Record", "ServiceSettings", "create_app", "load_retrievers",
        "normalize_score", "saturating", "serve",
    ]  # fmt: skip
    for name in package.__all__:
        assert getattr(package, name) is not None


async def test_difys_connection_check_on_save(start_service: StartService) -> None:
    """Dify saves an External Knowledge API after ``POST {endpoint}/retrieval`` with only the
    Authorization header; it refuses the endpoint on 404 / 502 and the key on 403."""
    service = await start_service(create_app({"kb": _scored}, api_key=KEY))
    url = service.endpoint + "/retrieval"
    async with service.session.post(url, headers={"Authorization": f"Bearer {KEY}"}) as resp:
        assert resp.status not in (403, 404, 502)
        assert (await resp.json())["error_code"] == 4001
    async with service.session.post(url, headers={"Authorization": "Bearer wrong"}) as resp:
        assert resp.status == 403
