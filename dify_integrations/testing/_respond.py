"""Send a generation as a blocking JSON body or as an SSE stream."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from ._errors import json_response
from ._generate import Generation
from ._middleware import STREAM_FAULT_KEY
from ._settings import settings
from ._sse import EventStream

Fold = Callable[[Generation, AsyncIterator[dict[str, Any]]], Awaitable[dict[str, Any]]]


async def respond(
    request: web.Request,
    gen: Generation,
    events: AsyncIterator[dict[str, Any]],
    *,
    streaming: bool,
    fold: Fold,
) -> web.StreamResponse:
    """Run ``events`` to completion as blocking JSON (via ``fold``) or as an SSE stream.

    Workflow and chatflow streams start with a ``ping`` (newest Dify builds).
    """
    conf = settings(request)
    try:
        if not streaming:
            return json_response(await fold(gen, events))
        headers = {}
        if gen.run is not None:
            headers["X-Workflow-Run-ID"] = gen.run.id
        stream = EventStream(request, conf.ping_interval, request.get(STREAM_FAULT_KEY), headers)
        stream.error_envelope = gen.error_envelope()
        await stream.start(ping_first=gen.app.mode in ("workflow", "advanced-chat"))
        async for event in events:
            if not await stream.send(event):
                if conf.finish_on_disconnect:  # Dify runs on without its client
                    async for _ in events:
                        pass
                break
        await stream.finish()
        return stream.response
    finally:
        conf.tasks.finish(gen.task)
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
