"""Typed, lenient models of the answers of the app operations beyond the seed.

Feedback, suggested questions, conversation variables, audio, ``/site``, workflow logs and
human-input forms. Like every Dify model here, unknown fields are kept and missing keys or
``null`` values are tolerated.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .models import DifyModel, _none_to_dict, _none_to_list, _str_or_empty

__all__ = [
    "AppSite",
    "AudioText",
    "ConversationVariable",
    "ConversationVariableList",
    "Feedback",
    "FeedbackList",
    "HumanInputForm",
    "SuggestedQuestions",
    "WorkflowLog",
    "WorkflowLogList",
    "WorkflowLogRun",
]


class Feedback(DifyModel):
    """One rating of ``GET /app/feedbacks``."""

    id: str | None = None
    app_id: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
    rating: str | None = None
    content: str | None = None
    from_source: str | None = None
    from_end_user_id: str | None = None
    from_account_id: str | None = None
    created_at: Any = None
    updated_at: Any = None


class FeedbackList(DifyModel):
    """A page of ``GET /app/feedbacks`` (the app's ratings, end users' and admins')."""

    data: list[Feedback] = Field(default_factory=list)

    _lists = field_validator("data", mode="before")(_none_to_list)


class SuggestedQuestions(DifyModel):
    """Answer of ``GET /messages/{id}/suggested``: follow-up questions in ``data``."""

    result: str | None = None
    data: list[str] = Field(default_factory=list)

    _lists = field_validator("data", mode="before")(_none_to_list)


class ConversationVariable(DifyModel):
    """A conversation variable of a chatflow (``value`` as Dify sends it: a string)."""

    id: str
    name: str | None = None
    value_type: str | None = None
    value: Any = None
    description: str | None = None
    created_at: int | None = None
    updated_at: int | None = None


class ConversationVariableList(DifyModel):
    """A page of ``GET /conversations/{id}/variables``."""

    limit: int | None = None
    has_more: bool = False
    data: list[ConversationVariable] = Field(default_factory=list)

    _lists = field_validator("data", mode="before")(_none_to_list)


class AudioText(DifyModel):
    """Answer of ``POST /audio-to-text``: the transcript."""

    text: str = ""

    _text = field_validator("text", mode="before")(_str_or_empty)


class AppSite(DifyModel):
    """Answer of ``GET /site``: the app's web-app settings."""

    title: str | None = None
    chat_color_theme: str | None = None
    chat_color_theme_inverted: bool | None = None
    icon_type: str | None = None
    icon: str | None = None
    icon_background: str | None = None
    icon_url: str | None = None
    description: str | None = None
    copyright: str | None = None
    privacy_policy: str | None = None
    input_placeholder: str | None = None
    custom_disclaimer: str | None = None
    default_language: str | None = None
    show_workflow_steps: bool | None = None
    use_icon_as_answer_icon: bool | None = None


class WorkflowLogRun(DifyModel):
    """``workflow_run`` of a workflow log entry."""

    id: str | None = None
    version: str | None = None
    status: str | None = None
    triggered_from: str | None = None
    error: str | None = None
    elapsed_time: float | None = None
    total_tokens: int | None = None
    total_steps: int | None = None
    created_at: int | None = None
    finished_at: int | None = None
    exceptions_count: int | None = None


class WorkflowLog(DifyModel):
    """One entry of ``GET /workflows/logs``."""

    id: str | None = None
    workflow_run: WorkflowLogRun = Field(default_factory=WorkflowLogRun)
    details: Any = None
    created_from: str | None = None
    created_by_role: str | None = None
    created_by_account: dict[str, Any] | None = None
    created_by_end_user: dict[str, Any] | None = None
    created_at: int | None = None

    _run = field_validator("workflow_run", mode="before")(_none_to_dict)


class WorkflowLogList(DifyModel):
    """A page of ``GET /workflows/logs`` (page/limit, newest first)."""

    page: int | None = None
    limit: int | None = None
    total: int | None = None
    has_more: bool = False
    data: list[WorkflowLog] = Field(default_factory=list)

    _lists = field_validator("data", mode="before")(_none_to_list)


class HumanInputForm(DifyModel):
    """Answer of ``GET /form/human_input/{form_token}``: the form a person must fill.

    Attributes:
        form_content: The form body (variables substituted).
        inputs: Input definitions: ``type`` (``paragraph``, ``select``, ``file``,
            ``file-list``), ``output_variable_name`` (the key to submit), options...
        resolved_default_values: Values to display, by output variable name.
        user_actions: The buttons (``id`` is the ``action`` to submit, ``title``).
        expiration_time: Unix seconds after which it can no longer be submitted.
    """

    form_content: str = ""
    inputs: list[dict[str, Any]] = Field(default_factory=list)
    resolved_default_values: dict[str, Any] = Field(default_factory=dict)
    user_actions: list[dict[str, Any]] = Field(default_factory=list)
    expiration_time: int | None = None

    _lists = field_validator("inputs", "user_actions", mode="before")(_none_to_list)
    _defaults = field_validator("resolved_default_values", mode="before")(_none_to_dict)
    _content = field_validator("form_content", mode="before")(_str_or_empty)

    @property
    def action_ids(self) -> list[str]:
        """The ``id`` of every action, in order."""
        return [str(a.get("id")) for a in self.user_actions if a.get("id") is not None]
