"""Structured output from a Dify app: instruct it, then read and check its answer (no framework).

A Dify app owns its model, so neither framework's tool-calling or provider JSON mode can
reach it. Both adapters do what works with any app: add an instruction to the query (answer
with one JSON object, matching this JSON schema), then read the JSON out of the answer and
check it against the schema. An answer that is not JSON or does not match raises
:class:`StructuredOutputError` naming the schema: never a half-filled object.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = [
    "StructuredOutputError",
    "instruction",
    "parse_json_answer",
    "schema_errors",
    "validate_answer",
]

_M = TypeVar("_M", bound=BaseModel)


class StructuredOutputError(ValueError):
    """The app's answer is not JSON, or does not match the schema it was asked for.

    Attributes:
        schema_name: The schema's name (a class name or the JSON schema's ``title``).
        answer: The app's answer as it came.
    """

    def __init__(self, message: str, *, schema_name: str = "", answer: str = "") -> None:
        super().__init__(message)
        self.schema_name = schema_name
        self.answer = answer

    def __reduce__(self) -> Any:
        return (_rebuild, (str(self), self.schema_name, self.answer))


def _rebuild(message: str, schema_name: str, answer: str) -> StructuredOutputError:
    return StructuredOutputError(message, schema_name=schema_name, answer=answer)


def instruction(json_schema: Mapping[str, Any] | None) -> str:
    """The text added after the query: reply with one JSON object (matching the schema)."""
    if json_schema is None:
        return (
            "\n\nReply with one JSON object only: no prose before or after it, "
            "no Markdown code fence."
        )
    return (
        "\n\nReply with one JSON object only, no prose before or after it and no Markdown "
        "code fence, that validates against this JSON schema:\n"
        + json.dumps(json_schema, ensure_ascii=False, sort_keys=True)
    )


_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n(?P<body>.*?)\n?```\s*$", re.DOTALL)


def parse_json_answer(answer: str, schema_name: str) -> Any:
    """The JSON value of an answer: the whole answer, or its one fenced ```json block.

    Raises:
        StructuredOutputError: When the answer holds no JSON value.
    """
    text = answer.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group("body").strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start >= 0:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
            return value
        except ValueError:
            pass
    preview = answer if len(answer) <= 200 else answer[:200] + "…"
    raise StructuredOutputError(
        f"the app's answer is not JSON, so it cannot be read as {schema_name}: {preview!r}",
        schema_name=schema_name,
        answer=answer,
    )


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_errors(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Where ``value`` breaks a JSON schema: ``type``, ``enum``, ``required``, ``properties``,
    ``items`` and ``additionalProperties: false`` (the keywords structured output uses).

    Returns:
        One message per problem (empty when the value matches).
    """
    errors: list[str] = []
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options:
            if all(schema_errors(value, option, path) for option in options):
                errors.append(f"{path}: matches none of the allowed shapes")
            return errors
    kinds = schema.get("type")
    if kinds is not None:
        allowed = [kinds] if isinstance(kinds, str) else list(kinds)
        ok = any(
            isinstance(value, _TYPES.get(k, (object,)))
            and not (k in ("integer", "number") and isinstance(value, bool))
            for k in allowed
        )
        if not ok:
            errors.append(f"{path}: expected {' or '.join(allowed)}, got {type(value).__name__}")
            return errors
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                errors.append(f"{path}: missing required field {name!r}")
        for name, item in value.items():
            if name in props:
                errors.extend(schema_errors(item, props[name], f"{path}.{name}"))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected field {name!r}")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            errors.extend(schema_errors(item, schema["items"], f"{path}[{i}]"))
    return errors


def validate_answer(model: type[_M], answer: str) -> _M:
    """The app's ``answer`` read as an instance of the pydantic ``model``.

    Raises:
        StructuredOutputError: When the answer is not JSON or does not match ``model``; the
            message names the model and each field that failed.
    """
    name = model.__name__
    value = parse_json_answer(answer, name)
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '$'}: {e['msg']}" for e in exc.errors()
        )
        raise StructuredOutputError(
            f"the app's answer does not match {name}: {problems}", schema_name=name, answer=answer
        ) from None
