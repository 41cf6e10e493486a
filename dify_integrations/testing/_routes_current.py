"""Routes of current Dify beyond the seed: app feedbacks, conversation variables, audio,
human-input forms and a run's resumed events."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ._errors import CONVERSATION_NOT_EXISTS, DifyHTTPError, invalid_param, json_response, not_found
from ._generate import fold_workflow
from ._http import auth_app, json_body, require_chat, require_workflow, user_arg, workspace
from ._middleware import LOG_ENTRY_KEY
from ._respond import respond
from ._workspace import App, Workspace

routes = web.RouteTableDef()

UUID_RE = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
AUDIO_EXTENSIONS = ("mp3", "mp4", "mpeg", "mpga", "m4a", "wav", "webm", "amr")
# Deterministic speech without a model: an ID3 tag, then the text. ``/audio-to-text``
# reads such a file back to its text, so tests can round-trip.
AUDIO_HEADER = b"ID3\x04\x00\x00\x00\x00\x00\x00"
AUDIO_MAX = 30 * 1024 * 1024


def _int_arg(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_param(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise invalid_param(f"{name} must be between {low} and {high}")
    return value


@routes.get("/v1/app/feedbacks")
async def app_feedbacks(request: web.Request) -> web.Response:
    """``GET /app/feedbacks`` — the app's ratings, newest first."""
    app = auth_app(request)
    page = _int_arg(request, "page", 1, 1, 99999)
    limit = _int_arg(request, "limit", 20, 1, 101)
    ws = workspace(request)
    with ws.lock:
        items = [f for f in ws.feedbacks.values() if f["app_id"] == app.id]
    items.sort(key=lambda f: f["updated_at"], reverse=True)
    return json_response({"data": items[(page - 1) * limit : page * limit]})


# --------------------------------------------------------------------------- conversation variables


def _variables(ws: Workspace, app: App, conversation_id: str) -> list[dict[str, Any]]:
    """The variables of a conversation (created from the app's on first use)."""
    with ws.lock:
        found = ws.conversation_variables.get(conversation_id)
        if found is None:
            ts = int(time.time())
            found = [{**v, "created_at": ts, "updated_at": ts} for v in app.conversation_variables]
            ws.conversation_variables[conversation_id] = found
        return found


def _conversation(request: web.Request, app: App, user: str) -> str:
    conversation_id = request.match_info["conversation_id"].lower()
    if workspace(request).find_conversation(app.id, user, conversation_id) is None:
        raise not_found(CONVERSATION_NOT_EXISTS)
    return conversation_id


@routes.get("/v1/conversations/{conversation_id:" + UUID_RE + "}/variables")
async def list_variables(request: web.Request) -> web.Response:
    """``GET /conversations/{id}/variables`` — ``last_id`` cursor, ``variable_name`` filter."""
    app = auth_app(request)
    require_chat(app)
    user = user_arg(request.query.get("user"), required=False)
    limit = _int_arg(request, "limit", 20, 1, 100)
    conversation_id = _conversation(request, app, user)
    items = list(_variables(workspace(request), app, conversation_id))
    name = request.query.get("variable_name")
    if name is not None:
        items = [v for v in items if v["name"] == name]
    last_id = request.query.get("last_id")
    if last_id:
        ids = [v["id"] for v in items]
        if last_id not in ids:
            raise not_found("Last Conversation Variable Not Exists.")
        items = items[ids.index(last_id) + 1 :]
    return json_response({"limit": limit, "has_more": len(items) > limit, "data": items[:limit]})


_VALUE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "secret": (str,),
}


def _matches(value_type: str, value: Any) -> bool:
    if value_type.startswith("array"):
        return isinstance(value, list)
    kinds = _VALUE_TYPES.get(value_type)
    if kinds is None:
        return True
    if value_type == "number" and isinstance(value, bool):
        return False
    return isinstance(value, kinds)


@routes.put(
    "/v1/conversations/{conversation_id:" + UUID_RE + "}/variables/{variable_id:" + UUID_RE + "}"
)
async def update_variable(request: web.Request) -> web.Response:
    """``PUT /conversations/{id}/variables/{variable_id}`` — the value must match its type."""
    app = auth_app(request)
    require_chat(app)
    body = await json_body(request)
    user = user_arg(body.get("user"), required=False)
    if "value" not in body:
        raise invalid_param("value is required")
    conversation_id = _conversation(request, app, user)
    ws = workspace(request)
    variable_id = request.match_info["variable_id"].lower()
    with ws.lock:
        for variable in _variables(ws, app, conversation_id):
            if variable["id"] == variable_id:
                if not _matches(str(variable["value_type"]), body["value"]):
                    raise DifyHTTPError(
                        400,
                        "bad_request",
                        f"Type mismatch: variable expects {variable['value_type']}",
                    )
                variable["value"] = body["value"]
                variable["updated_at"] = int(time.time())
                return json_response(dict(variable))
    raise not_found("Conversation Variable Not Exists.")


# --------------------------------------------------------------------------- audio


async def _audio_upload(request: web.Request) -> tuple[dict[str, str], tuple[str, bytes] | None]:
    fields: dict[str, str] = {}
    upload: tuple[str, bytes] | None = None
    if not request.content_type.startswith("multipart/"):
        return fields, None
    try:
        reader = await request.multipart()
        while True:
            part: Any = await reader.next()
            if part is None:
                break
            data = await part.read()
            if part.filename is not None:
                if part.name == "file":
                    upload = (part.filename, bytes(data))
            else:
                fields[part.name or ""] = bytes(data).decode("utf-8", "replace")
    except (ValueError, HttpProcessingError):
        return {}, None
    return fields, upload


@routes.post("/v1/audio-to-text")
async def audio_to_text(request: web.Request) -> web.Response:
    """``POST /audio-to-text`` — a deterministic transcript (no speech model)."""
    auth_app(request)
    fields, upload = await _audio_upload(request)
    entry = request.get(LOG_ENTRY_KEY)
    if entry is not None:
        entry.user = fields.get("user")
        entry.body = {**fields, **({"file": {"filename": upload[0]}} if upload else {})}
    if upload is None:
        raise DifyHTTPError(400, "no_audio_uploaded", "Please upload your audio.")
    filename, data = upload
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in AUDIO_EXTENSIONS:
        raise DifyHTTPError(415, "unsupported_audio_type", "Audio type not allowed.")
    if len(data) > AUDIO_MAX:
        raise DifyHTTPError(413, "audio_too_large", "Audio size exceeded.")
    if data.startswith(AUDIO_HEADER):
        text = data[len(AUDIO_HEADER) :].decode("utf-8", "replace")
    else:
        text = f"[{len(data)} bytes of {extension} audio]"
    return json_response({"text": text})


@routes.post("/v1/text-to-audio")
async def text_to_audio(request: web.Request) -> web.Response:
    """``POST /text-to-audio`` — deterministic ``audio/mpeg`` bytes for a text or message."""
    app = auth_app(request)
    body = await json_body(request)
    user = user_arg(body.get("user"), required=False)
    text = body.get("text")
    message_id = body.get("message_id")
    if message_id:
        ws = workspace(request)
        with ws.lock:
            message = ws.messages.get(str(message_id).lower())
            if message is None or message.app_id != app.id or message.user != user:
                raise not_found("Message Not Exists.")
            text = message.answer
    if not isinstance(text, str) or not text:
        raise invalid_param("text or message_id is required")
    return web.Response(body=AUDIO_HEADER + text.encode("utf-8"), content_type="audio/mpeg")


# --------------------------------------------------------------------------- human input


def _form(request: web.Request, app: App) -> Any:
    ws = workspace(request)
    with ws.lock:
        form = ws.forms.get(request.match_info["form_token"])
    if form is None or form.app_id != app.id:
        raise not_found("Form not found.")
    return form


@routes.get("/v1/form/human_input/{form_token}")
async def get_form(request: web.Request) -> web.Response:
    """``GET /form/human_input/{token}`` — the form a paused run waits on."""
    app = auth_app(request)
    form = _form(request, app)
    form.check_open()
    return json_response(form.definition())


@routes.post("/v1/form/human_input/{form_token}")
async def submit_form(request: web.Request) -> web.Response:
    """``POST /form/human_input/{token}`` — one-shot; the paused run resumes."""
    app = auth_app(request)
    body = await json_body(request)
    user_arg(body.get("user"), required=True)
    form = _form(request, app)
    inputs = body.get("inputs")
    action = body.get("action")
    if not isinstance(inputs, dict):
        raise invalid_param("inputs must be an object")
    if not isinstance(action, str) or not action:
        raise invalid_param("action is required")
    form.submit(inputs, action)
    return json_response({})


@routes.get("/v1/workflow/{workflow_run_id}/events")
async def run_events(request: web.Request) -> web.StreamResponse:
    """``GET /workflow/{run_id}/events`` — the next leg of a paused run's events.

    A run that already finished answers one ``workflow_finished`` and ends.
    """
    app = auth_app(request)
    require_workflow(app, allow_chatflow=True)
    user = user_arg(request.query.get("user"), required=True)
    ws = workspace(request)
    run_id = request.match_info["workflow_run_id"]
    with ws.lock:
        run = ws.runs.get(run_id)
        channel = ws.paused_runs.get(run_id)
    if run is None or run.app_id != app.id or run.user != user:
        raise not_found("Workflow run not found.")
    if channel is not None and not channel.finished:
        if channel.busy:
            raise DifyHTTPError(400, "bad_request", "The run's events are being streamed.")
        stop_at_pause = request.query.get("continue_on_pause", "false").lower() != "true"
        return await respond(
            request,
            channel.gen,
            channel.leg(stop_at_pause=stop_at_pause),
            streaming=True,
            fold=fold_workflow,
        )
    finished = {
        "event": "workflow_finished",
        "workflow_run_id": run.id,
        "task_id": run.task_id,
        "data": {
            "id": run.id,
            "workflow_id": run.workflow_id,
            "status": run.status,
            "outputs": run.outputs if run.outputs is not None else {},
            "error": run.error,
            "elapsed_time": run.elapsed_time,
            "total_tokens": run.total_tokens,
            "total_steps": run.total_steps,
            "created_at": run.created_at,
            "finished_at": run.finished_at,
            "exceptions_count": 0,
            "files": [],
        },
    }
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: " + json.dumps(finished).encode() + b"\n\n")
    await response.write_eof()
    return response
