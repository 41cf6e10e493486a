"""Pure request builders for the app operations beyond the seed.

Message feedback, suggested questions, conversation variables, audio, ``/site``, workflow
logs, and the human-input round trip of current Dify (read and submit a paused run's form,
then resume its event stream). Like `operations`, each builder validates its input before
any request and returns an `Operation`; the clients only move the bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal, overload

from .accumulate import StreamResult
from .app_models import (
    AppSite,
    AudioText,
    ConversationVariable,
    ConversationVariableList,
    FeedbackList,
    HumanInputForm,
    SuggestedQuestions,
    WorkflowLogList,
)
from .models import ChatMessageResponse, WorkflowRunResponse
from .operations import (
    FileInput,
    Multipart,
    Operation,
    _id,
    _inputs,
    _limit,
    _read_file,
    _text,
    _user,
    _uuid,
)

__all__ = [
    "FEEDBACK_RATINGS",
    "WORKFLOW_LOG_STATUSES",
    "audio_to_text",
    "get_human_input_form",
    "get_site",
    "get_suggested_questions",
    "list_conversation_variables",
    "list_feedbacks",
    "list_workflow_logs",
    "send_feedback",
    "stream_workflow_events",
    "submit_human_input_form",
    "text_to_audio",
    "update_conversation_variable",
]

FEEDBACK_RATINGS: Final = ("like", "dislike", None)
WORKFLOW_LOG_STATUSES: Final = ("succeeded", "failed", "stopped")
AUDIO_TYPES: Final = ("mp3", "mp4", "mpeg", "mpga", "m4a", "wav", "webm", "amr")
ResumeKind = Literal["workflow", "chat"]


def _page(page: int) -> int:
    if isinstance(page, bool) or not isinstance(page, int):
        raise TypeError("page must be an integer")
    if not 1 <= page <= 99999:
        raise ValueError(f"page must be between 1 and 99999, got {page}")
    return page


# --------------------------------------------------------------------------- feedback


def send_feedback(
    message_id: str,
    rating: str | None,
    *,
    user: str | None,
    content: str | None = None,
) -> Operation[dict[str, Any]]:
    """``POST /messages/{message_id}/feedbacks``: rate an answer (``None`` revokes).

    Args:
        message_id: The rated message (a UUID).
        rating: ``like``, ``dislike``, or ``None`` to revoke the existing rating.
        user: The end user that received the message (required).
        content: An optional comment.

    Returns:
        The operation (answers ``{"result": "success"}``). Setting a rating is
        idempotent, so it may be retried.
    """
    if rating not in FEEDBACK_RATINGS:
        raise ValueError(f"rating must be 'like', 'dislike' or None, got {rating!r}")
    body: dict[str, Any] = {"rating": rating, "user": _user(user)}
    if content is not None:
        body["content"] = _text(content, "content", allow_empty=True)
    return Operation(
        name="send_feedback",
        method="POST",
        path=f"/messages/{_uuid(message_id, 'message_id')}/feedbacks",
        json=body,
        idempotent=True,
        user=body["user"],
    )


def list_feedbacks(*, page: int = 1, limit: int = 20) -> Operation[FeedbackList]:
    """``GET /app/feedbacks``: the app's ratings (end users' and admins'), page by page.

    Args:
        page: 1-based page.
        limit: Page size, 1-101 (Dify's own bound).
    """
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError("limit must be an integer")
    if not 1 <= limit <= 101:
        raise ValueError(f"limit must be between 1 and 101, got {limit}")
    return Operation(
        name="list_feedbacks",
        method="GET",
        path="/app/feedbacks",
        params={"page": _page(page), "limit": limit},
        idempotent=True,
        model=FeedbackList,
    )


def get_suggested_questions(message_id: str, *, user: str | None) -> Operation[SuggestedQuestions]:
    """``GET /messages/{message_id}/suggested``: follow-up questions for an answer.

    Args:
        message_id: The answered message (a UUID).
        user: The end user (required).
    """
    who = _user(user)
    return Operation(
        name="get_suggested_questions",
        method="GET",
        path=f"/messages/{_uuid(message_id, 'message_id')}/suggested",
        params={"user": who},
        idempotent=True,
        user=who,
        model=SuggestedQuestions,
    )


# --------------------------------------------------------------------------- conversation variables


def list_conversation_variables(
    conversation_id: str,
    *,
    user: str | None,
    last_id: str | None = None,
    limit: int = 20,
    variable_name: str | None = None,
) -> Operation[ConversationVariableList]:
    """``GET /conversations/{id}/variables``: a chatflow conversation's variables.

    Args:
        conversation_id: A conversation UUID.
        user: The owner (required).
        last_id: Cursor: id of the last variable of the previous page.
        limit: Page size, 1-100.
        variable_name: Only the variable of this name.
    """
    params: dict[str, str | int] = {"user": _user(user), "limit": _limit(limit)}
    if last_id:
        params["last_id"] = _uuid(last_id, "last_id")
    if variable_name is not None:
        name = _text(variable_name, "variable_name")
        if len(name) > 255:
            raise ValueError("variable_name must be at most 255 characters")
        params["variable_name"] = name
    return Operation(
        name="list_conversation_variables",
        method="GET",
        path=f"/conversations/{_uuid(conversation_id, 'conversation_id')}/variables",
        params=params,
        idempotent=True,
        user=str(params["user"]),
        model=ConversationVariableList,
    )


def update_conversation_variable(
    conversation_id: str,
    variable_id: str,
    value: Any,
    *,
    user: str | None,
) -> Operation[ConversationVariable]:
    """``PUT /conversations/{id}/variables/{variable_id}``: set a variable's value.

    Args:
        conversation_id: A conversation UUID.
        variable_id: The variable's id (a UUID).
        value: The new value; it must match the variable's type (Dify checks it).
        user: The owner (required).
    """
    cid = _uuid(conversation_id, "conversation_id")
    vid = _uuid(variable_id, "variable_id")
    who = _user(user)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"value must be JSON-serializable: {exc}") from None
    return Operation(
        name="update_conversation_variable",
        method="PUT",
        path=f"/conversations/{cid}/variables/{vid}",
        json={"value": value, "user": who},
        idempotent=True,
        user=who,
        model=ConversationVariable,
    )


# --------------------------------------------------------------------------- audio


def audio_to_text(
    file: FileInput,
    *,
    filename: str | None = None,
    mime_type: str | None = None,
    user: str | None,
) -> Operation[AudioText]:
    """``POST /audio-to-text`` (multipart ``file`` + ``user``): transcribe speech.

    Args:
        file: A path, bytes, or a binary file object (mp3, mp4, mpeg, mpga, m4a, wav,
            webm or amr).
        filename: Name to send (required for bytes; else taken from the path/object).
        mime_type: Content type; derived from the extension when omitted.
        user: The end user (required).
    """
    content, name = _read_file(file, filename)
    if not name:
        raise ValueError("filename= is required when sending audio bytes")
    name = _text(name, "filename")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in AUDIO_TYPES:
        raise ValueError(f"audio must be one of {', '.join(AUDIO_TYPES)}, got {name!r}")
    if not content:
        raise ValueError(f"audio file {name!r} is empty")
    who = _user(user)
    mime = mime_type or (
        "audio/mpeg" if extension in ("mp3", "mpga", "mpeg") else f"audio/{extension}"
    )
    return Operation(
        name="audio_to_text",
        method="POST",
        path="/audio-to-text",
        multipart=Multipart(filename=name, content=content, mime_type=mime, fields={"user": who}),
        user=who,
        model=AudioText,
    )


def text_to_audio(
    text: str | None = None,
    *,
    message_id: str | None = None,
    voice: str | None = None,
    user: str | None,
) -> Operation[bytes]:
    """``POST /text-to-audio``: speech (``audio/mpeg`` bytes) for a text or a message.

    Args:
        text: The text to speak (or give ``message_id``).
        message_id: Speak this message's answer (a UUID); takes precedence over ``text``.
        voice: A voice of the app's TTS model.
        user: The end user (required).
    """
    body: dict[str, Any] = {"user": _user(user), "streaming": False}
    if message_id is not None:
        body["message_id"] = _uuid(message_id, "message_id")
    if text is not None:
        body["text"] = _text(text, "text")
    if "message_id" not in body and "text" not in body:
        raise ValueError("text_to_audio needs text= or message_id=")
    if voice is not None:
        body["voice"] = _text(voice, "voice")
    return Operation(
        name="text_to_audio",
        method="POST",
        path="/text-to-audio",
        json=body,
        user=body["user"],
        binary=True,
    )


# --------------------------------------------------------------------------- site and logs


def get_site() -> Operation[AppSite]:
    """``GET /site``: the app's web-app settings (title, icon, language...)."""
    return Operation(name="get_site", method="GET", path="/site", idempotent=True, model=AppSite)


def list_workflow_logs(
    *,
    keyword: str | None = None,
    status: str | None = None,
    created_at__before: str | None = None,
    created_at__after: str | None = None,
    created_by_end_user_session_id: str | None = None,
    created_by_account: str | None = None,
    page: int = 1,
    limit: int = 20,
) -> Operation[WorkflowLogList]:
    """``GET /workflows/logs``: the workflow app's runs, newest first.

    Args:
        keyword: Search text.
        status: ``succeeded``, ``failed`` or ``stopped``.
        created_at__before: ISO-8601 upper bound.
        created_at__after: ISO-8601 lower bound.
        created_by_end_user_session_id: Only runs of this end user (the ``user`` string).
        created_by_account: Only runs of this console account (email).
        page: 1-based page.
        limit: Page size, 1-100.
    """
    params: dict[str, str | int] = {"page": _page(page), "limit": _limit(limit)}
    if status is not None:
        if status not in WORKFLOW_LOG_STATUSES:
            raise ValueError(f"status must be one of {WORKFLOW_LOG_STATUSES}, got {status!r}")
        params["status"] = status
    for key, value in (
        ("keyword", keyword),
        ("created_at__before", created_at__before),
        ("created_at__after", created_at__after),
        ("created_by_end_user_session_id", created_by_end_user_session_id),
        ("created_by_account", created_by_account),
    ):
        if value is not None:
            params[key] = _text(value, key)
    return Operation(
        name="list_workflow_logs",
        method="GET",
        path="/workflows/logs",
        params=params,
        idempotent=True,
        model=WorkflowLogList,
    )


# --------------------------------------------------------------------------- human input


def _form_token(form_token: Any) -> str:
    return _id(form_token, "form_token")


def get_human_input_form(form_token: str) -> Operation[HumanInputForm]:
    """``GET /form/human_input/{form_token}``: the form a paused run waits on.

    Args:
        form_token: From ``human_input_required`` (``result.human_input[i].form_token``).
    """
    return Operation(
        name="get_human_input_form",
        method="GET",
        path=f"/form/human_input/{_form_token(form_token)}",
        idempotent=True,
        model=HumanInputForm,
    )


def submit_human_input_form(
    form_token: str,
    *,
    inputs: Mapping[str, Any] | None = None,
    action: str,
    user: str | None,
) -> Operation[dict[str, Any]]:
    """``POST /form/human_input/{form_token}``: a person's answer; the run resumes.

    Forms are one-shot: a second submission fails with `HumanInputFormClosedError`, so
    the call is never retried after the server may have received it.

    Args:
        form_token: From ``human_input_required``.
        inputs: Values by each input's ``output_variable_name``.
        action: The ``id`` of the chosen action button.
        user: The end user that started the run (required).
    """
    who = _user(user)
    body: dict[str, Any] = {
        "inputs": _inputs(inputs),
        "action": _text(action, "action"),
        "user": who,
    }
    return Operation(
        name="submit_human_input_form",
        method="POST",
        path=f"/form/human_input/{_form_token(form_token)}",
        json=body,
        user=who,
    )


_RESUME_FOLDS: Final = {
    "workflow": StreamResult.to_workflow_response,
    "chat": StreamResult.to_chat_response,
}


@overload
def stream_workflow_events(
    workflow_run_id: str,
    *,
    user: str | None,
    kind: Literal["workflow"] = ...,
    include_state_snapshot: bool = ...,
    continue_on_pause: bool = ...,
) -> Operation[WorkflowRunResponse]: ...


@overload
def stream_workflow_events(
    workflow_run_id: str,
    *,
    user: str | None,
    kind: Literal["chat"],
    include_state_snapshot: bool = ...,
    continue_on_pause: bool = ...,
) -> Operation[ChatMessageResponse]: ...


@overload
def stream_workflow_events(
    workflow_run_id: str,
    *,
    user: str | None,
    kind: ResumeKind,
    include_state_snapshot: bool = ...,
    continue_on_pause: bool = ...,
) -> Operation[WorkflowRunResponse] | Operation[ChatMessageResponse]: ...


def stream_workflow_events(
    workflow_run_id: str,
    *,
    user: str | None,
    kind: ResumeKind = "workflow",
    include_state_snapshot: bool = False,
    continue_on_pause: bool = False,
) -> Operation[WorkflowRunResponse] | Operation[ChatMessageResponse]:
    """``GET /workflow/{workflow_run_id}/events``: a run's events after it resumes.

    After a form was submitted, this streams the rest of the run (``workflow_started``
    with ``reason: resumption``, ``human_input_form_filled``, the answer...). For a run
    that already finished, the stream is one ``workflow_finished``.

    Args:
        workflow_run_id: The paused run.
        user: The end user that started the run (required).
        kind: ``workflow`` (fold into a `WorkflowRunResponse`) or ``chat`` (a chatflow:
            a `ChatMessageResponse`); also picks the stop route on early close.
        include_state_snapshot: Replay the executed nodes' status first.
        continue_on_pause: Keep streaming across further pauses.
    """
    if kind not in _RESUME_FOLDS:
        raise ValueError(f"kind must be 'workflow' or 'chat', got {kind!r}")
    for name, flag in (
        ("include_state_snapshot", include_state_snapshot),
        ("continue_on_pause", continue_on_pause),
    ):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool")
    who = _user(user)
    params: dict[str, str | int] = {"user": who}
    if include_state_snapshot:
        params["include_state_snapshot"] = "true"
    if continue_on_pause:
        params["continue_on_pause"] = "true"
    fold: Any = _RESUME_FOLDS[kind]
    model: Any = WorkflowRunResponse if kind == "workflow" else ChatMessageResponse
    return Operation(
        name="stream_workflow_events",
        method="GET",
        path=f"/workflow/{_uuid(workflow_run_id, 'workflow_run_id')}/events",
        params=params,
        idempotent=True,
        stream=True,
        stop_kind=kind,
        user=who,
        model=model,
        fold=fold,
    )
