"""Routes of chat-family and completion apps: send messages and stop them."""

from __future__ import annotations

import time

from aiohttp import web

from ._current import check_agent_app, check_workflow_id, run_events
from ._errors import CONVERSATION_NOT_EXISTS, invalid_param, json_response, not_found
from ._generate import Generation, fold_message
from ._http import (
    auth_app,
    json_body,
    require_chat,
    require_completion,
    resolve_files,
    user_arg,
    validate_inputs,
    workspace,
)
from ._payloads import ChatRequestPayload, CompletionRequestPayload, validate
from ._respond import respond
from ._settings import settings
from ._workspace import Conversation, Message, WorkflowRun, new_id

routes = web.RouteTableDef()

AGENT_BLOCKING = "Agent Chat App does not support blocking mode"


def conversation_name(query: str) -> str:
    """A generated conversation title: the first words of the first query."""
    words = query.strip().split()
    name = " ".join(words[:6])
    return (name[:40] + "…") if len(name) > 40 else (name or "New conversation")


@routes.post("/v1/chat-messages")
async def chat_messages(request: web.Request) -> web.StreamResponse:
    """``POST /chat-messages``."""
    app = auth_app(request)
    body = await json_body(request)
    user = user_arg(body.get("user"), required=True)
    require_chat(app)
    payload = validate(ChatRequestPayload, body)
    ws = workspace(request)
    conf = settings(request)
    streaming = payload.response_mode == "streaming"
    if app.mode == "agent-chat" and not streaming:
        raise invalid_param(AGENT_BLOCKING)
    check_agent_app(app, streaming)
    if payload.workflow_id is not None:
        check_workflow_id(app, payload.workflow_id)
    if not payload.query:
        raise invalid_param("query is required")
    conversation = None
    if payload.conversation_id is not None:
        conversation = ws.find_conversation(app.id, user, payload.conversation_id)
        if conversation is None:
            raise not_found(CONVERSATION_NOT_EXISTS)
        inputs = dict(conversation.inputs)
    else:
        inputs = validate_inputs(app, payload.inputs)
    files = resolve_files(ws, app, payload.files)
    ts = time.time()
    task_id = new_id()
    with ws.lock:
        if conversation is None:
            conversation = Conversation(
                id=new_id(),
                app_id=app.id,
                user=user,
                name=conversation_name(payload.query)
                if payload.auto_generate_name
                else "New conversation",
                inputs=inputs,
                introduction=app.opening_statement,
                created_at=ts,
                updated_at=ts,
            )
            ws.conversations[conversation.id] = conversation
        previous = conversation.messages[-1].id if conversation.messages else None
        message = Message(
            id=new_id(),
            app_id=app.id,
            user=user,
            conversation_id=conversation.id,
            query=payload.query,
            inputs=inputs,
            created_at=int(ts),
            task_id=task_id,
            parent_message_id=previous,
            files=files,
        )
        conversation.messages.append(message)
        conversation.updated_at = ts
        ws.messages[message.id] = message
    gen = Generation(
        ws=ws,
        app=app,
        task=conf.tasks.start(task_id, app.id, user),
        user=user,
        inputs=inputs,
        query=payload.query,
        files=files,
        token_delay=conf.token_delay if app.token_delay is None else app.token_delay,
        conversation=conversation,
        message=message,
        legacy_order=conf.chatflow_order == "legacy",
    )
    if app.mode == "advanced-chat":
        run = WorkflowRun(
            id=new_id(),
            app_id=app.id,
            workflow_id=app.workflow_id,
            user=user,
            task_id=task_id,
            inputs=inputs,
            created_at=int(ts),
        )
        with ws.lock:
            ws.runs[run.id] = run
        gen.run = run
    events = run_events(ws, gen, gen.message_events(), pauses=app.human_input is not None)
    return await respond(request, gen, events, streaming=streaming, fold=fold_message)


@routes.post("/v1/completion-messages")
async def completion_messages(request: web.Request) -> web.StreamResponse:
    """``POST /completion-messages``."""
    app = auth_app(request)
    body = await json_body(request)
    user = user_arg(body.get("user"), required=True)
    require_completion(app)
    payload = validate(CompletionRequestPayload, body)
    ws = workspace(request)
    conf = settings(request)
    inputs = validate_inputs(app, payload.inputs)
    files = resolve_files(ws, app, payload.files)
    task_id = new_id()
    message = Message(
        id=new_id(),
        app_id=app.id,
        user=user,
        conversation_id=None,
        query=payload.query,
        inputs=inputs,
        created_at=int(time.time()),
        task_id=task_id,
        files=files,
    )
    with ws.lock:
        ws.messages[message.id] = message
    gen = Generation(
        ws=ws,
        app=app,
        task=conf.tasks.start(task_id, app.id, user),
        user=user,
        inputs=inputs,
        query=payload.query,
        files=files,
        token_delay=conf.token_delay if app.token_delay is None else app.token_delay,
        message=message,
    )
    streaming = payload.response_mode == "streaming"
    return await respond(request, gen, gen.message_events(), streaming=streaming, fold=fold_message)


async def _stop(request: web.Request, gate: str) -> web.Response:
    app = auth_app(request)
    body = await json_body(request)
    user = user_arg(body.get("user"), required=True)
    if gate == "chat":
        require_chat(app)
    elif gate == "completion":
        require_completion(app)
    task_id = request.match_info["task_id"]
    workspace(request).record_stop(task_id)
    settings(request).tasks.stop(task_id, app.id, user)
    return json_response({"result": "success"})


@routes.post("/v1/chat-messages/{task_id}/stop")
async def chat_stop(request: web.Request) -> web.Response:
    """``POST /chat-messages/{task_id}/stop`` — always ``{"result": "success"}``."""
    return await _stop(request, "chat")


@routes.post("/v1/completion-messages/{task_id}/stop")
async def completion_stop(request: web.Request) -> web.Response:
    """``POST /completion-messages/{task_id}/stop`` — always ``{"result": "success"}``."""
    return await _stop(request, "completion")
