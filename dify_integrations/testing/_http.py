"""Request plumbing shared by the routes: auth and key kinds, the end-user argument, JSON
bodies, app-mode gates, input-form and file validation."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from ._errors import (
    APP_UNAVAILABLE_MESSAGE,
    MODE_MISMATCH_MESSAGE,
    DifyHTTPError,
    invalid_param,
    not_found,
    unauthorized,
)
from ._workspace import App, Dataset, Workspace

CHAT_MODES = frozenset({"chat", "agent-chat", "agent", "advanced-chat"})
DEFAULT_USER = "DEFAULT-USER"
WORKSPACE_KEY: web.AppKey[Workspace] = web.AppKey("workspace", Workspace)


def workspace(request: web.Request) -> Workspace:
    """The workspace of the server handling ``request``."""
    return request.app[WORKSPACE_KEY]


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization")
    if header is None or " " not in header.strip():
        raise unauthorized("Authorization header must be provided and start with 'Bearer'")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise unauthorized("Authorization scheme must be 'Bearer'")
    return token.strip()


def key_kind(request: web.Request) -> str | None:
    """``"app"``, ``"dataset"`` or ``None``: which kind of known key the request carries."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    ws = workspace(request)
    token = token.strip()
    with ws.lock:
        if token in ws.apps_by_key:
            return "app"
        if token in ws.dataset_api_keys:
            return "dataset"
    return None


def auth_app(request: web.Request) -> App:
    """Authenticate an app route: the key must be an app key of a live app."""
    token = _bearer(request)
    ws = workspace(request)
    with ws.lock:
        app = ws.apps_by_key.get(token)
        if app is None:
            raise unauthorized("Access token is invalid")
        if app.id not in ws.apps:
            raise DifyHTTPError(403, "forbidden", "The app no longer exists.")
        if not app.enable_api:
            raise DifyHTTPError(403, "forbidden", "The app's API service has been disabled.")
        return app


def auth_dataset(request: web.Request, dataset_id: str | None = None) -> Dataset | None:
    """Authenticate a dataset route; with ``dataset_id``, return that dataset (404 if absent)."""
    token = _bearer(request)
    ws = workspace(request)
    with ws.lock:
        if token not in ws.dataset_api_keys:
            raise unauthorized("Access token is invalid")
        if dataset_id is None:
            return None
        ds = ws.datasets.get(dataset_id)
        if ds is None:
            raise not_found("Dataset not found.")
        if not ds.enable_api:
            raise DifyHTTPError(403, "forbidden", "Dataset api access is not enabled.")
        return ds


async def json_body(request: web.Request) -> dict[str, Any]:
    """The JSON object body, with Flask/Werkzeug's 415 and 400 behaviour."""
    if request.content_type != "application/json" and not (
        request.content_type.startswith("application/") and request.content_type.endswith("+json")
    ):
        raise DifyHTTPError(
            415,
            "unsupported_media_type",
            "Did not attempt to load JSON data because the request Content-Type was not "
            "'application/json'.",
        )
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise DifyHTTPError(
            400, "bad_request", "Invalid JSON payload received or JSON payload is empty."
        )
    return body


def user_arg(value: Any, required: bool) -> str:
    """The end-user identifier (``DEFAULT-USER`` when optional and absent)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid_param("Arg user must be provided.")
        return DEFAULT_USER
    return str(value)


def require_chat(app: App) -> None:
    """Mode gate of chat-family routes."""
    if app.mode not in CHAT_MODES:
        raise DifyHTTPError(400, "not_chat_app", MODE_MISMATCH_MESSAGE)


def require_completion(app: App) -> None:
    """Mode gate of completion routes (Dify reports ``app_unavailable``)."""
    if app.mode != "completion":
        raise DifyHTTPError(400, "app_unavailable", APP_UNAVAILABLE_MESSAGE)


def require_workflow(app: App, allow_chatflow: bool = False) -> None:
    """Mode gate of workflow routes."""
    if app.mode == "workflow" or (allow_chatflow and app.mode == "advanced-chat"):
        return
    raise DifyHTTPError(400, "not_workflow_app", MODE_MISMATCH_MESSAGE)


def validate_inputs(app: App, inputs: dict[str, Any]) -> dict[str, Any]:
    """Check ``inputs`` against the app's ``user_input_form`` as Dify's generator does.

    Returns the inputs with defaults filled in and numbers/checkboxes converted.
    """
    out = dict(inputs)
    for item in app.user_input_form:
        ((kind, spec),) = item.items()
        var = spec["variable"]
        value = inputs.get(var)
        if value is None or (value == "" and spec.get("required")):
            if spec.get("required"):
                raise invalid_param(f"{var} is required in input form")
            default = spec.get("default")
            out[var] = default if default is not None else ""
            continue
        if kind in ("text-input", "select", "paragraph") and not isinstance(value, str):
            raise invalid_param(f"(type '{kind}') {var} in input form must be a string")
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise invalid_param(f"{var} in input form must be a valid number")
            if isinstance(value, str):
                if not value.strip():
                    out[var] = None
                    continue
                try:
                    out[var] = float(value) if "." in value else int(value)
                except ValueError:
                    raise invalid_param(f"{var} in input form must be a valid number") from None
        elif kind == "select":
            options = spec.get("options", [])
            if value not in options:
                raise invalid_param(f"{var} in input form must be one of the following: {options}")
        elif kind in ("text-input", "paragraph"):
            max_length = spec.get("max_length")
            if max_length and len(value) > max_length:
                raise invalid_param(
                    f"{var} in input form must be less than {max_length} characters"
                )
        elif kind == "file" and not isinstance(value, dict):
            raise invalid_param(f"{var} in input form must be a file")
        elif kind == "file-list" and not (
            isinstance(value, list) and all(isinstance(v, dict) for v in value)
        ):
            raise invalid_param(f"{var} in input form must be a list of files")
        elif kind == "checkbox" and isinstance(value, str):
            out[var] = value.strip().lower() in {"true", "1", "yes", "on"}
    return out


def resolve_files(
    ws: Workspace, app: App, files: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Validate the ``files`` of a message and resolve ``local_file`` uploads."""
    resolved: list[dict[str, Any]] = []
    for item in files or []:
        kind = item.get("type")
        method = item.get("transfer_method")
        if kind not in ("document", "image", "audio", "video", "custom"):
            raise invalid_param(f"Invalid file type: {kind}")
        if method == "remote_url":
            url = item.get("url") or item.get("remote_url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise invalid_param("Invalid file url")
            name = url.rsplit("/", 1)[-1].split("?", 1)[0] or "file"
            resolved.append(
                {
                    "id": str(uuid.uuid4()),
                    "type": kind,
                    "transfer_method": "remote_url",
                    "url": url,
                    "remote_url": url,
                    "upload_file_id": None,
                    "filename": name,
                    "extension": "." + name.rsplit(".", 1)[-1] if "." in name else None,
                    "mime_type": "application/octet-stream",
                    "size": 0,
                }
            )
        elif method == "local_file":
            file_id = item.get("upload_file_id")
            try:
                file_id = str(uuid.UUID(str(file_id)))
            except ValueError:
                raise invalid_param("Invalid upload file id format") from None
            with ws.lock:
                stored = ws.files.get(file_id)
            if stored is None or stored.app_id != app.id:
                raise invalid_param("Invalid upload file")
            resolved.append(
                {
                    "id": str(uuid.uuid4()),
                    "type": kind,
                    "transfer_method": "local_file",
                    "url": None,
                    "remote_url": "",
                    "upload_file_id": stored.id,
                    "filename": stored.name,
                    "extension": "." + stored.extension if stored.extension else None,
                    "mime_type": stored.mime_type,
                    "size": stored.size,
                }
            )
        else:
            raise invalid_param(f"Invalid transfer method: {method}")
    return resolved
