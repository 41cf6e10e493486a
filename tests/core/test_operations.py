"""Pure request builders: shapes on the wire and validation before any request."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from dify_integrations.core import operations as ops

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dify"


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


CID = "9b2f6c1e-7d4a-4e3b-a1c2-3d4e5f6a7b8c"
DID = "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"


def test_chat_message_matches_the_fixture_request() -> None:
    fixture = load_json("chat_request.json")
    op = ops.chat_message(
        fixture["query"],
        user=fixture["user"],
        inputs=fixture["inputs"],
        conversation_id=fixture.get("conversation_id") or None,
        files=fixture.get("files"),
        auto_generate_name=fixture.get("auto_generate_name"),
        response_mode=fixture["response_mode"],
    )
    assert (op.method, op.path, op.key_kind) == ("POST", "/chat-messages", "app")
    assert op.json is not None
    for key in ("query", "inputs", "user", "response_mode", "files"):
        if key in fixture:
            assert op.json[key] == fixture[key]
    assert op.stream == (fixture["response_mode"] == "streaming")
    assert op.stop_kind == "chat"
    assert not op.idempotent
    assert json.loads(ops.encode_json(op.json)) == op.json


def test_workflow_and_completion_and_stop_routes() -> None:
    wf = ops.run_workflow({"topic": "x"}, user="u")
    assert (wf.path, wf.stop_kind, wf.json) == (
        "/workflows/run",
        "workflow",
        {"inputs": {"topic": "x"}, "response_mode": "streaming", "user": "u"},
    )
    comp = ops.completion_message({"a": 1}, query="q", user="u", response_mode="blocking")
    assert (comp.path, comp.stream, comp.json and comp.json["query"]) == (
        "/completion-messages",
        False,
        "q",
    )
    tid = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    assert ops.stop_task("workflow", tid, user="u").path == f"/workflows/tasks/{tid}/stop"
    assert ops.stop_task("chat", tid, user="u").path == f"/chat-messages/{tid}/stop"
    assert ops.stop_task("completion", tid.upper(), user="u").path == (
        f"/completion-messages/{tid}/stop"
    )
    stop = ops.stop_task("chat", tid, user="u")
    assert (stop.json, stop.idempotent) == ({"user": "u"}, True)


def test_conversation_and_message_operations() -> None:
    delete = ops.delete_conversation(CID, user="u")
    assert (delete.method, delete.path, delete.json, delete.empty) == (
        "DELETE",
        f"/conversations/{CID}",
        {"user": "u"},
        True,
    )
    rename = ops.rename_conversation(CID, "New", user="u")
    assert rename.json == {"auto_generate": False, "user": "u", "name": "New"}
    auto = ops.rename_conversation(CID, auto_generate=True, user="u")
    assert auto.json == {"auto_generate": True, "user": "u"}
    listing = ops.list_conversations(user="u", limit=5, sort_by="-created_at", last_id=CID)
    assert listing.params == {"user": "u", "limit": 5, "last_id": CID, "sort_by": "-created_at"}
    messages = ops.list_messages(CID, user="u", first_id=CID)
    assert messages.params == {"conversation_id": CID, "user": "u", "limit": 20, "first_id": CID}


def test_knowledge_operations_need_a_dataset_key() -> None:
    listing = ops.list_datasets(page=2, limit=10, keyword="hand")
    assert (listing.key_kind, listing.params) == (
        "dataset",
        {"page": 2, "limit": 10, "keyword": "hand"},
    )
    fixture = load_json("retrieve_request.json")
    op = ops.retrieve(DID, fixture["query"], retrieval_model=fixture["retrieval_model"])
    assert op.json == fixture
    assert (op.key_kind, op.idempotent, op.path) == ("dataset", True, f"/datasets/{DID}/retrieve")
    filled = ops.retrieve(DID, "q", retrieval_model={"top_k": 2, "score_threshold": 0.2})
    assert filled.json is not None
    assert filled.json["retrieval_model"] == {
        "top_k": 2,
        "score_threshold": 0.2,
        "search_method": "semantic_search",
        "reranking_enable": False,
        "score_threshold_enabled": True,
    }
    with pytest.raises(ValueError, match="knowledge"):
        ops.check_key_kind(op, "app-123")
    with pytest.raises(ValueError, match="app"):
        ops.check_key_kind(ops.get_info(), "dataset-123")
    ops.check_key_kind(op, "dataset-123")
    ops.check_key_kind(op, "custom-key-without-prefix")


def test_upload_from_path_bytes_and_file_object(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"%PDF-1.4 test")
    by_path = ops.upload_file(path, user="u")
    assert by_path.multipart is not None
    assert (by_path.multipart.filename, by_path.multipart.mime_type) == (
        "notes.pdf",
        "application/pdf",
    )
    assert by_path.multipart.content == b"%PDF-1.4 test"
    assert by_path.multipart.fields == {"user": "u"}
    assert not by_path.idempotent
    by_bytes = ops.upload_file(b"\x89PNG", filename="a.png")
    assert by_bytes.multipart is not None
    assert (by_bytes.multipart.mime_type, by_bytes.multipart.fields) == ("image/png", {})
    with path.open("rb") as fh:
        by_obj = ops.upload_file(fh, user="u")
    assert by_obj.multipart is not None
    assert by_obj.multipart.filename == "notes.pdf"
    custom = ops.upload_file(io.BytesIO(b"x"), filename="x.bin", mime_type="text/plain")
    assert custom.multipart is not None
    assert custom.multipart.mime_type == "text/plain"


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: ops.chat_message("", user="u"), ValueError, "query"),
        (lambda: ops.chat_message("   ", user="u"), ValueError, "query"),
        (lambda: ops.chat_message(None, user="u"), TypeError, "query"),  # type: ignore[arg-type]
        (lambda: ops.chat_message("hi", user=None), ValueError, "user"),
        (lambda: ops.chat_message("hi", user=""), ValueError, "user"),
        (lambda: ops.chat_message("hi", user="u", response_mode="fast"), ValueError, "mode"),
        (lambda: ops.chat_message("hi", user="u", conversation_id="abc"), ValueError, "UUID"),
        (lambda: ops.chat_message("hi", user="u", inputs=[1]), TypeError, "inputs"),  # type: ignore[arg-type]
        (
            lambda: ops.chat_message("hi", user="u", files=[{"type": "image"}]),
            ValueError,
            "transfer_method",
        ),
        (
            lambda: ops.chat_message(
                "hi",
                user="u",
                files=[{"type": "image", "transfer_method": "local_file", "upload_file_id": "x"}],
            ),
            ValueError,
            "UUID",
        ),
        (
            lambda: ops.chat_message(
                "hi", user="u", files=[{"type": "image", "transfer_method": "remote_url"}]
            ),
            ValueError,
            "url",
        ),
        (lambda: ops.run_workflow({}, user=None), ValueError, "user"),
        (lambda: ops.completion_message({}, user="u", response_mode="x"), ValueError, "mode"),
        (lambda: ops.stop_task("chat", "", user="u"), ValueError, "task_id"),
        (lambda: ops.stop_task("chat", CID, user=None), ValueError, "user"),
        (lambda: ops.delete_conversation("not-a-uuid", user="u"), ValueError, "UUID"),
        (lambda: ops.rename_conversation(CID, None, user="u"), ValueError, "name"),
        (lambda: ops.list_conversations(user="u", limit=0), ValueError, "limit"),
        (lambda: ops.list_conversations(user="u", sort_by="name"), ValueError, "sort_by"),
        (lambda: ops.list_messages(CID, user="u", limit=101), ValueError, "limit"),
        (lambda: ops.list_datasets(page=0), ValueError, "page"),
        (lambda: ops.retrieve("x", "q"), ValueError, "UUID"),
        (lambda: ops.retrieve(DID, ""), ValueError, "query"),
        (
            lambda: ops.retrieve(DID, "q", retrieval_model={"search_method": "magic"}),
            ValueError,
            "search_method",
        ),
        (lambda: ops.upload_file("/nonexistent/file.txt"), ValueError, "cannot read"),
        (lambda: ops.upload_file(b"data"), ValueError, "filename"),
        (lambda: ops.upload_file(b"", filename="a.txt"), ValueError, "empty"),
        (lambda: ops.upload_file(b"x", filename="a/b.txt"), ValueError, "separators"),
        (lambda: ops.upload_file(io.StringIO("text"), filename="a.txt"), TypeError, "binary"),
        (lambda: ops.upload_file(12), TypeError, "path"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_fails_before_any_request(call: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()  # type: ignore[operator]


def test_unreadable_directory_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a regular file"):
        ops.upload_file(tmp_path)


def test_retrieval_model_matches_the_request_fixture() -> None:
    """The one builder both retrievers use gives Dify's own request shape."""
    fixture = json.loads(
        (Path(__file__).resolve().parent.parent / "fixtures/dify/retrieve_request.json").read_text()
    )["retrieval_model"]
    built = ops.retrieval_model(
        top_k=fixture["top_k"],
        search_method=fixture["search_method"],
        score_threshold=fixture["score_threshold"],
        reranking_enable=fixture["reranking_enable"],
        reranking_mode=fixture["reranking_mode"],
        reranking_model=fixture["reranking_model"],
        metadata_filtering_conditions=fixture["metadata_filtering_conditions"],
    )
    assert built == fixture
    assert list(built) == list(fixture)
    plain = ops.retrieval_model(top_k=2)
    assert plain["search_method"] == "semantic_search"
    assert plain["score_threshold_enabled"] is False
    assert "metadata_filtering_conditions" not in plain
    for bad in ({"top_k": 0}, {"top_k": True}, {"top_k": 2, "search_method": "magic"}):
        with pytest.raises(ValueError, match=r"top_k|search_method"):
            ops.retrieval_model(**bad)
