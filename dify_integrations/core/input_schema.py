"""A Dify app's ``user_input_form`` as typed tool arguments, shared by both tool adapters.

``GET /parameters`` describes an app's variables as a list of one-key objects, e.g.
``{"select": {"label": "Tier", "variable": "tier", "required": false, "options": [...]}}``.
This module turns that list into :class:`InputField` records, then into a JSON schema or a
pydantic model (LangChain ``args_schema``, LlamaIndex ``fn_schema``), and turns tool arguments
back into Dify ``inputs`` (file variables become Dify file objects). Pure: no I/O, no framework.

Mapping: ``text-input`` and ``paragraph`` -> ``str`` (with ``max_length``), ``select`` -> an
enum of its options, ``number`` -> ``float``, ``checkbox`` -> ``bool``, ``file`` -> one URL
or upload id (``str``), ``file-list`` -> a list of them; ``required`` and ``default`` kept.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

__all__ = [
    "InputField",
    "fields_to_json_schema",
    "fields_to_model",
    "parse_user_input_form",
    "to_dify_inputs",
    "tool_name",
]

_TEXT_KINDS = {"text-input", "paragraph"}
_KNOWN_KINDS = _TEXT_KINDS | {"select", "number", "checkbox", "file", "file-list", "json_object"}
_IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp"}
_AUDIO_EXTENSIONS = {".mp3", ".m4a", ".wav", ".amr", ".mpga"}
_VIDEO_EXTENSIONS = {".mp4", ".mov", ".mpeg", ".webm"}


@dataclass(frozen=True)
class InputField:
    """One app variable of a ``user_input_form``.

    Attributes:
        variable: The key in ``inputs``.
        kind: The Dify control type (``text-input``, ``paragraph``, ``select``, ``number``,
            ``checkbox``, ``file``, ``file-list``, ``json_object``; unknown kinds are kept
            and typed as ``str``).
        label: The label shown in Dify; used as the field's description.
        required: Whether Dify rejects a run without it.
        default: The default value, or ``None``.
        max_length: For text kinds, the maximum length; for ``file-list``, the maximum count.
        options: For ``select``, the allowed values.
        allowed_file_types: For file kinds, Dify's allowed types (``image``, ``document``...).
    """

    variable: str
    kind: str
    label: str = ""
    required: bool = False
    default: Any = None
    max_length: int | None = None
    options: tuple[str, ...] = ()
    allowed_file_types: tuple[str, ...] = field(default_factory=tuple)

    @property
    def description(self) -> str:
        """A human description for tool schemas."""
        text = self.label or self.variable
        if self.kind in ("file", "file-list"):
            text += " (an http(s) URL, or the id of a file uploaded to Dify)"
        return text


def parse_user_input_form(form: Sequence[Mapping[str, Any]] | None) -> list[InputField]:
    """Parse ``user_input_form`` from ``GET /parameters``.

    Args:
        form: The list as Dify returns it (``None`` is an empty form).

    Returns:
        One :class:`InputField` per variable, in form order.

    Raises:
        ValueError: If an entry is not a one-key object with a ``variable``.
    """
    fields: list[InputField] = []
    for entry in form or ():
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise ValueError(f"user_input_form entries must be one-key objects, got {entry!r}")
        ((kind, spec),) = entry.items()
        if not isinstance(spec, Mapping) or not spec.get("variable"):
            raise ValueError(f"user_input_form entry {kind!r} has no 'variable'")
        max_length = spec.get("max_length")
        default = spec.get("default")
        if default == "" and kind not in _TEXT_KINDS:
            default = None
        fields.append(
            InputField(
                variable=str(spec["variable"]),
                kind=str(kind),
                label=str(spec.get("label") or ""),
                required=bool(spec.get("required", False)),
                default=default,
                max_length=int(max_length)
                if isinstance(max_length, int | float) and max_length > 0
                else None,
                options=tuple(str(o) for o in spec.get("options") or ()),
                allowed_file_types=tuple(str(t) for t in spec.get("allowed_file_types") or ()),
            )
        )
    return fields


def _python_type(f: InputField) -> Any:
    if f.kind == "select" and f.options:
        return Literal[f.options]
    if f.kind == "number":
        return float
    if f.kind == "checkbox":
        return bool
    if f.kind == "file-list":
        return list[str]
    if f.kind == "json_object":
        return dict[str, Any]
    return str


def _field_info(f: InputField) -> Any:
    kwargs: dict[str, Any] = {"description": f.description}
    if f.kind in _TEXT_KINDS and f.max_length:
        kwargs["max_length"] = f.max_length
    if f.kind == "file-list" and f.max_length:
        kwargs["max_length"] = f.max_length
    if f.required:
        return Field(..., **kwargs)
    default = f.default
    if f.kind == "select" and default not in f.options:
        default = None
    if f.kind == "number" and default is not None:
        try:
            default = float(default)
        except (TypeError, ValueError):
            default = None
    return Field(default, **kwargs)


def fields_to_model(
    fields: Sequence[InputField], model_name: str = "DifyInputs"
) -> type[BaseModel]:
    """Build a pydantic model whose fields are the app variables.

    Optional variables without a default accept ``None`` (and are then left out of
    ``inputs``). Unknown keys are rejected so a tool call cannot smuggle in other variables.
    """
    definitions: dict[str, Any] = {}
    for f in fields:
        annotation = _python_type(f)
        if not f.required:
            annotation = annotation | None
        definitions[f.variable] = (annotation, _field_info(f))
    model: type[BaseModel] = create_model(
        model_name, __config__=ConfigDict(extra="forbid"), **definitions
    )
    return model


def fields_to_json_schema(
    fields: Sequence[InputField], title: str = "DifyInputs"
) -> dict[str, Any]:
    """The JSON schema of :func:`fields_to_model`."""
    return fields_to_model(fields, title).model_json_schema()


def _file_type(value: str, f: InputField) -> str:
    allowed = [t for t in f.allowed_file_types if t != "custom"]
    if len(allowed) == 1:
        return allowed[0]
    extension = "." + value.rsplit(".", 1)[-1].lower().split("?")[0] if "." in value else ""
    if extension in _IMAGE_EXTENSIONS:
        return "image"
    if extension in _AUDIO_EXTENSIONS:
        return "audio"
    if extension in _VIDEO_EXTENSIONS:
        return "video"
    return allowed[0] if allowed else "document"


def _file_object(value: Any, f: InputField) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{f.variable!r} must be an http(s) URL or an uploaded file id")
    text = value.strip()
    if re.match(r"^https?://", text, re.IGNORECASE):
        return {"type": _file_type(text, f), "transfer_method": "remote_url", "url": text}
    try:
        uuid.UUID(text)
    except ValueError:
        raise ValueError(
            f"{f.variable!r} must be an http(s) URL or an uploaded file id, got {text[:60]!r}"
        ) from None
    return {"type": _file_type("", f), "transfer_method": "local_file", "upload_file_id": text}


def to_dify_inputs(fields: Sequence[InputField], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Turn validated tool arguments into Dify ``inputs``.

    ``None`` values are dropped (Dify then applies its own default), numbers that are whole
    are sent as ints, and file variables become Dify file objects (``remote_url`` for URLs,
    ``local_file`` for upload ids).

    Raises:
        ValueError: If a file variable holds something that is neither a URL nor an id.
    """
    by_name = {f.variable: f for f in fields}
    inputs: dict[str, Any] = {}
    for name, value in arguments.items():
        if value is None:
            continue
        f = by_name.get(name)
        if f is not None and f.kind == "file":
            inputs[name] = _file_object(value, f)
        elif f is not None and f.kind == "file-list":
            inputs[name] = [_file_object(v, f) for v in value]
        elif (
            f is not None and f.kind == "number" and isinstance(value, float) and value.is_integer()
        ):
            inputs[name] = int(value)
        else:
            inputs[name] = value
    return inputs


def tool_name(app_name: str, *, fallback: str = "dify_workflow") -> str:
    """Sanitise an app name into a tool name: ``[a-z0-9_]``, at most 64 characters.

    >>> tool_name("Ticket Triage (v2)!")
    'ticket_triage_v2'
    """
    name = re.sub(r"[^a-z0-9]+", "_", app_name.lower()).strip("_")
    if not name:
        return fallback
    if name[0].isdigit():
        name = f"app_{name}"
    return name[:64].rstrip("_")
