"""App description routes: ``/`` index, ``/parameters``, ``/info``, ``/meta``, ``/site``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._errors import json_response
from ._http import auth_app
from ._settings import MB, settings
from ._workspace import App

routes = web.RouteTableDef()


@routes.get("/v1/")
@routes.get("/v1")
async def index(request: web.Request) -> web.Response:
    """``GET /v1/`` — no auth."""
    return json_response(
        {
            "welcome": "Dify OpenAPI",
            "api_version": "v1",
            "server_version": settings(request).server_version,
        }
    )


def parameters_json(app: App, system: dict[str, int]) -> dict[str, Any]:
    """The ``/parameters`` body of an app."""
    return {
        "opening_statement": app.opening_statement,
        "suggested_questions": list(app.suggested_questions),
        "suggested_questions_after_answer": {"enabled": app.suggested_questions_after_answer},
        "speech_to_text": {"enabled": False},
        "text_to_speech": {"enabled": False, "voice": "", "language": ""},
        "retriever_resource": {"enabled": app.show_retrieve_source},
        "annotation_reply": {"enabled": False},
        "more_like_this": {"enabled": False},
        "user_input_form": app.user_input_form,
        "sensitive_word_avoidance": {"enabled": False, "type": "", "configs": []},
        "file_upload": {
            "image": {
                "enabled": True,
                "number_limits": 3,
                "detail": "high",
                "transfer_methods": ["remote_url", "local_file"],
            },
            "enabled": True,
            "allowed_file_types": ["image", "document"],
            "allowed_file_extensions": [],
            "allowed_file_upload_methods": ["remote_url", "local_file"],
            "number_limits": 3,
        },
        "system_parameters": system,
    }


@routes.get("/v1/parameters")
async def parameters(request: web.Request) -> web.Response:
    """``GET /parameters``."""
    app = auth_app(request)
    limits = settings(request).upload_limits
    system = {
        "image_file_size_limit": limits.image // MB,
        "video_file_size_limit": limits.video // MB,
        "audio_file_size_limit": limits.audio // MB,
        "file_size_limit": limits.other // MB,
        "workflow_file_upload_limit": 10,
    }
    return json_response(parameters_json(app, system))


@routes.get("/v1/info")
async def info(request: web.Request) -> web.Response:
    """``GET /info``."""
    app = auth_app(request)
    return json_response(
        {
            "name": app.name,
            "description": app.description,
            "tags": list(app.tags),
            "mode": app.mode,
            "author_name": app.author_name,
        }
    )


@routes.get("/v1/meta")
async def meta(request: web.Request) -> web.Response:
    """``GET /meta``."""
    app = auth_app(request)
    icons = dict(app.tool_icons)
    if app.mode == "agent-chat" and app.dataset_ids:
        icons.setdefault("dataset_retrieval", {"background": "#FFF4ED", "content": "📙"})
    return json_response({"tool_icons": icons})


@routes.get("/v1/site")
async def site(request: web.Request) -> web.Response:
    """``GET /site`` — web-app settings."""
    app = auth_app(request)
    return json_response(
        {
            "title": app.name,
            "chat_color_theme": None,
            "chat_color_theme_inverted": False,
            "icon_type": "emoji",
            "icon": "🤖",
            "icon_background": "#FFEAD5",
            "icon_url": None,
            "description": app.description,
            "copyright": None,
            "privacy_policy": None,
            "custom_disclaimer": "",
            "default_language": "en-US",
            "show_workflow_steps": True,
            "use_icon_as_answer_icon": False,
        }
    )
