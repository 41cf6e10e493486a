"""A Dify workflow app as an agent tool: its description and the outcome of a run (no framework).

Both ``DifyWorkflowTool`` adapters (LangChain and LlamaIndex) describe the app with
:func:`describe_workflow_app` and turn a finished run into a :class:`WorkflowOutcome` with
:func:`workflow_outcome`, so every run status gives the same result in both frameworks:

==================== ======================================================================
``succeeded``        the outputs (the single text output as is, else JSON)
``partial-succeeded`` the same: Dify finished the run with its error-handling branches
``failed``/``stopped`` a tool error carrying Dify's error text (LangChain raises
                     ``ToolException``; LlamaIndex returns ``ToolOutput(is_error=True)``)
``paused``           a normal result saying the run is paused and waits for a person, with
                     the form(s) to fill (never an error, never passed off as outputs)
anything else        a tool error naming the unknown status (never a guess)
==================== ======================================================================

An ``error`` event in the middle of the stream (``StreamError``) is a tool error too
(:meth:`WorkflowOutcome.from_error`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .accumulate import StreamResult
from .input_schema import InputField, parse_user_input_form, tool_name

__all__ = [
    "SUCCESS_STATUSES",
    "WorkflowOutcome",
    "WorkflowToolSpec",
    "describe_workflow_app",
    "pause_notice",
    "render_workflow_outputs",
    "workflow_outcome",
]

SUCCESS_STATUSES: Final = ("succeeded", "partial-succeeded")
"""Run statuses whose outputs are the tool's result."""

_ERROR_STATUSES: Final = ("failed", "stopped")


@dataclass(frozen=True)
class WorkflowToolSpec:
    """What a workflow app looks like as a tool.

    Attributes:
        name: The tool name (given, else the app's name sanitised).
        description: Given, else the app's description, else ``Run the Dify workflow 'X'.``.
        fields: The app's input variables (``user_input_form``).
        schema_name: The name of the argument model built from ``fields``.
    """

    name: str
    description: str
    fields: list[InputField]
    schema_name: str


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def describe_workflow_app(
    info: Any, parameters: Any, name: str | None = None, description: str | None = None
) -> WorkflowToolSpec:
    """The tool description of a workflow app from its ``GET /info`` and ``GET /parameters``.

    Raises:
        ValueError: If the app is not a workflow app.
    """
    mode = _get(info, "mode")
    app_name = str(_get(info, "name") or "")
    if mode and mode != "workflow":
        raise ValueError(f"DifyWorkflowTool needs a workflow app; {app_name!r} is a {mode!r} app")
    fields = parse_user_input_form(_get(parameters, "user_input_form"))
    final_name = name or tool_name(app_name)
    text = (
        description
        or str(_get(info, "description") or "").strip()
        or (f"Run the Dify workflow {app_name!r}." if app_name else "Run the Dify workflow.")
    )
    schema_name = "".join(p.capitalize() for p in final_name.split("_") if p) + "Inputs"
    return WorkflowToolSpec(final_name, text, fields, schema_name)


def render_workflow_outputs(outputs: Mapping[str, Any] | None, answer: str = "") -> str:
    """Tool content for a workflow's outputs.

    A single text output is returned as that text; anything else as JSON. With no outputs
    the streamed ``text_chunk`` text (``answer``) is used.
    """
    if not outputs:
        return answer
    if len(outputs) == 1:
        (value,) = outputs.values()
        if isinstance(value, str):
            return value
    return json.dumps(dict(outputs), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class WorkflowOutcome:
    """The framework-free result of one workflow run, as a tool reports it.

    Attributes:
        status: Dify's run status (``succeeded``, ``partial-succeeded``, ``failed``,
            ``stopped``, ``paused``...), or ``error`` for a stream that broke off.
        content: The text the tool returns (outputs, error text, or the pause notice).
        is_error: Whether the run is a tool error (failed, stopped, unknown, broken off).
        paused: Whether the run is paused, waiting for human input.
        outputs: The run's outputs (``{}`` when none).
        workflow_run_id: The run id.
        task_id: The task id.
        details: ``elapsed_time``, ``total_tokens`` and ``total_steps`` of the run.
        human_input: For a paused run, the forms a person must fill (``form_token``,
            ``form_content``, ``inputs``, ``actions``, ``expiration_time``,
            ``workflow_run_id``...): submit one with ``submit_human_input_form`` and the
            run goes on (``resume_workflow_run``).
    """

    status: str | None
    content: str
    is_error: bool = False
    paused: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)
    workflow_run_id: str | None = None
    task_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    human_input: list[dict[str, Any]] = field(default_factory=list)

    def artifact(self) -> dict[str, Any]:
        """The run's record: ``outputs``, ids, ``status``, the run's figures (and forms)."""
        record = {
            "outputs": self.outputs,
            "workflow_run_id": self.workflow_run_id,
            "task_id": self.task_id,
            "status": self.status,
            **self.details,
        }
        if self.human_input:
            record["human_input"] = [dict(form) for form in self.human_input]
        return record

    @classmethod
    def from_error(cls, exc: BaseException) -> WorkflowOutcome:
        """The outcome of a run whose stream broke off with ``exc`` (a tool error)."""
        return cls(status="error", content=str(exc), is_error=True)


def pause_notice(workflow_run_id: str | None, forms: list[dict[str, Any]]) -> str:
    """What a tool tells an agent about a paused run: it waits for a person, and for what.

    The notice names each form (its node, content, inputs and actions) so the agent can
    tell the user what is asked; it never reads as finished outputs.
    """
    run = f" {workflow_run_id}" if workflow_run_id else ""
    lines = [
        f"The Dify workflow run{run} is paused: it waits for a person to answer a form "
        "(human input) and has no outputs yet."
    ]
    for form in forms:
        title = form.get("node_title") or form.get("node_id") or "Human Input"
        lines.append(f"Form {title!r}: {str(form.get('form_content') or '').strip()}")
        names = [str(i.get("output_variable_name")) for i in form.get("inputs") or []]
        if names:
            lines.append(f"  inputs: {', '.join(names)}")
        actions = [str(a.get("id")) for a in form.get("actions") or [] if a.get("id")]
        if actions:
            lines.append(f"  actions: {', '.join(actions)}")
        if form.get("form_token"):
            lines.append(f"  form_token: {form['form_token']}")
    return "\n".join(lines)


def workflow_outcome(result: StreamResult) -> WorkflowOutcome:
    """The outcome of a finished workflow stream (see the module for each status)."""
    status = result.status or ("succeeded" if result.finished else None)
    data = result.workflow_data or {}
    outputs = dict(result.outputs) if isinstance(result.outputs, Mapping) else {}
    common: dict[str, Any] = {
        "status": status,
        "outputs": outputs,
        "workflow_run_id": result.workflow_run_id,
        "task_id": result.task_id,
        "details": {
            "elapsed_time": data.get("elapsed_time"),
            "total_tokens": data.get("total_tokens"),
            "total_steps": data.get("total_steps"),
        },
    }
    if status in SUCCESS_STATUSES:
        return WorkflowOutcome(content=render_workflow_outputs(outputs, result.answer), **common)
    if status == "paused":
        forms = [form.model_dump() for form in result.human_input]
        return WorkflowOutcome(
            content=pause_notice(result.workflow_run_id, forms),
            paused=True,
            human_input=forms,
            **common,
        )
    if status in _ERROR_STATUSES:
        text = result.error or f"Dify workflow run {status}"
        return WorkflowOutcome(content=text, is_error=True, **common)
    text = f"Dify workflow run ended with an unknown status {status!r}"
    if result.error:
        text += f": {result.error}"
    return WorkflowOutcome(content=text, is_error=True, **common)
