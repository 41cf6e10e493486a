"""``ChatDify.with_structured_output``: instruct the app, then validate its answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.utils.function_calling import convert_to_json_schema
from pydantic import BaseModel

from dify_integrations.core.structured import (
    StructuredOutputError,
    instruction,
    parse_json_answer,
    schema_errors,
    validate_answer,
)

__all__ = ["StructuredOutputParserError", "structured_runnable"]

Method = Literal["json_schema", "json_mode", "function_calling"]


class StructuredOutputParserError(OutputParserException, StructuredOutputError):
    """The app's answer does not validate: LangChain's ``OutputParserException`` (what its
    retry/fallback helpers catch) and the core ``StructuredOutputError`` (a ``ValueError``)."""

    def __init__(self, error: StructuredOutputError) -> None:
        OutputParserException.__init__(self, str(error), llm_output=error.answer)
        self.schema_name = error.schema_name
        self.answer = error.answer


def schema_name(schema: Any) -> str:
    """A schema's name for messages: class name, JSON schema ``title``, else ``JSON``."""
    if isinstance(schema, Mapping):
        return str(schema.get("title") or "the JSON schema")
    return str(getattr(schema, "__name__", None) or "JSON")


def _validator(schema: Any) -> Any:
    """``answer -> value``: parse the answer's JSON and check it against ``schema``."""
    name = schema_name(schema) if schema is not None else "JSON"
    model = schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None
    json_schema: Mapping[str, Any] | None = None
    if isinstance(schema, Mapping):
        json_schema = schema
    elif schema is not None and model is None:
        json_schema = convert_to_json_schema(schema)  # a TypedDict

    def validate(message: AIMessage) -> Any:
        answer = message.text
        try:
            if model is not None:
                return validate_answer(model, answer)
            value = parse_json_answer(answer, name)
            problems = schema_errors(value, json_schema) if json_schema is not None else []
            if problems:
                raise StructuredOutputError(
                    f"the app's answer does not match {name}: {'; '.join(problems)}",
                    schema_name=name,
                    answer=answer,
                )
            return value
        except StructuredOutputError as exc:
            raise StructuredOutputParserError(exc) from None

    return validate


def _instructed(text: str) -> Any:
    """``input -> messages`` with ``text`` added to the last human message."""

    def add(messages: list[BaseMessage]) -> list[BaseMessage]:
        for i in range(len(messages) - 1, -1, -1):
            if isinstance(messages[i], HumanMessage):
                message = messages[i]
                content: Any = message.content
                if isinstance(content, str):
                    content = content + text
                else:
                    content = [*content, {"type": "text", "text": text}]
                return [
                    *messages[:i],
                    message.model_copy(update={"content": content}),
                    *messages[i + 1 :],
                ]
        raise ValueError("structured output needs a human message to add the instruction to")

    return add


def structured_runnable(
    llm: Any,
    convert: Any,
    schema: Any,
    *,
    method: Method,
    include_raw: bool,
) -> Runnable[LanguageModelInput, Any]:
    """The runnable ``with_structured_output`` returns (see ``ChatDify``)."""
    if method == "function_calling":
        raise NotImplementedError(
            "method='function_calling' needs tool calling, which a Dify app does not expose; "
            "use method='json_schema' (the default) or 'json_mode'"
        )
    if method not in ("json_schema", "json_mode"):
        raise ValueError(f"unknown method {method!r}: use 'json_schema' or 'json_mode'")
    if schema is None and method == "json_schema":
        raise ValueError("method='json_schema' needs a schema (or use method='json_mode')")
    json_schema: Mapping[str, Any] | None = None
    if schema is not None and method == "json_schema":
        json_schema = schema if isinstance(schema, Mapping) else convert_to_json_schema(schema)
    to_messages = RunnableLambda(lambda value: convert(value).to_messages())
    ask: Runnable[Any, Any] = (
        to_messages | RunnableLambda(_instructed(instruction(json_schema))) | llm
    )
    validate = _validator(schema)
    if not include_raw:
        return ask | RunnableLambda(validate)

    def parse_or_error(raw: AIMessage) -> dict[str, Any]:
        try:
            return {"raw": raw, "parsed": validate(raw), "parsing_error": None}
        except StructuredOutputParserError as exc:
            return {"raw": raw, "parsed": None, "parsing_error": exc}

    return ask | RunnableLambda(parse_or_error)
