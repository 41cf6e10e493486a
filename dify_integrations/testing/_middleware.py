"""The middleware every request goes through: routing errors as Dify bodies, the request
log, fault injection, and mapping handler exceptions to Dify error bodies."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ._errors import (
    METHOD_NOT_ALLOWED_MESSAGE,
    NOT_FOUND_MESSAGE,
    DifyHTTPError,
    error_body,
    json_response,
)
from ._faults import Fault
from ._guard import request_done, watch_body
from ._http import key_kind
from ._log import LoggedRequest
from ._settings import Settings, settings

logger = logging.getLogger("dify_integrations.testing")

# ``web.RequestKey`` exists in newer aiohttp; plain strings work (with a warning) elsewhere.
_REQUEST_KEY: Any = getattr(web, "RequestKey", None)
STREAM_FAULT_KEY: Any = (
    _REQUEST_KEY("dify_stream_fault", Fault) if _REQUEST_KEY else "dify_stream_fault"
)
LOG_ENTRY_KEY: Any = (
    _REQUEST_KEY("dify_log_entry", LoggedRequest) if _REQUEST_KEY else "dify_log_entry"
)
_HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_template(request: web.Request) -> str | None:
    """The matched route template without the ``/v1`` prefix, or ``None``."""
    info = request.match_info
    if info.http_exception is not None:
        return None
    resource = info.route.resource
    if resource is None:
        return None
    return resource.canonical.removeprefix("/v1") or "/"


async def _read_body(request: web.Request, limit: int) -> tuple[Any, Any]:
    """The JSON body, and what the request log keeps of it.

    Both are ``None`` unless the request carries a key this server knows (auth comes
    before reading a body: the handler answers 401 without reading it either). The log
    keeps at most ``limit`` bytes of text of a larger body, with a note of its size.
    """
    if request.content_type != "application/json" or not request.can_read_body:
        return None, None
    if key_kind(request) is None:
        return None, None
    raw = await request.read()
    try:
        body: Any = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        body = raw.decode("utf-8", "replace")
    if len(raw) > limit:
        return body, raw[:limit].decode("utf-8", "replace") + f"… [{len(raw)} bytes, cut]"
    return body, body


def _fault_response(fault: Fault) -> web.Response:
    status = fault.status if fault.status is not None else 500
    headers = dict(fault.headers)
    if fault.retry_after is not None:
        headers["Retry-After"] = str(fault.retry_after)
    body = fault.body
    if body is None:
        body = error_body(status, fault.code, fault.message)
    if isinstance(body, bytes | str):
        raw = body.encode() if isinstance(body, str) else body
        headers.setdefault("Content-Type", "application/json")
        return web.Response(body=raw, status=status, headers=headers)
    return json_response(body, status, headers)


def _trace_id(request: web.Request, body: Any) -> str | None:
    """Dify's order (``core/helper/trace_id_helper.py``): header, query, then body."""
    found = request.headers.get("X-Trace-Id") or request.query.get("trace_id")
    if not found and isinstance(body, dict) and isinstance(body.get("trace_id"), str):
        found = body["trace_id"]
    return found or None


@web.middleware
async def dify_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log, inject faults, run the handler and turn errors into Dify bodies.

    A stalled request body closes the connection (`watch_body`); the connection guard
    learns when the response is complete (the next request's header deadline).
    """
    conf = settings(request)
    watchdog: asyncio.Task[None] | None = None
    if request.can_read_body and not request.content.is_eof():
        watchdog = asyncio.ensure_future(watch_body(request, conf.guard, conf.guard_stats))
    try:
        return await _handle(request, handler, conf)
    finally:
        if watchdog is not None:
            watchdog.cancel()
        request_done(request)


async def _handle(request: web.Request, handler: Handler, conf: Settings) -> web.StreamResponse:
    template = route_template(request)
    body, logged_body = await _read_body(request, conf.log_body_limit)
    user = body.get("user") if isinstance(body, dict) else None
    if user is None:
        user = request.query.get("user")
    entry = LoggedRequest(
        method=request.method,
        path=request.path,
        route=template,
        user=None if user is None else str(user),
        body=logged_body,
        query=dict(request.query),
        time=time.time(),
        key_kind=key_kind(request),
        headers={k: v for k, v in request.headers.items() if k.lower() not in _HIDDEN_HEADERS},
        trace_id=_trace_id(request, body),
    )
    conf.log.append(entry)
    request[LOG_ENTRY_KEY] = entry
    streaming = isinstance(body, dict) and body.get("response_mode") == "streaming"
    active = conf.faults.take(
        request.method,
        template or request.path.removeprefix("/v1"),
        request.path.removeprefix("/v1"),
        streaming,
    )
    if active.pre is not None:
        await asyncio.sleep(active.pre.delay)
    if active.respond is not None:
        if active.respond.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        fault_response = _fault_response(active.respond)
        entry.status = fault_response.status
        return fault_response
    if active.stream is not None:
        request[STREAM_FAULT_KEY] = active.stream
    response: web.StreamResponse
    try:
        if request.match_info.http_exception is not None:
            exc = request.match_info.http_exception
            if exc.status == 405:
                raise DifyHTTPError(405, "method_not_allowed", METHOD_NOT_ALLOWED_MESSAGE)
            raise DifyHTTPError(404, "not_found", NOT_FOUND_MESSAGE)
        response = await handler(request)
    except DifyHTTPError as err:
        response = err.response()
    except web.HTTPException as exc:
        response = json_response(error_body(exc.status), exc.status)
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        response = json_response(error_body(500), 500)
    entry.status = response.status
    return response
