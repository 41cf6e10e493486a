"""File upload (``POST /files/upload``) and the signed preview URL it hands out."""

from __future__ import annotations

import secrets
import time

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ._errors import DifyHTTPError, invalid_param, json_response, not_found
from ._http import auth_app, user_arg, workspace
from ._middleware import LOG_ENTRY_KEY
from ._routes_conversations import UUID_RE
from ._settings import settings
from ._workspace import UploadedFile, new_id

routes = web.RouteTableDef()


async def _read_multipart(
    request: web.Request,
    fields: dict[str, str],
    files: list[tuple[str, str | None, str | None, bytes]],
) -> None:
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            return
        if not isinstance(part, BodyPartReader):
            continue
        raw_disposition = part.headers.get("Content-Disposition", "")
        if part.filename is not None or "filename=" in raw_disposition:
            data = await part.read()
            files.append(
                (
                    part.name or "",
                    part.filename or "",
                    part.headers.get("Content-Type"),
                    bytes(data),
                )
            )
        else:
            fields[part.name or ""] = (await part.read()).decode("utf-8", "replace")


@routes.post("/v1/files/upload")
async def upload(request: web.Request) -> web.Response:
    """``POST /files/upload`` — multipart ``file`` (+ optional ``user``), answers 201."""
    app = auth_app(request)
    limits = settings(request).upload_limits
    fields: dict[str, str] = {}
    files: list[tuple[str, str | None, str | None, bytes]] = []
    if request.content_type.startswith("multipart/"):
        try:
            await _read_multipart(request, fields, files)
        except (ValueError, HttpProcessingError):
            # Werkzeug parses a broken multipart body as an empty form: Dify then answers
            # 400 no_file_uploaded, never a 500.
            fields.clear()
            files.clear()
    user = user_arg(fields.get("user"), required=False)
    entry = request.get(LOG_ENTRY_KEY)
    if entry is not None:
        entry.user = fields.get("user")
        entry.body = {
            **fields,
            **{
                name: {"filename": fn, "size": len(data), "content_type": ct}
                for name, fn, ct, data in files
            },
        }
    if not any(name == "file" for name, *_ in files):
        raise DifyHTTPError(400, "no_file_uploaded", "Please upload your file.")
    if len(files) > 1:
        raise DifyHTTPError(400, "too_many_files", "Only one file is allowed.")
    _, filename, content_type, data = files[0]
    if not content_type:
        raise DifyHTTPError(415, "unsupported_file_type", "File type not allowed.")
    if not filename:
        raise DifyHTTPError(
            400, "filename_not_exists_error", "The specified filename does not exist."
        )
    if "/" in filename or "\\" in filename:
        raise invalid_param("Filename contains invalid characters")
    if len(filename) > 200:
        stem, dot, ext = filename.rpartition(".")
        filename = (stem[: 200 - len(ext) - 1] + dot + ext) if dot else filename[:200]
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension in limits.blacklist:
        raise DifyHTTPError(
            400, "file_extension_blocked", "The file extension is blocked for security reasons."
        )
    if len(data) > limits.for_extension(extension):
        raise DifyHTTPError(413, "file_too_large", "File size exceeded. {message}")
    ws = workspace(request)
    stored = UploadedFile(
        id=new_id(),
        app_id=app.id,
        user=user,
        end_user_id=ws.end_user_id(app.id, user),
        name=filename,
        size=len(data),
        extension=extension or None,
        mime_type=content_type.split(";")[0].strip(),
        created_at=int(time.time()),
        content=data,
    )
    with ws.lock:
        ws.files[stored.id] = stored
    root = f"{request.scheme}://{request.host}"
    source_url = (
        f"{root}/files/{stored.id}/file-preview?timestamp={stored.created_at}"
        f"&nonce={secrets.token_hex(8)}&sign={secrets.token_urlsafe(16)}"
    )
    return json_response(
        {
            "id": stored.id,
            "name": stored.name,
            "size": stored.size,
            "extension": stored.extension,
            "mime_type": stored.mime_type,
            "created_by": stored.end_user_id,
            "created_at": stored.created_at,
            "preview_url": None,
            "source_url": source_url,
            "original_url": None,
            "user_id": None,
            "tenant_id": ws.tenant_id,
            "conversation_id": None,
            "file_key": None,
        },
        status=201,
    )


@routes.get("/files/{file_id:" + UUID_RE + "}/file-preview")
async def file_preview(request: web.Request) -> web.Response:
    """The signed ``source_url`` of an upload (signature not checked)."""
    ws = workspace(request)
    with ws.lock:
        stored = ws.files.get(request.match_info["file_id"].lower())
    if stored is None:
        raise not_found()
    return web.Response(
        body=stored.content, content_type=stored.mime_type or "application/octet-stream"
    )
