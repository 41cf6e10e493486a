"""Pure conversions of the LangChain adapters (no server)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from dify_integrations.core.conversation import Turn
from dify_integrations.core.retrieval import record_to_chunk
from dify_integrations.core.workflow_tool import render_workflow_outputs
from dify_integrations.langchain._convert import (
    FileSpec,
    chunk_to_document,
    dify_file_object,
    extract_files,
    message_text,
    messages_to_turns,
    usage_to_metadata,
)
from dify_integrations.langchain._fold import StopSequenceCutter, cut_at_stop

PNG = b"\x89PNG\r\n\x1a\nfake-image-bytes"
PNG_B64 = base64.b64encode(PNG).decode()


def test_messages_to_turns_roles_and_conversation_id() -> None:
    turns = messages_to_turns(
        [
            SystemMessage("be brief"),
            HumanMessage("hi"),
            AIMessage("hello", response_metadata={"conversation_id": "c-1"}),
            AIMessage("no id"),
            ChatMessage(role="developer", content="dev note"),
            HumanMessage(content=[{"type": "text", "text": "a"}, "b"]),
        ]
    )
    assert turns == [
        Turn("system", "be brief"),
        Turn("user", "hi"),
        Turn("assistant", "hello", "c-1"),
        Turn("assistant", "no id"),
        Turn("system", "dev note"),
        Turn("user", "ab"),
    ]


def test_tool_messages_are_refused() -> None:
    with pytest.raises(ValueError, match="tool messages"):
        messages_to_turns([HumanMessage("x"), ToolMessage("r", tool_call_id="1")])


def test_message_text_ignores_non_text_blocks() -> None:
    message = HumanMessage(
        content=[
            {"type": "text", "text": "look: "},
            {"type": "image", "url": "https://example.com/a.png"},
            {"type": "text", "text": "what is it?"},
        ]
    )
    assert message_text(message) == "look: what is it?"


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
        {"type": "image", "source_type": "base64", "data": PNG_B64, "mime_type": "image/png"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
    ],
)
def test_extract_base64_image_blocks(block: dict[str, object]) -> None:
    (spec,) = extract_files(HumanMessage(content=[{"type": "text", "text": "x"}, block]))
    assert spec.data == PNG
    assert spec.dify_type == "image"
    assert spec.mime_type == "image/png"
    assert spec.filename
    assert spec.filename.endswith(".png")
    assert spec.url is None


def test_extract_url_and_file_blocks() -> None:
    message = HumanMessage(
        content=[
            {"type": "image", "url": "https://example.com/cat.jpg"},
            {"type": "image_url", "image_url": {"url": "https://example.com/dog.png"}},
            {
                "type": "file",
                "base64": base64.b64encode(b"%PDF-1.4").decode(),
                "mime_type": "application/pdf",
                "filename": "spec.pdf",
            },
            {"type": "file", "file_id": "0b7c7a4e-5d0e-4c55-8f1e-3a1f7a9e2b11"},
        ]
    )
    specs = extract_files(message)
    assert [s.dify_type for s in specs] == ["image", "image", "document", "document"]
    assert specs[0].url == "https://example.com/cat.jpg"
    assert specs[0].mime_type == "image/jpeg"
    assert specs[2].data == b"%PDF-1.4"
    assert specs[2].filename == "spec.pdf"
    assert dify_file_object(specs[0]) == {
        "type": "image",
        "transfer_method": "remote_url",
        "url": "https://example.com/cat.jpg",
    }
    assert dify_file_object(specs[2], "up-1") == {
        "type": "document",
        "transfer_method": "local_file",
        "upload_file_id": "up-1",
    }
    assert dify_file_object(specs[3])["upload_file_id"] == "0b7c7a4e-5d0e-4c55-8f1e-3a1f7a9e2b11"


def test_extract_rejects_bad_blocks() -> None:
    with pytest.raises(ValueError, match="no url"):
        extract_files(HumanMessage(content=[{"type": "image"}]))
    with pytest.raises(ValueError, match="http"):
        extract_files(HumanMessage(content=[{"type": "image", "url": "file:///etc/passwd"}]))
    with pytest.raises(ValueError, match="not uploaded"):
        dify_file_object(FileSpec(dify_type="image", data=b"x"))


def test_plain_text_message_has_no_files() -> None:
    assert extract_files(HumanMessage("hello")) == []


def test_cut_at_stop() -> None:
    assert cut_at_stop("hello you there", ["you"]) == ("hello ", True)
    assert cut_at_stop("a.b!c", ["!", "."]) == ("a", True)
    assert cut_at_stop("nothing", ["zz"]) == ("nothing", False)
    assert cut_at_stop("text", None) == ("text", False)
    assert cut_at_stop("text", [""]) == ("text", False)


@pytest.mark.parametrize(
    "deltas",
    [
        ["hello you there"],
        ["hel", "lo y", "ou there"],
        ["h", "e", "l", "l", "o", " ", "y", "o", "u", " ", "t"],
        ["hello yo", "u"],
    ],
)
def test_stop_cutter_across_deltas(deltas: list[str]) -> None:
    cutter = StopSequenceCutter(["you"])
    out = "".join(cutter.feed(d) for d in deltas) + cutter.flush()
    assert out == "hello "
    assert cutter.stopped


def test_stop_cutter_releases_false_prefix() -> None:
    cutter = StopSequenceCutter(["END"])
    first = cutter.feed("the E")
    assert first == "the "  # "E" is held back: it may start "END"
    assert cutter.feed("ND? no: EN") == ""
    assert cutter.stopped
    other = StopSequenceCutter(["END"])
    text = other.feed("the E") + other.feed("very") + other.flush()
    assert text == "the Every"
    assert not other.stopped


def test_stop_cutter_without_stops_is_transparent() -> None:
    cutter = StopSequenceCutter([])
    assert cutter.feed("abc") == "abc"
    assert cutter.flush() == ""


def test_usage_to_metadata() -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15, "total_price": "1"}
    assert usage_to_metadata(usage) == {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    assert usage_to_metadata({"prompt_tokens": 2, "completion_tokens": 3})["total_tokens"] == 5
    assert usage_to_metadata(None) is None


def test_retriever_retrieval_model() -> None:
    from dify_integrations.langchain import DifyRetriever

    retriever = DifyRetriever(
        api_key="dataset-x",
        base_url="http://127.0.0.1:9/v1",
        dataset_id="d",
        k=3,
        score_threshold=0.5,
        metadata_filter={"logical_operator": "and", "conditions": []},
    )
    k, model = retriever._retrieval_model({})
    assert k == 3
    assert model == {  # every key Dify sends, unset options null (core.operations)
        "search_method": "semantic_search",
        "reranking_enable": False,
        "reranking_mode": None,
        "reranking_model": None,
        "weights": None,
        "top_k": 3,
        "score_threshold_enabled": True,
        "score_threshold": 0.5,
        "metadata_filtering_conditions": {"logical_operator": "and", "conditions": []},
    }
    with pytest.raises(ValueError, match="k must"):
        retriever._retrieval_model({"k": 0})


def _record(score: float | None, segment_id: str = "s1") -> dict[str, object]:
    return {
        "segment": {
            "id": segment_id,
            "position": 2,
            "document_id": "d1",
            "content": "Refunds take 5 days.",
            "answer": None,
            "document": {"id": "d1", "name": "faq.md", "doc_metadata": {"category": "billing"}},
        },
        "child_chunks": [],
        "score": score,
    }


def test_record_to_document() -> None:
    doc = record_to_document(_record(0.75), "ds-1")
    assert doc.id == "s1"
    assert doc.page_content == "Refunds take 5 days."
    assert doc.metadata == {
        "score": 0.75,
        "dataset_id": "ds-1",
        "document_id": "d1",
        "document_name": "faq.md",
        "segment_id": "s1",
        "segment_position": 2,
        "category": "billing",
    }


def test_record_without_score_keeps_none() -> None:
    assert record_to_document(_record(None), "ds-1").metadata["score"] is None


def test_external_record() -> None:
    doc = record_to_document(
        {"content": "text", "title": "T", "score": 0.4, "metadata": {"a": 1}}, "ds-x"
    )
    assert doc.page_content == "text"
    assert doc.metadata["document_name"] == "T"
    assert doc.metadata["score"] == 0.4


def test_render_workflow_outputs() -> None:
    assert render_workflow_outputs({"text": "bonjour"}) == "bonjour"
    assert render_workflow_outputs({"n": 3}) == '{"n": 3}'
    assert render_workflow_outputs({"a": "x", "b": "é"}) == '{"a": "x", "b": "é"}'
    assert render_workflow_outputs({}, "streamed") == "streamed"
    assert render_workflow_outputs(None) == ""


def record_to_document(record: Any, dataset_id: str) -> Document:
    return chunk_to_document(record_to_chunk(record, dataset_id))
