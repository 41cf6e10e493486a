"""``POST /files/upload``: 201 shape, limits and error codes."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from dify_integrations.testing import App, DifyTestServer

from ._support import Api, assert_same_shape, fixture_json

MB = 1024 * 1024


def _errors() -> dict[str, dict[str, Any]]:
    return {e["body"]["code"]: e["body"] for e in fixture_json("error_examples.json")}


def test_upload_201_shape(chat: Api) -> None:
    resp = chat.post(
        "/files/upload",
        files={"file": ("invoice-2025-12.pdf", b"%PDF-1.4", "application/pdf")},
        data={"user": "u"},
    )
    assert resp.status_code == 201
    body = resp.json()
    assert_same_shape(body, fixture_json("file_upload.json"))
    assert (body["name"], body["size"], body["extension"], body["mime_type"]) == (
        "invoice-2025-12.pdf",
        8,
        "pdf",
        "application/pdf",
    )
    assert requests.get(body["source_url"], timeout=10).content == b"%PDF-1.4"


@pytest.mark.parametrize(
    ("files", "status", "code"),
    [
        ({"other": ("a.txt", b"x", "text/plain")}, 400, "no_file_uploaded"),
        (
            [("file", ("a.txt", b"x", "text/plain")), ("file2", ("b.txt", b"y", "text/plain"))],
            400,
            "too_many_files",
        ),
        ({"file": ("a.txt", b"x")}, 415, "unsupported_file_type"),
        ({"file": ("", b"x", "text/plain")}, 400, "filename_not_exists_error"),
    ],
)
def test_upload_errors(chat: Api, files: Any, status: int, code: str) -> None:
    resp = chat.post("/files/upload", files=files, data={"user": "u"})
    assert resp.status_code == status
    assert resp.json() == _errors()[code]


def test_no_multipart_at_all(chat: Api) -> None:
    resp = chat.post("/files/upload", json={"user": "u"})
    assert resp.json() == _errors()["no_file_uploaded"]


def test_size_limits_by_extension(server: DifyTestServer, chat_app: App) -> None:
    api = Api(server, chat_app.api_key)
    saved = (server.upload_limits.image, server.upload_limits.other)
    server.upload_limits.image, server.upload_limits.other = 1 * MB, 2 * MB
    try:
        big_image = api.post(
            "/files/upload", files={"file": ("a.png", b"x" * (MB + 1), "image/png")}
        )
        assert big_image.status_code == 413
        assert big_image.json() == _errors()["file_too_large"]
        doc = api.post(
            "/files/upload", files={"file": ("a.pdf", b"x" * (MB + 1), "application/pdf")}
        )
        assert doc.status_code == 201
        big_doc = api.post(
            "/files/upload", files={"file": ("a.pdf", b"x" * (2 * MB + 1), "application/pdf")}
        )
        assert big_doc.status_code == 413
    finally:
        server.upload_limits.image, server.upload_limits.other = saved


def test_default_limits_are_dify_defaults(server: DifyTestServer, chat: Api) -> None:
    params = chat.get("/parameters").json()["system_parameters"]
    assert params == fixture_json("parameters.json")["system_parameters"]
    big = chat.post("/files/upload", files={"file": ("a.jpg", b"x" * (10 * MB + 1), "image/jpeg")})
    assert big.status_code == 413


def test_upload_is_logged_without_content(server: DifyTestServer, chat: Api) -> None:
    server.reset_log()
    chat.post(
        "/files/upload",
        files={"file": ("a.txt", b"secret bytes", "text/plain")},
        data={"user": "uploader"},
    )
    entry = server.requests_to("/files/upload")[-1]
    assert entry.user == "uploader"
    assert entry.body["file"] == {"filename": "a.txt", "size": 12, "content_type": "text/plain"}


def test_malformed_multipart_is_no_file_uploaded_not_500(
    server: DifyTestServer, chat_app: App
) -> None:
    """Werkzeug reads a broken multipart body as an empty form; Dify answers 400."""
    for content_type, body in [
        ("multipart/form-data", b""),
        ("multipart/form-data; boundary=abc", b"garbage"),
    ]:
        response = requests.post(
            f"{server.base_url}/files/upload",
            headers={"Authorization": f"Bearer {chat_app.api_key}", "Content-Type": content_type},
            data=body,
            timeout=10,
        )
        assert response.status_code == 400
        assert response.json()["code"] == "no_file_uploaded"
