"""Response bodies: JSON decoding, and a blocking answer re-framed as the stream it stands for."""

from __future__ import annotations

import json
from typing import Any

from .decode import loads_json

__all__ = ["blocking_body_as_stream", "decode_json", "is_json_response"]


def decode_json(raw: bytes) -> Any:
    """Decode a JSON body; ``None`` for an empty one."""
    if not raw or not raw.strip():
        return None
    return loads_json(raw)


def is_json_response(content_type: str | None) -> bool:
    """Whether a 2xx answer to a *streaming* request came back as one JSON body instead.

    Dify always streams when asked, but a gateway in front of it (or an older or
    reimplemented server) may answer a streaming request in blocking form.
    """
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


def blocking_body_as_stream(raw: bytes) -> bytes:
    """Re-frame a blocking JSON answer as the SSE frames the stream would have carried.

    A chat/completion body becomes ``message`` + ``message_end``; a workflow body becomes
    ``workflow_finished``; anything else is passed through as one frame, so the stream's
    own checks (no ``event`` name, no final event) report it. The stream and its reducer
    then treat it like any other stream: nothing is lost and nothing is invented.
    """
    try:
        body = loads_json(raw) if raw.strip() else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = raw.decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")
        return f"data: {text}\n\n".encode()
    envelope = {k: body[k] for k in ("task_id", "conversation_id", "created_at") if k in body}
    events: list[dict[str, Any]]
    if isinstance(body.get("data"), dict) and "answer" not in body:
        events = [
            {
                "event": "workflow_finished",
                **envelope,
                "workflow_run_id": body.get("workflow_run_id") or body["data"].get("id"),
                "data": body["data"],
            }
        ]
    elif isinstance(body.get("answer"), str):
        message_id = body.get("message_id") or body.get("id")
        ids = {**envelope, "id": message_id, "message_id": message_id}
        events = [
            {"event": "message", **ids, "answer": body["answer"]},
            {"event": "message_end", **ids, "metadata": body.get("metadata") or {}},
        ]
    else:
        events = [body]
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
