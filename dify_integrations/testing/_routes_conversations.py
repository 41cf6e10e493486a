"""Routes of chat-family apps about stored state: conversations, messages, feedback."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ._current import citation, record_feedback
from ._errors import CONVERSATION_NOT_EXISTS, DifyHTTPError, json_response, not_found
from ._http import auth_app, json_body, require_chat, user_arg, workspace
from ._payloads import (
    ConversationListQuery,
    ConversationRenamePayload,
    MessageFeedbackPayload,
    MessageListQuery,
    validate,
)
from ._routes_chat import conversation_name
from ._workspace import Conversation, Message

routes = web.RouteTableDef()

UUID_RE = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def conversation_json(conv: Conversation) -> dict[str, Any]:
    """``SimpleConversation``."""
    return {
        "id": conv.id,
        "name": conv.name,
        "inputs": conv.inputs,
        "status": conv.status,
        "introduction": conv.introduction,
        "created_at": int(conv.created_at),
        "updated_at": int(conv.updated_at),
    }


def message_json(msg: Message) -> dict[str, Any]:
    """``MessageListItem``."""
    return {
        "id": msg.id,
        "conversation_id": msg.conversation_id,
        "parent_message_id": msg.parent_message_id,
        "inputs": msg.inputs,
        "query": msg.query,
        "answer": msg.answer,
        "feedback": {"rating": msg.feedback} if msg.feedback else None,
        "retriever_resources": [
            citation(
                {
                    "id": f"{msg.id[:24]}{i:012d}",
                    "message_id": msg.id,
                    **r,
                    "created_at": msg.created_at,
                }
            )
            for i, r in enumerate(msg.retriever_resources, 1)
        ],
        "created_at": msg.created_at,
        "agent_thoughts": msg.agent_thoughts,
        "message_files": [
            {
                "id": f["id"],
                "filename": f["filename"],
                "type": f["type"],
                "url": f["url"] or f["remote_url"],
                "mime_type": f["mime_type"],
                "size": f["size"],
                "transfer_method": f["transfer_method"],
                "belongs_to": "user",
                "upload_file_id": f["upload_file_id"],
            }
            for f in msg.files
        ],
        "status": msg.status,
        "error": msg.error,
        **_message_usage(msg),
        "extra_contents": [],
    }


def _message_usage(msg: Message) -> dict[str, Any]:
    """The token and price fields current Dify adds to a ``GET /messages`` item."""
    usage = msg.usage or {}
    return {
        "message_tokens": int(usage.get("prompt_tokens") or 0),
        "answer_tokens": int(usage.get("completion_tokens") or 0),
        "total_tokens": int(usage.get("total_tokens") or 0),
        "provider_response_latency": float(usage.get("latency") or 0.0),
        "total_price": usage.get("total_price"),
        "currency": usage.get("currency"),
    }


@routes.get("/v1/conversations")
async def list_conversations(request: web.Request) -> web.Response:
    """``GET /conversations`` — ``last_id`` cursor, ``limit``, ``sort_by``."""
    app = auth_app(request)
    user = user_arg(request.query.get("user"), required=False)
    require_chat(app)
    query = validate(
        ConversationListQuery,
        {k: v for k, v in request.query.items() if k in ("last_id", "limit", "sort_by")},
    )
    ws = workspace(request)
    with ws.lock:
        convs = ws.user_conversations(app.id, user)
        field = query.sort_by.lstrip("-")
        descending = query.sort_by.startswith("-")
        convs.sort(key=lambda c: (getattr(c, field), c.seq), reverse=descending)
        if query.last_id is not None:
            ids = [c.id for c in convs]
            if query.last_id not in ids:
                raise not_found("Last Conversation Not Exists.")
            convs = convs[ids.index(query.last_id) + 1 :]
        page = convs[: query.limit + 1]
        has_more = len(page) > query.limit
        data = [conversation_json(c) for c in page[: query.limit]]
    return json_response({"limit": query.limit, "has_more": has_more, "data": data})


def _owned(request: web.Request, app_id: str, user: str) -> Conversation:
    conv = workspace(request).find_conversation(
        app_id, user, request.match_info["conversation_id"].lower()
    )
    if conv is None:
        raise not_found(CONVERSATION_NOT_EXISTS)
    return conv


@routes.delete("/v1/conversations/{conversation_id:" + UUID_RE + "}")
async def delete_conversation(request: web.Request) -> web.Response:
    """``DELETE /conversations/{id}`` — 204 with no body."""
    app = auth_app(request)
    body = await json_body(request)
    user = user_arg(body.get("user"), required=False)
    require_chat(app)
    conv = _owned(request, app.id, user)
    with workspace(request).lock:
        conv.deleted = True
    return web.Response(status=204)


@routes.post("/v1/conversations/{conversation_id:" + UUID_RE + "}/name")
async def rename_conversation(request: web.Request) -> web.Response:
    """``POST /conversations/{id}/name`` — a name, or ``auto_generate``."""
    app = auth_app(request)
    body = await json_body(request)
    user = user_arg(body.get("user"), required=False)
    require_chat(app)
    payload = validate(ConversationRenamePayload, body)
    conv = _owned(request, app.id, user)
    with workspace(request).lock:
        if payload.auto_generate:
            first = conv.messages[0].query if conv.messages else ""
            conv.name = conversation_name(first)
        else:
            assert payload.name is not None
            conv.name = payload.name
        conv.updated_at = time.time()
        return json_response(conversation_json(conv))


@routes.get("/v1/messages")
async def list_messages(request: web.Request) -> web.Response:
    """``GET /messages`` — ``first_id`` cursor backwards in time, pages oldest→newest."""
    app = auth_app(request)
    user = user_arg(request.query.get("user"), required=False)
    require_chat(app)
    query = validate(
        MessageListQuery,
        {k: v for k, v in request.query.items() if k in ("conversation_id", "first_id", "limit")},
    )
    if not query.conversation_id:
        return json_response({"limit": query.limit, "has_more": False, "data": []})
    ws = workspace(request)
    conv = ws.find_conversation(app.id, user, query.conversation_id)
    if conv is None:
        raise not_found(CONVERSATION_NOT_EXISTS)
    with ws.lock:
        history = list(conv.messages)
        if query.first_id is not None:
            ids = [m.id for m in history]
            if query.first_id not in ids:
                raise not_found("First Message Not Exists.")
            history = history[: ids.index(query.first_id)]
        window = history[-(query.limit + 1) :]
        has_more = len(window) > query.limit
        page = window[1:] if has_more else window
        data = [message_json(m) for m in page]
    return json_response({"limit": query.limit, "has_more": has_more, "data": data})


@routes.post("/v1/messages/{message_id:" + UUID_RE + "}/feedbacks")
async def message_feedback(request: web.Request) -> web.Response:
    """``POST /messages/{id}/feedbacks``."""
    app = auth_app(request)
    body = await json_body(request)
    user = user_arg(body.get("user"), required=True)
    payload = validate(MessageFeedbackPayload, body)
    ws = workspace(request)
    with ws.lock:
        msg = ws.messages.get(request.match_info["message_id"].lower())
        if msg is None or msg.app_id != app.id or msg.user != user:
            raise not_found("Message Not Exists.")
        msg.feedback = payload.rating
        record_feedback(ws, app, msg, payload.rating, payload.content)
    return json_response({"result": "success"})


@routes.get("/v1/messages/{message_id:" + UUID_RE + "}/suggested")
async def message_suggested(request: web.Request) -> web.Response:
    """``GET /messages/{id}/suggested``."""
    app = auth_app(request)
    user = user_arg(request.query.get("user"), required=True)
    require_chat(app)
    ws = workspace(request)
    with ws.lock:
        msg = ws.messages.get(request.match_info["message_id"].lower())
        if msg is None or msg.app_id != app.id or msg.user != user:
            raise not_found("Message Not Exists.")
        if not app.suggested_questions_after_answer:
            raise DifyHTTPError(400, "bad_request", "Suggested Questions Is Disabled.")
        topic = " ".join(msg.query.split()[:5])
        data = [
            f"Can you tell me more about {topic}?",
            f"Why is that the case for {topic}?",
            "What should I do next?",
        ]
    return json_response({"result": "success", "data": data})
