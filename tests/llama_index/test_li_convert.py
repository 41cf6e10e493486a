"""Pure conversions of the LlamaIndex adapters, fed with the byte-exact Dify fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock
from llama_index.core.callbacks.token_counting import get_tokens_from_response
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from dify_integrations.core.accumulate import StreamResult
from dify_integrations.core.events import parse_event
from dify_integrations.core.input_schema import fields_to_model, parse_user_input_form
from dify_integrations.core.retrieval import record_to_chunk, resource_to_chunk
from dify_integrations.core.workflow_tool import WorkflowOutcome, workflow_outcome
from dify_integrations.llama_index._convert import (
    chunk_to_node,
    citations_output,
    dify_messages_to_chat_history,
    image_files,
    messages_to_prompt,
    messages_to_turns,
    metadata_filters_to_dify,
    to_chat_response,
    to_completion_response,
    tool_arguments,
    workflow_tool_output,
)
from dify_integrations.llama_index._streaming import Progress

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "dify"


def _fold(name: str) -> StreamResult:
    result = StreamResult()
    for frame in (FIXTURES / name).read_text(encoding="utf-8").split("\n\n"):
        for line in frame.splitlines():
            if line.startswith("data:"):
                result.add(parse_event(json.loads(line[5:])))
    return result


def _json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- messages


def test_messages_to_turns_maps_roles_and_conversation_ids() -> None:
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
        ChatMessage(role=MessageRole.USER, content="Hi"),
        ChatMessage(
            role=MessageRole.ASSISTANT, content="Hello", additional_kwargs={"conversation_id": "c1"}
        ),
        ChatMessage(role=MessageRole.TOOL, content="42"),
        ChatMessage(role=MessageRole.DEVELOPER, content="No emojis."),
        ChatMessage(role=MessageRole.USER, content="And?"),
    ]
    turns = messages_to_turns(messages)
    assert [t.role for t in turns] == ["system", "user", "assistant", "user", "system", "user"]
    assert turns[2].conversation_id == "c1"
    assert turns[1].conversation_id is None
    assert turns[3].content == "42"


def test_messages_to_turns_keeps_only_text_blocks() -> None:
    message = ChatMessage(
        role=MessageRole.USER,
        blocks=[
            TextBlock(text="look "),
            ImageBlock(url="https://x.test/a.png"),
            TextBlock(text="here"),
        ],
    )
    assert messages_to_turns([message])[0].content == "look here"


def test_messages_to_prompt_single_user_message_is_sent_as_is() -> None:
    assert messages_to_prompt([ChatMessage(role="user", content="Summarise X")]) == "Summarise X"


def test_messages_to_prompt_flattens_system_and_history() -> None:
    prompt = messages_to_prompt(
        [
            ChatMessage(role="system", content="You are terse."),
            ChatMessage(role="user", content="Hi"),
            ChatMessage(role="assistant", content="Hello"),
            ChatMessage(role="user", content="Bye"),
        ]
    )
    assert prompt == "You are terse.\n\nUser: Hi\nAssistant: Hello\nUser: Bye"


def test_image_files_remote_url_and_local_bytes(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    path = tmp_path / "receipt.png"
    path.write_bytes(png)
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="what is this?"),
            ImageBlock(url="https://example.com/cat.jpg"),
            ImageBlock(path=path),
            ImageBlock(image=png, image_mimetype="image/png"),
        ],
    )
    files, uploads = image_files(message)
    assert files == [
        {"type": "image", "transfer_method": "remote_url", "url": "https://example.com/cat.jpg"}
    ]
    assert uploads[0].filename == "receipt.png"
    assert all(u.data == png for u in uploads)
    assert uploads[1].mime_type == "image/png"
    assert uploads[1].filename.endswith(".png")


# ----------------------------------------------------------------------------- responses


def test_chat_response_from_fixture_stream_carries_usage_and_ids() -> None:
    result = _fold("chat_streaming.sse")
    response = to_chat_response(result, text=result.answer)
    assert response.message.content == result.answer
    assert response.message.content
    assert response.delta is None
    assert response.additional_kwargs["conversation_id"] == "9b2f6c1e-7d4a-4e3b-a1c2-3d4e5f6a7b8c"
    assert response.additional_kwargs["message_id"] == "5d8e2f1a-3b4c-4d5e-9f60-7a8b9c0d1e2f"
    assert response.additional_kwargs["task_id"] == "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
    assert response.message.additional_kwargs["conversation_id"] == result.conversation_id
    assert result.usage is not None
    # What TokenCountingHandler reads, exactly.
    assert get_tokens_from_response(response) == (
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
    )
    assert result.usage.prompt_tokens > 0
    assert response.raw is not None
    assert response.raw["usage"]["total_tokens"] == result.usage.total_tokens
    assert isinstance(response.additional_kwargs["retriever_resources"], list)


def test_completion_response_from_fixture_stream() -> None:
    result = _fold("completion_streaming.sse")
    response = to_completion_response(result, text=result.answer, delta="")
    assert response.text == result.answer
    assert response.delta == ""
    assert "conversation_id" not in response.additional_kwargs
    assert result.usage is not None
    assert get_tokens_from_response(response) == (
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
    )


def test_response_without_usage_counts_zero_not_crash() -> None:
    result = StreamResult()
    response = to_chat_response(result, text="")
    assert get_tokens_from_response(response) == (0, 0)


def test_progress_reports_deltas_and_replacements() -> None:
    progress = Progress()
    assert progress.step("Hel") == "Hel"
    assert progress.step("Hello") == "lo"
    assert progress.step("Hello") is None
    assert progress.step("[redacted]") == ""
    assert progress.text == "[redacted]"


def test_message_replace_fixture_is_folded_to_the_replacement() -> None:
    result = _fold("chat_streaming_message_replace.sse")
    progress = Progress()
    progress.step(result.answer)
    assert to_chat_response(result, text=progress.text).message.content == result.answer


# ----------------------------------------------------------------------------- chat engine


def test_dify_messages_to_chat_history() -> None:
    page = _json("messages_list.json")
    history = dify_messages_to_chat_history(page["data"])
    assert [m.role for m in history] == [MessageRole.USER, MessageRole.ASSISTANT]
    assert history[0].content == page["data"][0]["query"]
    assert history[1].content == page["data"][0]["answer"]
    assert history[1].additional_kwargs["message_id"] == page["data"][0]["id"]
    assert history[1].additional_kwargs["conversation_id"] == page["data"][0]["conversation_id"]


def test_resource_to_node_and_citations_output() -> None:
    resource = _json("messages_list.json")["data"][0]["retriever_resources"][0]
    node = resource_to_node(resource)
    assert node.node.node_id == resource["segment_id"]
    assert node.node.get_content() == resource["content"]
    assert node.score == pytest.approx(resource["score"])
    assert node.node.metadata["document_name"] == resource["document_name"]
    # Bookkeeping ids stay out of the LLM's view of the node.
    assert "dataset_id" not in node.node.get_content(metadata_mode="llm")  # type: ignore[arg-type]
    outputs = citations_output([resource])
    assert len(outputs) == 1
    assert outputs[0].content == resource["content"]
    assert outputs[0].raw_output == [resource]
    assert citations_output([]) == []


def test_resource_without_score_keeps_none() -> None:
    node = resource_to_node({"segment_id": "s", "content": "x", "score": None})
    assert node.score is None


# ----------------------------------------------------------------------------- retriever


def test_record_to_node_from_fixture() -> None:
    records = _json("retrieve.json")["records"]
    node = record_to_node(records[0], "ds-1")
    segment = records[0]["segment"]
    assert isinstance(node.node, TextNode)
    assert node.node.node_id == segment["id"]
    assert node.node.text == segment["content"]
    assert node.score == pytest.approx(records[0]["score"])
    metadata = node.node.metadata
    assert metadata["dataset_id"] == "ds-1"
    assert metadata["document_id"] == segment["document_id"]
    assert metadata["document_name"] == "returns-policy.md"
    assert metadata["department"] == "support"  # the document's own metadata
    assert "dataset_id" in node.node.excluded_llm_metadata_keys


def test_record_without_score_gives_none_not_zero() -> None:
    record = dict(_json("retrieve.json")["records"][1])
    record["score"] = None
    assert record_to_node(record, "ds").score is None
    del record["score"]
    assert record_to_node(record, "ds").score is None


def test_qa_segment_appends_answer_and_external_record() -> None:
    record = _json("retrieve.json")["records"][0]
    record["segment"]["answer"] = "Thirty days."
    assert record_to_node(record).node.text.endswith("\nThirty days.")  # type: ignore[attr-defined]
    external = record_to_node(
        {"content": "ext text", "title": "T", "score": 0.5, "metadata": {"segment_id": "e1"}}
    )
    assert external.node.node_id == "e1"
    assert external.node.metadata["document_name"] == "T"
    no_id = record_to_node({"content": "same", "score": 0.1})
    assert no_id.node.node_id == record_to_node({"content": "same", "score": 0.9}).node.node_id


def test_metadata_filters_to_dify() -> None:
    filters = MetadataFilters(
        filters=[
            MetadataFilter(key="department", value="support"),
            MetadataFilter(key="year", value=2024, operator=FilterOperator.GTE),
            MetadataFilter(key="pages", value=3, operator=FilterOperator.EQ),
            MetadataFilter(key="lang", value="fr", operator=FilterOperator.NE),
            MetadataFilter(key="tag", value=["a", "b"], operator=FilterOperator.IN),
            MetadataFilter(key="title", value="policy", operator=FilterOperator.TEXT_MATCH),
        ],
        condition=FilterCondition.OR,
    )
    assert metadata_filters_to_dify(filters) == {
        "logical_operator": "or",
        "conditions": [
            {"name": "department", "comparison_operator": "is", "value": "support"},
            {"name": "year", "comparison_operator": "≥", "value": 2024},
            {"name": "pages", "comparison_operator": "=", "value": 3},
            {"name": "lang", "comparison_operator": "is not", "value": "fr"},
            {"name": "tag", "comparison_operator": "in", "value": ["a", "b"]},
            {"name": "title", "comparison_operator": "contains", "value": "policy"},
        ],
    }
    raw = {"logical_operator": "and", "conditions": []}
    assert metadata_filters_to_dify(raw) == raw
    assert metadata_filters_to_dify(None) is None


def test_metadata_filters_without_dify_equivalent_raise() -> None:
    with pytest.raises(ValueError, match="operator"):
        metadata_filters_to_dify(
            MetadataFilters(
                filters=[MetadataFilter(key="k", value=["x"], operator=FilterOperator.ANY)]
            )
        )
    nested = MetadataFilters(
        filters=[MetadataFilters(filters=[MetadataFilter(key="k", value="v")])]
    )
    with pytest.raises(ValueError, match="nested"):
        metadata_filters_to_dify(nested)


def test_retrieval_model_matches_the_request_fixture_shape() -> None:
    from dify_integrations.llama_index import DifyRetriever

    expected = _json("retrieve_request.json")["retrieval_model"]

    def model(**kw: Any) -> dict[str, Any]:
        retriever = DifyRetriever("d", api_key="dataset-x", base_url="http://127.0.0.1:9/v1", **kw)
        return retriever.retrieval_model()

    assert (
        model(
            similarity_top_k=3,
            search_method="hybrid_search",
            score_threshold=0.3,
            reranking_enable=True,
            reranking_mode="reranking_model",
            reranking_model=expected["reranking_model"],
            filters=MetadataFilters(
                filters=[
                    MetadataFilter(key="department", value="support"),
                    MetadataFilter(key="language", value="en", operator=FilterOperator.CONTAINS),
                ]
            ),
        )
        == expected
    )
    plain = model(similarity_top_k=4)
    assert plain["score_threshold_enabled"] is False
    assert "metadata_filtering_conditions" not in plain
    with pytest.raises(ValueError, match="similarity_top_k"):
        model(similarity_top_k=0)


# ----------------------------------------------------------------------------- workflow tool


def test_workflow_output_succeeded_from_fixture() -> None:
    result = _fold("workflow_streaming.sse")
    output = workflow_tool_output(workflow_outcome(result), "t", {"a": 1})
    assert output.is_error is False
    assert output.raw_output == result.outputs
    assert output.raw_input == {"a": 1}
    assert output.tool_name == "t"
    # The fixture's workflow has one text output: the tool's content is that text itself.
    assert list(result.outputs) == ["summary"]
    assert output.content == result.outputs["summary"]


def test_workflow_output_failed_from_fixture_is_error_with_dify_text() -> None:
    result = _fold("workflow_failed_streaming.sse")
    assert result.status == "failed"
    output = workflow_tool_output(workflow_outcome(result), "t", {})
    assert output.is_error is True
    assert result.error
    assert output.content == result.error


def test_workflow_output_multiple_outputs_as_json_and_stopped() -> None:
    result = StreamResult()
    result.status, result.outputs = "succeeded", {"a": 1, "b": "x"}
    assert json.loads(workflow_tool_output(workflow_outcome(result), "t", {}).content) == {
        "a": 1,
        "b": "x",
    }
    result.status, result.error = "stopped", None
    stopped = workflow_tool_output(workflow_outcome(result), "t", {})
    assert stopped.is_error
    assert "stopped" in stopped.content


def test_workflow_error_output_keeps_exception() -> None:
    exc = RuntimeError("boom")
    output = workflow_tool_output(WorkflowOutcome.from_error(exc), "t", {"x": 1}, exc)
    assert output.is_error
    assert output.content == "boom"
    assert output.exception is exc


FORM = [
    {"text-input": {"label": "Text", "variable": "text", "required": True, "max_length": 100}},
    {"select": {"label": "Lang", "variable": "lang", "required": False, "options": ["fr", "de"]}},
]


def test_tool_arguments_keyword_positional_and_input() -> None:
    fields = parse_user_input_form(FORM)
    schema = fields_to_model(fields)
    assert tool_arguments(fields, schema, (), {"text": "hi", "lang": "fr"}) == {
        "text": "hi",
        "lang": "fr",
    }
    assert tool_arguments(fields, schema, ("hi",), {}) == {"text": "hi"}  # the one required
    assert tool_arguments(fields, schema, (), {"input": "hi"}) == {"text": "hi"}
    assert tool_arguments(fields, schema, ({"text": "hi"},), {}) == {"text": "hi"}
    with pytest.raises(ValueError, match="text"):
        tool_arguments(fields, schema, (), {"lang": "fr"})  # missing required
    with pytest.raises(ValueError, match="lang"):
        tool_arguments(fields, schema, (), {"text": "hi", "lang": "xx"})  # not an option
    with pytest.raises(ValueError, match="other"):
        tool_arguments(fields, schema, (), {"text": "hi", "other": 1})  # unknown variable
    two = parse_user_input_form([*FORM, {"text-input": {"variable": "b", "required": True}}])
    with pytest.raises(ValueError, match="one variable"):
        tool_arguments(two, fields_to_model(two), ("hi",), {})


def record_to_node(record: Any, dataset_id: str | None = None) -> NodeWithScore:
    return chunk_to_node(record_to_chunk(record, dataset_id))


def resource_to_node(resource: Any) -> NodeWithScore:
    return chunk_to_node(resource_to_chunk(resource))
