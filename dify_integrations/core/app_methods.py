"""Client methods of the app operations beyond the seed, for `DifyClient` and `AsyncDifyClient`.

`AppMethods` (sync) and `AsyncAppMethods` (async) are mixed into the two clients. Each
method builds its request with `app_operations` (validation before any request) and hands
it to the client's own transport (``_call``, ``_send``, ``_open_stream``): the two classes
differ only in ``await``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from . import app_operations as app_ops
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
from .operations import FileInput, Operation

if TYPE_CHECKING:
    from .stream import AsyncEventStream, EventStream

__all__ = ["AppMethods", "AsyncAppMethods"]

T = TypeVar("T")


class AppMethods:
    """Feedback, suggestions, conversation variables, audio, site, logs, human input (sync)."""

    if TYPE_CHECKING:

        def _call(self, op: Operation[T]) -> T: ...
        def _send(self, op: Operation[T]) -> T: ...
        def _open_stream(self, op: Operation[Any]) -> EventStream: ...
        def _user(self, user: str | None) -> str | None: ...

    # ------------------------------------------------------------------ feedback

    def send_feedback(
        self,
        message_id: str,
        rating: str | None,
        *,
        content: str | None = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        """Rate an answer: ``like``, ``dislike``, or ``None`` to revoke (``{"result": ...}``)."""
        return self._call(
            app_ops.send_feedback(message_id, rating, user=self._user(user), content=content)
        )

    def list_feedbacks(self, *, page: int = 1, limit: int = 20) -> FeedbackList:
        """One page of the app's ratings (end users' and admins')."""
        return self._call(app_ops.list_feedbacks(page=page, limit=limit))

    def get_suggested_questions(
        self, message_id: str, *, user: str | None = None
    ) -> SuggestedQuestions:
        """Follow-up questions Dify suggests after an answer (``.data``)."""
        return self._call(app_ops.get_suggested_questions(message_id, user=self._user(user)))

    # ------------------------------------------------------------------ conversation variables

    def list_conversation_variables(
        self,
        conversation_id: str,
        *,
        user: str | None = None,
        last_id: str | None = None,
        limit: int = 20,
        variable_name: str | None = None,
    ) -> ConversationVariableList:
        """One page of a chatflow conversation's variables."""
        return self._call(
            app_ops.list_conversation_variables(
                conversation_id,
                user=self._user(user),
                last_id=last_id,
                limit=limit,
                variable_name=variable_name,
            )
        )

    def update_conversation_variable(
        self, conversation_id: str, variable_id: str, value: Any, *, user: str | None = None
    ) -> ConversationVariable:
        """Set a conversation variable (the value must match its type)."""
        return self._call(
            app_ops.update_conversation_variable(
                conversation_id, variable_id, value, user=self._user(user)
            )
        )

    # ------------------------------------------------------------------ audio

    def audio_to_text(
        self,
        file: FileInput,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        user: str | None = None,
    ) -> AudioText:
        """Transcribe speech (a path, bytes or a binary file object) into ``.text``."""
        return self._call(
            app_ops.audio_to_text(
                file, filename=filename, mime_type=mime_type, user=self._user(user)
            )
        )

    def text_to_audio(
        self,
        text: str | None = None,
        *,
        message_id: str | None = None,
        voice: str | None = None,
        user: str | None = None,
    ) -> bytes:
        """Speech for a text (or a message's answer), as ``audio/mpeg`` bytes."""
        return self._call(
            app_ops.text_to_audio(text, message_id=message_id, voice=voice, user=self._user(user))
        )

    # ------------------------------------------------------------------ site and logs

    def get_site(self) -> AppSite:
        """The app's web-app settings."""
        return self._call(app_ops.get_site())

    def list_workflow_logs(
        self,
        *,
        keyword: str | None = None,
        status: str | None = None,
        created_at__before: str | None = None,
        created_at__after: str | None = None,
        created_by_end_user_session_id: str | None = None,
        created_by_account: str | None = None,
        page: int = 1,
        limit: int = 20,
    ) -> WorkflowLogList:
        """One page of a workflow app's runs, newest first."""
        return self._call(
            app_ops.list_workflow_logs(
                keyword=keyword,
                status=status,
                created_at__before=created_at__before,
                created_at__after=created_at__after,
                created_by_end_user_session_id=created_by_end_user_session_id,
                created_by_account=created_by_account,
                page=page,
                limit=limit,
            )
        )

    # ------------------------------------------------------------------ human input

    def get_human_input_form(self, form_token: str) -> HumanInputForm:
        """The form a paused run waits on (from ``response.human_input[i].form_token``)."""
        return self._call(app_ops.get_human_input_form(form_token))

    def submit_human_input_form(
        self,
        form_token: str,
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        """Submit a person's answer to a form; the paused run resumes.

        Follow the resumed run with `resume_chat_message` / `resume_workflow_run` (folded)
        or `stream_workflow_events`. Raises `HumanInputFormClosedError` when the form was
        already submitted or expired.
        """
        return self._call(
            app_ops.submit_human_input_form(
                form_token, inputs=inputs, action=action, user=self._user(user)
            )
        )

    def stream_workflow_events(
        self,
        workflow_run_id: str,
        *,
        user: str | None = None,
        kind: app_ops.ResumeKind = "workflow",
        include_state_snapshot: bool = False,
        continue_on_pause: bool = False,
    ) -> EventStream:
        """Stream a run's events after it resumed (``kind="chat"`` for a chatflow)."""
        return self._open_stream(
            app_ops.stream_workflow_events(
                workflow_run_id,
                user=self._user(user),
                kind=kind,
                include_state_snapshot=include_state_snapshot,
                continue_on_pause=continue_on_pause,
            )
        )

    def resume_chat_message(
        self, workflow_run_id: str, *, user: str | None = None, continue_on_pause: bool = False
    ) -> ChatMessageResponse:
        """A resumed chatflow's answer: its events after the form was submitted, folded.

        The answer may itself be ``paused`` again (another Human Input node).
        """
        return self._send(
            app_ops.stream_workflow_events(
                workflow_run_id,
                user=self._user(user),
                kind="chat",
                continue_on_pause=continue_on_pause,
            )
        )

    def resume_workflow_run(
        self, workflow_run_id: str, *, user: str | None = None, continue_on_pause: bool = False
    ) -> WorkflowRunResponse:
        """A resumed workflow run's result: its events after the form was submitted, folded."""
        return self._send(
            app_ops.stream_workflow_events(
                workflow_run_id,
                user=self._user(user),
                kind="workflow",
                continue_on_pause=continue_on_pause,
            )
        )


class AsyncAppMethods:
    """The async twin of `AppMethods` (coroutines; streams are plain methods)."""

    if TYPE_CHECKING:

        async def _call(self, op: Operation[T]) -> T: ...
        async def _send(self, op: Operation[T]) -> T: ...
        def _open_stream(self, op: Operation[Any]) -> AsyncEventStream: ...
        def _user(self, user: str | None) -> str | None: ...

    async def send_feedback(
        self,
        message_id: str,
        rating: str | None,
        *,
        content: str | None = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        """Async `AppMethods.send_feedback`."""
        return await self._call(
            app_ops.send_feedback(message_id, rating, user=self._user(user), content=content)
        )

    async def list_feedbacks(self, *, page: int = 1, limit: int = 20) -> FeedbackList:
        """Async `AppMethods.list_feedbacks`."""
        return await self._call(app_ops.list_feedbacks(page=page, limit=limit))

    async def get_suggested_questions(
        self, message_id: str, *, user: str | None = None
    ) -> SuggestedQuestions:
        """Async `AppMethods.get_suggested_questions`."""
        return await self._call(app_ops.get_suggested_questions(message_id, user=self._user(user)))

    async def list_conversation_variables(
        self,
        conversation_id: str,
        *,
        user: str | None = None,
        last_id: str | None = None,
        limit: int = 20,
        variable_name: str | None = None,
    ) -> ConversationVariableList:
        """Async `AppMethods.list_conversation_variables`."""
        return await self._call(
            app_ops.list_conversation_variables(
                conversation_id,
                user=self._user(user),
                last_id=last_id,
                limit=limit,
                variable_name=variable_name,
            )
        )

    async def update_conversation_variable(
        self, conversation_id: str, variable_id: str, value: Any, *, user: str | None = None
    ) -> ConversationVariable:
        """Async `AppMethods.update_conversation_variable`."""
        return await self._call(
            app_ops.update_conversation_variable(
                conversation_id, variable_id, value, user=self._user(user)
            )
        )

    async def audio_to_text(
        self,
        file: FileInput,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        user: str | None = None,
    ) -> AudioText:
        """Async `AppMethods.audio_to_text`."""
        return await self._call(
            app_ops.audio_to_text(
                file, filename=filename, mime_type=mime_type, user=self._user(user)
            )
        )

    async def text_to_audio(
        self,
        text: str | None = None,
        *,
        message_id: str | None = None,
        voice: str | None = None,
        user: str | None = None,
    ) -> bytes:
        """Async `AppMethods.text_to_audio`."""
        return await self._call(
            app_ops.text_to_audio(text, message_id=message_id, voice=voice, user=self._user(user))
        )

    async def get_site(self) -> AppSite:
        """Async `AppMethods.get_site`."""
        return await self._call(app_ops.get_site())

    async def list_workflow_logs(
        self,
        *,
        keyword: str | None = None,
        status: str | None = None,
        created_at__before: str | None = None,
        created_at__after: str | None = None,
        created_by_end_user_session_id: str | None = None,
        created_by_account: str | None = None,
        page: int = 1,
        limit: int = 20,
    ) -> WorkflowLogList:
        """Async `AppMethods.list_workflow_logs`."""
        return await self._call(
            app_ops.list_workflow_logs(
                keyword=keyword,
                status=status,
                created_at__before=created_at__before,
                created_at__after=created_at__after,
                created_by_end_user_session_id=created_by_end_user_session_id,
                created_by_account=created_by_account,
                page=page,
                limit=limit,
            )
        )

    async def get_human_input_form(self, form_token: str) -> HumanInputForm:
        """Async `AppMethods.get_human_input_form`."""
        return await self._call(app_ops.get_human_input_form(form_token))

    async def submit_human_input_form(
        self,
        form_token: str,
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> dict[str, Any]:
        """Async `AppMethods.submit_human_input_form`."""
        return await self._call(
            app_ops.submit_human_input_form(
                form_token, inputs=inputs, action=action, user=self._user(user)
            )
        )

    def stream_workflow_events(
        self,
        workflow_run_id: str,
        *,
        user: str | None = None,
        kind: app_ops.ResumeKind = "workflow",
        include_state_snapshot: bool = False,
        continue_on_pause: bool = False,
    ) -> AsyncEventStream:
        """Async `AppMethods.stream_workflow_events` (an `AsyncEventStream`)."""
        return self._open_stream(
            app_ops.stream_workflow_events(
                workflow_run_id,
                user=self._user(user),
                kind=kind,
                include_state_snapshot=include_state_snapshot,
                continue_on_pause=continue_on_pause,
            )
        )

    async def resume_chat_message(
        self, workflow_run_id: str, *, user: str | None = None, continue_on_pause: bool = False
    ) -> ChatMessageResponse:
        """Async `AppMethods.resume_chat_message`."""
        return await self._send(
            app_ops.stream_workflow_events(
                workflow_run_id,
                user=self._user(user),
                kind="chat",
                continue_on_pause=continue_on_pause,
            )
        )

    async def resume_workflow_run(
        self, workflow_run_id: str, *, user: str | None = None, continue_on_pause: bool = False
    ) -> WorkflowRunResponse:
        """Async `AppMethods.resume_workflow_run`."""
        return await self._send(
            app_ops.stream_workflow_events(
                workflow_run_id,
                user=self._user(user),
                kind="workflow",
                continue_on_pause=continue_on_pause,
            )
        )
