"""The aiohttp application: ``POST {prefix}/retrieval`` and ``GET {prefix}/health``."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import SecretStr

from ._auth import Keys, bearer_token
from ._conditions import ConditionError, MetadataCondition
from ._records import Record, normalize_score
from ._sources import Query, Source, as_source

__all__ = ["ServiceSettings", "create_app"]

T = TypeVar("T")
logger = logging.getLogger("dify_integrations.knowledge_api")
access_logger = logging.getLogger("dify_integrations.knowledge_api.access")

#: ``normalize(score, rank) -> float in [0, 1]``; ``score`` is ``None`` when unknown.
Normalizer = Callable[[float | None, int], float]


@dataclass(frozen=True)
class ServiceSettings:
    """Limits of the service (all per process).

    Attributes:
        max_body_bytes: Largest request body accepted (413 above it).
        request_timeout: Seconds a request may wait for a slot and its retrieval (504 after).
        max_concurrency: Retrievals running at once; further requests wait their turn.
        threads: Size of the thread pool that runs sync retrievers.
        default_top_k: ``top_k`` when Dify sends ``null`` (its hit testing can).
        max_top_k: Largest ``top_k`` accepted (400 above it).
        overfetch: When the service must filter results itself, it asks the retriever for
            ``top_k * overfetch`` candidates; if fewer than ``top_k`` pass the filter and the
            retriever returned all it was asked for, it asks again for ``overfetch`` times
            more, up to ``max_fetch``.
        max_fetch: Most candidates asked of a retriever for one request.
        path_prefix: Mount point, e.g. ``"/dify"`` serves ``/dify/retrieval`` (the API
            Endpoint in Dify is then ``http://host:port/dify``).
    """

    max_body_bytes: int = 64 * 1024
    request_timeout: float = 30.0
    max_concurrency: int = 32
    threads: int = 8
    default_top_k: int = 4
    max_top_k: int = 1000
    overfetch: int = 4
    max_fetch: int = 1000
    path_prefix: str = ""

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_concurrency", "threads", "default_top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.overfetch < 2 or self.max_top_k < self.default_top_k:
            raise ValueError("overfetch must be >= 2 and max_top_k >= default_top_k")
        if self.max_fetch < self.max_top_k:
            raise ValueError("max_fetch must be >= max_top_k")
        if not (self.request_timeout > 0 and math.isfinite(self.request_timeout)):
            raise ValueError("request_timeout must be a positive number of seconds")
        prefix = self.path_prefix
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ValueError("path_prefix must start with '/' and not end with '/' (or be '')")


class ServiceError(Exception):
    """An error answered with Dify's error body ``{"error_code", "error_msg"}``."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


#: The error bodies: (HTTP status, error_code, error_msg).
INVALID_HEADER = (
    403,
    1001,
    "Invalid Authorization header format. Expected 'Bearer <api-key>' format.",
)
AUTH_FAILED = (403, 1002, "Authorization failed. Please check your API key.")
NOT_FOUND = (404, 2001, "The knowledge does not exist.")
BAD_REQUEST = 4001
TOO_LARGE = (413, 4013, "Request body too large.")
FAILED = (500, 5001, "Retrieval failed.")
TIMED_OUT = (504, 5004, "Retrieval timed out.")


def _error(spec: tuple[int, int, str], detail: str = "") -> ServiceError:
    status, code, message = spec
    return ServiceError(status, code, f"{message} {detail}".strip())


def _bad(message: str) -> ServiceError:
    return ServiceError(400, BAD_REQUEST, message)


def _body(code: int, message: str) -> dict[str, Any]:
    return {"error_code": code, "error_msg": message}


def parse_request(body: Any, settings: ServiceSettings) -> Query:
    """Validate a ``/retrieval`` body into a :class:`Query`.

    Raises:
        ServiceError: 400 with the reason.
    """
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    knowledge_id = body.get("knowledge_id")
    if not isinstance(knowledge_id, str) or not knowledge_id:
        raise _bad("'knowledge_id' must be a non-empty string.")
    text = body.get("query")
    if not isinstance(text, str) or not text.strip():
        raise _bad("'query' must be a non-empty string.")
    setting = body.get("retrieval_setting")
    if not isinstance(setting, dict):
        raise _bad("'retrieval_setting' must be an object.")
    top_k = setting.get("top_k")
    if top_k is None:
        top_k = settings.default_top_k
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise _bad("'retrieval_setting.top_k' must be a positive integer.")
    if top_k > settings.max_top_k:
        raise _bad(f"'retrieval_setting.top_k' must be at most {settings.max_top_k}.")
    threshold = setting.get("score_threshold")
    if threshold is None:
        threshold = 0.0
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0.0 <= threshold <= 1.0
    ):
        raise _bad("'retrieval_setting.score_threshold' must be a number from 0 to 1.")
    try:
        condition = MetadataCondition.parse(body.get("metadata_condition"))
    except ConditionError as exc:
        raise _bad(f"Invalid 'metadata_condition': {exc}.") from None
    return Query(knowledge_id, text, top_k, float(threshold), condition)


def finish(
    records: list[Record], query: Query, source: Source, normalize: Normalizer
) -> list[Record]:
    """Filter (unless the source did), normalise, apply the threshold, rank, cut to top_k."""
    condition = query.condition
    if condition is not None and condition.conditions and not source.filters_itself:
        records = [r for r in records if condition.matches(r.metadata)]
    for rank, record in enumerate(records):
        score = normalize(record.score, rank)
        if not (isinstance(score, int | float) and 0.0 <= score <= 1.0):
            raise ValueError(f"normalize() returned {score!r}, not a number in [0, 1]")
        record.score = float(score)
    kept = [r for r in records if r.score is not None and r.score >= query.score_threshold]
    kept.sort(key=lambda r: -(r.score or 0.0))
    return kept[: query.top_k]


class _Service:
    """State of one application: sources, keys, limits, the pool and the semaphore."""

    def __init__(
        self,
        sources: dict[str, Source],
        keys: Keys,
        settings: ServiceSettings,
        normalize: Normalizer,
    ) -> None:
        self.sources = sources
        self.keys = keys
        self.settings = settings
        self.normalize = normalize
        self.pool: ThreadPoolExecutor | None = None
        self.slots: asyncio.Semaphore | None = None
        self.warned_unscored: set[str] = set()

    async def run_sync(self, fn: Callable[[], T]) -> T:
        assert self.pool is not None
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn)

    async def retrieve(self, query: Query) -> list[Record]:
        source = self.sources[query.knowledge_id]
        condition = query.condition
        local = condition is not None and bool(condition.conditions) and not source.filters_itself
        settings = self.settings
        fetch_k = query.top_k * (settings.overfetch if local else 1)
        assert self.slots is not None
        async with self.slots:
            while True:
                records = await source.search(query, fetch_k, self.run_sync)
                if not local or len(records) < fetch_k or fetch_k >= settings.max_fetch:
                    break
                assert condition is not None
                if sum(1 for r in records if condition.matches(r.metadata)) >= query.top_k:
                    break
                # Too few candidates survived the filter and there may be more: ask again.
                fetch_k = min(fetch_k * settings.overfetch, settings.max_fetch)
        if any(r.score is None for r in records) and query.knowledge_id not in self.warned_unscored:
            self.warned_unscored.add(query.knowledge_id)
            logger.warning(
                "knowledge id %r: the retriever gives no scores; records are scored by rank "
                "(1/(1+rank)), so a score threshold filters by rank",
                query.knowledge_id,
            )
        return finish(records, query, source, self.normalize)


SERVICE = web.AppKey("knowledge_api_service", _Service)
_RUN = uuid.uuid4().hex[:16]  # request ids: this process's run id + a sequence number
_SEQUENCE = itertools.count(1)
#: What the access log reports of the current request (set by the middleware).
_TRACE: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("knowledge_api_trace")


async def _read_json(request: web.Request, limit: int) -> Any:
    if request.content_length is not None and request.content_length > limit:
        raise _error(TOO_LARGE)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _error(TOO_LARGE) from None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _bad("The request body is not valid JSON.") from None


async def retrieval(request: web.Request) -> web.Response:
    """``POST /retrieval`` — Dify's External Knowledge API."""
    service = request.app[SERVICE]
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise _error(INVALID_HEADER)
    if not service.keys.known(token):
        raise _error(AUTH_FAILED)
    body = await _read_json(request, service.settings.max_body_bytes)
    query = parse_request(body, service.settings)
    trace = _TRACE.get()
    trace["knowledge_id"] = query.knowledge_id
    if query.knowledge_id not in service.sources or not service.keys.covers(query.knowledge_id):
        raise _error(NOT_FOUND)
    if not service.keys.allows(token, query.knowledge_id):
        raise _error(AUTH_FAILED)
    try:
        async with asyncio.timeout(service.settings.request_timeout):
            records = await service.retrieve(query)
    except TimeoutError:
        raise _error(TIMED_OUT) from None
    except Exception:
        logger.exception(
            "retrieval failed (request %s, knowledge id %r)",
            trace["request_id"],
            query.knowledge_id,
        )
        raise _error(FAILED, f"Request id: {trace['request_id']}.") from None
    trace["records"] = len(records)
    return web.Response(body=_encode(records), content_type="application/json")


def _encode(records: list[Record]) -> bytes:
    """The ``/retrieval`` body; metadata JSON cannot hold is made plain (slow path)."""
    payload = {
        "records": [
            {"content": r.content, "score": r.score, "title": r.title, "metadata": r.metadata}
            for r in records
        ]
    }
    try:
        text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = json.dumps({"records": [r.to_json() for r in records]}, ensure_ascii=False)
    return text.encode("utf-8")


async def health(request: web.Request) -> web.Response:
    """``GET /health`` — liveness, no authentication, no knowledge ids."""
    service = request.app[SERVICE]
    return web.json_response({"status": "ok", "knowledge_bases": len(service.sources)})


@web.middleware
async def _errors_and_access_log(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Error bodies in Dify's shape, and one structured access-log line per request."""
    trace: dict[str, Any] = {"request_id": f"{_RUN}{next(_SEQUENCE):08x}"}
    _TRACE.set(trace)
    started = time.perf_counter()
    code: int | None = None
    try:
        response = await handler(request)
    except ServiceError as exc:
        code = exc.code
        response = web.json_response(_body(exc.code, exc.message), status=exc.status)
    except web.HTTPRequestEntityTooLarge:
        code = TOO_LARGE[1]
        response = web.json_response(_body(code, TOO_LARGE[2]), status=413)
    except web.HTTPException as exc:  # 404 / 405 of the router
        code = exc.status
        response = web.json_response(_body(exc.status, exc.reason), status=exc.status)
    response.headers["X-Request-Id"] = trace["request_id"]
    if access_logger.isEnabledFor(logging.INFO):
        entry = {
            "request_id": trace["request_id"],
            "remote": request.remote,
            "method": request.method,
            "path": request.path,
            "status": response.status,
            "knowledge_id": trace.get("knowledge_id"),
            "records": trace.get("records"),
            "error_code": code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        access_logger.info(json.dumps(entry, ensure_ascii=False), extra={"access": entry})
    return response


def create_app(
    retrievers: Mapping[str, Any],
    *,
    api_key: str | SecretStr | Mapping[str, str | SecretStr],
    settings: ServiceSettings | None = None,
    normalize: Normalizer = normalize_score,
) -> web.Application:
    """An aiohttp application serving ``retrievers`` as Dify's External Knowledge API.

    Args:
        retrievers: ``knowledge_id -> retriever``; a retriever is a LangChain
            ``BaseRetriever`` or ``VectorStore``, a LlamaIndex ``BaseRetriever`` or index,
            or a callable (``fn(query, **options) -> records``, sync or async; see the
            guide). The knowledge id is what you type as **External Knowledge ID** in Dify.
        api_key: The key Dify sends as ``Authorization: Bearer <key>``: one for every
            knowledge id, or a mapping ``knowledge_id -> key`` (ids without a key are not
            served). Compared in constant time; never logged.
        settings: Limits (:class:`ServiceSettings`).
        normalize: ``normalize(score, rank) -> float`` in ``[0, 1]`` (default
            :func:`normalize_score`).

    Returns:
        The application: run it with ``aiohttp.web.run_app`` or ``dify-integrations
        knowledge-api``.

    Raises:
        TypeError: A retriever of an unsupported kind.
        ValueError: No retrievers, an empty knowledge id or key, bad settings.
    """
    if not retrievers:
        raise ValueError("no retrievers to serve")
    sources: dict[str, Source] = {}
    for kid, obj in retrievers.items():
        if not isinstance(kid, str) or not kid:
            raise ValueError("knowledge ids must be non-empty strings")
        sources[kid] = as_source(obj)
    keys = Keys(api_key)
    if keys.per_id is not None:
        missing = sorted(set(keys.per_id) - set(sources))
        if missing:
            raise ValueError(f"api_key names knowledge ids that are not served: {missing}")
    settings = settings or ServiceSettings()
    service = _Service(sources, keys, settings, normalize)
    app = web.Application(
        client_max_size=settings.max_body_bytes, middlewares=[_errors_and_access_log]
    )
    app[SERVICE] = service

    async def start(_: web.Application) -> None:
        service.pool = ThreadPoolExecutor(settings.threads, thread_name_prefix="knowledge-api")
        service.slots = asyncio.Semaphore(settings.max_concurrency)

    async def stop(_: web.Application) -> None:
        if service.pool is not None:
            service.pool.shutdown(wait=False, cancel_futures=True)

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    prefix = settings.path_prefix
    app.router.add_post(f"{prefix}/retrieval", retrieval)
    app.router.add_get(f"{prefix}/health", health)
    return app
