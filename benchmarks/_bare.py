"""The bare-HTTP baselines: the least a caller can do to get the same answer.

No retries, no typed models, no validation: a `requests.Session` / `aiohttp.ClientSession`
POST and `json.loads` of the body or of each `data:` line of the SSE stream. Used by every
benchmark as the reference the package is compared with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import requests


def chat_body(query: str, user: str, *, streaming: bool) -> dict[str, Any]:
    """The JSON body of a `/chat-messages` call."""
    return {
        "query": query,
        "inputs": {},
        "user": user,
        "response_mode": "streaming" if streaming else "blocking",
    }


def auth(key: str) -> dict[str, str]:
    """The `Authorization` header for `key`."""
    return {"Authorization": f"Bearer {key}"}


def post_json(
    session: requests.Session, url: str, key: str, body: dict[str, Any]
) -> dict[str, Any]:
    """POST `body` and decode the JSON answer."""
    response = session.post(url, json=body, headers=auth(key))
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def stream_answer(
    session: requests.Session,
    url: str,
    key: str,
    body: dict[str, Any],
    on_piece: Callable[[str], None] | None = None,
    *,
    keep: bool = True,
) -> str:
    """POST a streaming chat request and fold the `message` events into the answer.

    The body is read to its end (after `message_end`), so the connection goes back to the
    pool. `on_piece` (if given) is called with each piece as soon as its line is decoded;
    with `keep=False` the pieces are dropped and `""` is returned (constant memory).
    """
    parts: list[str] = []
    with session.post(url, json=body, headers=auth(key), stream=True) as response:
        response.raise_for_status()
        for line in response.iter_lines(chunk_size=None):
            if not line.startswith(b"data:"):
                continue
            event = json.loads(line[5:])
            kind = event.get("event")
            if kind == "message":
                piece = event["answer"]
                if on_piece is not None:
                    on_piece(piece)
                if keep:
                    parts.append(piece)
            elif kind == "error":
                raise RuntimeError(event.get("message"))
    return "".join(parts)


async def apost_json(
    session: aiohttp.ClientSession, url: str, key: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Async `post_json`."""
    async with session.post(url, json=body, headers=auth(key)) as response:
        response.raise_for_status()
        data: dict[str, Any] = await response.json()
    return data


async def astream_answer(
    session: aiohttp.ClientSession,
    url: str,
    key: str,
    body: dict[str, Any],
    on_piece: Callable[[str], None] | None = None,
) -> str:
    """Async `stream_answer`."""
    parts: list[str] = []
    async with session.post(url, json=body, headers=auth(key)) as response:
        response.raise_for_status()
        async for line in response.content:
            if not line.startswith(b"data:"):
                continue
            event = json.loads(line[5:])
            kind = event.get("event")
            if kind == "message":
                piece = event["answer"]
                if on_piece is not None:
                    on_piece(piece)
                parts.append(piece)
            elif kind == "error":
                raise RuntimeError(event.get("message"))
    return "".join(parts)
