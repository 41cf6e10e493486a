"""``ChatDify``: a Dify chat, agent-chat or chatflow app as a LangChain chat model."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, NoReturn, cast

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
    Callbacks,
)
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult, LLMResult
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import PrivateAttr

from dify_integrations.core import operations as ops
from dify_integrations.core.conversation import (
    ConversationPlan,
    ConversationTracker,
    plan_conversation,
)
from dify_integrations.core.human_input import pick_form
from dify_integrations.langchain._base import DifyModelBase
from dify_integrations.langchain._convert import (
    FileSpec,
    call_trace_id,
    combine_llm_outputs,
    dify_file_object,
    extract_files,
    llm_output,
    messages_to_turns,
    usage_to_metadata,
)
from dify_integrations.langchain._fold import AnswerFolder
from dify_integrations.langchain._structured import structured_runnable

__all__ = ["ChatDify"]

_MAX_PAUSED: Final = 256


@dataclass(frozen=True)
class _ChatCall:
    """Everything one call sends, worked out before any I/O."""

    query: str
    inputs: dict[str, Any]
    conversation_id: str | None
    user: str
    files: list[FileSpec]
    plan: ConversationPlan
    stop: list[str] | None


TOOLS_NOT_SUPPORTED: Final = (
    "ChatDify cannot bind tools: a Dify app runs its own tools (configured in the app), and "
    "the Service API takes no tool definitions from the caller nor returns tool calls for "
    "the caller to run. Instead: give the tools to a Dify agent-chat app and call it with "
    "ChatDify; or, to call Dify from your own agent, wrap a Dify workflow as a tool "
    "(DifyWorkflowTool) and give it to a tool-calling chat model."
)


class ChatDify(DifyModelBase, BaseChatModel):
    """A Dify chat, agent-chat or chatflow (advanced-chat) app as a LangChain chat model.

    The app owns the model, prompt, temperature, knowledge and tools; ``ChatDify`` sends the
    last human message as the query and streams the answer back. ``invoke`` streams
    internally and folds the events, so long answers never hit gateway timeouts of
    blocking mode and agent-chat apps (streaming only) just work.

    Setup:
        Install ``dify-integrations[langchain]`` and set ``DIFY_API_KEY`` (an app key,
        ``app-…``) and, for self-hosted Dify, ``DIFY_BASE_URL``.

    Key init args:
        - ``api_key``: The app's API key; else ``DIFY_API_KEY``.
        - ``base_url``: The Service API root; else ``DIFY_BASE_URL``, else ``https://api.dify.ai/v1``.
        - ``user``: The Dify end-user id; else ``DIFY_USER``, else ``"langchain"``.
        - ``inputs``: The app's variables, sent with every call (a per-call ``inputs=`` adds to them).
        - ``system_input_key``: The app variable that receives system messages. Dify keeps a
            conversation's inputs from its first message, so a variable cannot carry
            changing system content (retrieved context): a changed value for a continued
            conversation is dropped by Dify, with a warning. When unset (the default),
            system content is sent in front of the query of every turn where it differs
            from what the conversation already received.
        - ``stop``: Stop sequences, honoured client side: the output is cut at the first one
            and the server task is stopped.
        - ``timeout``, ``max_retries``: Passed to the Dify client.
        - ``client``, ``async_client``: Existing clients to share connection pools.
        - ``model``: The ``model_name`` to report; by default the app's name from ``GET /info``
            (fetched once per instance), else ``"dify"``.
        - ``temperature``, ``max_tokens``: Accepted for compatibility and reported to tracing, but
            **not sent**: a Dify app's model settings are fixed in the app.

    Instantiate:
        ```python
        from dify_integrations.langchain import ChatDify

        llm = ChatDify(api_key="app-...", base_url="http://localhost/v1")
        ```

    Invoke:
        ```python
        msg = llm.invoke("How do I reset my password?")
        msg.content
        msg.response_metadata["conversation_id"]
        ```

    Stream:
        ```python
        for chunk in llm.stream("Tell me about refunds"):
            print(chunk.content, end="", flush=True)
        ```

        The last chunk has ``chunk_position="last"`` and carries the usage and metadata.
        Leaving the loop early closes the connection and stops the server task.

    Async:
        ```python
        msg = await llm.ainvoke("hi")
        async for chunk in llm.astream("hi"):
            ...
        ```

        Native async on ``aiohttp`` (no thread per call).

    Conversations:
        Pass the full history on every call (``RunnableWithMessageHistory``, LangGraph
        memory); N turns make exactly N Dify messages in one conversation. The Dify
        conversation a call continues is, in this order:

        1. a per-call ``conversation_id=``;
        2. the ``conversation_id`` in the ``response_metadata`` of the history's most
           recent ``AIMessage`` (ChatDify puts it there);
        3. this instance's record of the histories it sent, matched exactly and **for the
           same user**, only when exactly one conversation holds that history (two
           sessions that both began "hi" → "Hello!" are ambiguous and never matched);
        4. else a new conversation, with the earlier turns sent once as context in front
           of the query.

        One ``ChatDify`` can serve many users and sessions at once: pass ``user=`` per
        call (``llm.invoke(history, user="alice")``) so each user's conversations are
        theirs in Dify; the user is part of every key of the record, and a history never
        continues another session's conversation. Keep the ``AIMessage`` objects (with
        their ``response_metadata``) in your history store for rule 2 to apply.

        System messages (for example a retrieval prompt's ``{context}``) are sent in front
        of the query whenever they differ from what the conversation already received,
        so each turn's retrieved context reaches Dify.

    Files:
        Image and file content blocks of the last human message (base64 or URL) are
        attached: base64 data is uploaded with the same ``user``, URLs are sent as
        ``remote_url``.

    Token usage:
        ``msg.usage_metadata`` holds ``input_tokens``, ``output_tokens`` and
        ``total_tokens`` (on one chunk only when streaming). Callback handlers get
        ``llm_output`` in ``on_llm_end``: ``token_usage`` (``prompt_tokens``,
        ``completion_tokens``, ``total_tokens``), ``model_name`` and ``model_provider``.

    Tracing:
        ``ls_provider`` is ``"dify"``; ``ls_model_name`` is the app's name from the first
        call on (read once with ``GET /info`` before it, after the input is checked), or
        ``model=``. ``msg.id`` is Dify's message id.

    Response metadata:
        ``model_name``, ``model_provider`` (``"dify"``), ``conversation_id``, ``message_id``, ``task_id``, ``usage`` (Dify's
        raw usage: prices, currency, latency), ``retriever_resources`` (citations) and
        ``finish_reason``. Agent apps' thoughts are in ``additional_kwargs["agent_thoughts"]``.
        When Dify's moderation replaced the answer mid-stream, ``invoke`` returns the
        replacement, and the last streamed chunk has ``answer_replaced=True`` and
        ``replaced_answer``.

    Errors:
        The core's exceptions (``AuthenticationError``, ``BadRequestError``, ``StreamError``,
        ``APIConnectionError``...): a partial answer is never returned as complete.

    Tool calling:
        Not supported (``bind_tools`` raises): Dify apps run their own tools. Use an
        agent-chat app, or ``DifyWorkflowTool`` with a tool-calling model.
    """

    system_input_key: str | None = None
    """App variable that receives system messages (else they are sent as context)."""

    auto_generate_name: bool | None = None
    """Whether Dify names new conversations automatically (Dify's default: yes)."""

    workflow_id: str | None = None
    """Chatflows: answer with this published workflow version (a UUID), not the latest."""

    _ls_model_type: ClassVar[Literal["chat", "llm"]] = "chat"
    _tracker: ConversationTracker = PrivateAttr(default_factory=ConversationTracker)
    _paused: dict[str, tuple[ConversationPlan, str]] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "dify-chat"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> NoReturn:
        """Not supported: a Dify app runs its own tools.

        Raises:
            NotImplementedError: Always, saying what to use instead.
        """
        raise NotImplementedError(TOOLS_NOT_SUPPORTED)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["json_schema", "json_mode", "function_calling"] = "json_schema",
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """The app's answer as a validated object: a pydantic model, a TypedDict or a dict.

        A Dify app owns its model, so this works by instructing the app: the last human
        message gets an instruction to reply with one JSON object (``json_schema``: matching
        the schema, which is sent along; ``json_mode``: any JSON object, checked against
        ``schema`` when one is given). The answer is then parsed and validated.

        Args:
            schema: A pydantic model class, a TypedDict or a JSON schema dict.
            method: ``"json_schema"`` (default) or ``"json_mode"``. ``"function_calling"``
                raises ``NotImplementedError``: Dify apps do not expose tool calling.
            include_raw: Return ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``
                instead of raising when the answer does not validate.

        Raises:
            OutputParserException: (also a ``ValueError``) when the answer is not JSON or
                does not match the schema; the message names the schema.
        """
        if kwargs:
            raise TypeError(f"with_structured_output got unexpected arguments: {sorted(kwargs)}")
        return structured_runnable(
            self, self._convert_input, schema, method=method, include_raw=include_raw
        )

    def _should_stream(
        self,
        *,
        async_api: bool,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> bool:
        # ``invoke`` always streams inside ``_generate`` (tokens still reach the callbacks)
        # and folds with the core reducer, which gets message_replace right; only
        # ``stream``/``astream`` take LangChain's chunk path.
        if not kwargs.get("stream"):
            return False
        return super()._should_stream(async_api=async_api, run_manager=run_manager, **kwargs)

    # ------------------------------------------------------------------ shared, no I/O

    def _prepare(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> _ChatCall:
        user = self._resolve_user(kwargs.get("user"))
        plan = plan_conversation(
            messages_to_turns(messages),
            self._tracker,
            user=user,
            conversation_id=kwargs.get("conversation_id") or None,
            system_as_context=self.system_input_key is None,
        )
        inputs = {**self.inputs, **(kwargs.get("inputs") or {})}
        if self.system_input_key and plan.system:
            inputs[self.system_input_key] = plan.system
        last_human = next(
            (m for m in reversed(messages) if isinstance(m, HumanMessage)), messages[-1]
        )
        call = _ChatCall(
            query=plan.render_query(),
            inputs=inputs,
            conversation_id=plan.conversation_id,
            user=user,
            files=extract_files(last_human),
            plan=plan,
            stop=stop if stop is not None else self.stop,
        )
        if call.files:
            # Files are uploaded before the message is sent: vet the message first (the
            # pure request builder raises ValueError), so bad input sends no request at all.
            ops.chat_message(call.query, **self._stream_kwargs(call, []))
        return call

    @staticmethod
    def _text_chunk(text: str) -> ChatGenerationChunk:
        return ChatGenerationChunk(message=AIMessageChunk(content=text))

    @staticmethod
    def _reasoning_chunk(reasoning: str) -> ChatGenerationChunk:
        # langchain-core reads ``reasoning_content`` into a ``reasoning`` content block
        # (``content_blocks``); merged chunks concatenate it. The answer text stays clean.
        return ChatGenerationChunk(
            message=AIMessageChunk(content="", additional_kwargs={"reasoning_content": reasoning})
        )

    def _final_chunk(self, folder: AnswerFolder, tail: str) -> ChatGenerationChunk:
        return ChatGenerationChunk(
            message=AIMessageChunk(
                id=folder.result.message_id,  # Dify's message id: merged chunks keep it
                content=tail,
                usage_metadata=usage_to_metadata(folder.result.usage),
                response_metadata=folder.response_metadata(self._known_model_name()),
                additional_kwargs=folder.additional_kwargs(),
                chunk_position="last",
            )
        )

    def _finish(self, call: _ChatCall, folder: AnswerFolder) -> ChatGenerationChunk:
        self._tracker.record(call.plan, folder.answer, folder.result.conversation_id)
        run_id = folder.result.workflow_run_id
        if folder.result.paused and run_id:
            # Remembered so that the resumed answer completes this turn of the conversation.
            self._paused[run_id] = (call.plan, call.user)
            while len(self._paused) > _MAX_PAUSED:
                self._paused.pop(next(iter(self._paused)))
        return self._final_chunk(folder, folder.flush())

    def _result(self, folder: AnswerFolder) -> ChatResult:
        message = AIMessage(
            id=folder.result.message_id,
            content=folder.answer,
            usage_metadata=usage_to_metadata(folder.result.usage),
            response_metadata=folder.response_metadata(self._known_model_name()),
            additional_kwargs=folder.additional_kwargs(reasoning=True),
        )
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output=llm_output(folder.result.usage, self._known_model_name()),
        )

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None]) -> dict[str, Any]:
        return combine_llm_outputs(llm_outputs)

    # ------------------------------------------------------------------ the app's name first
    # Tracers read ``ls_model_name`` when a run starts. A new instance learns the app's name
    # (``GET /info``, once) before its first call, after the input has been vetted: bad
    # input still fails before any request.

    def _name_before_first_call(
        self, batches: Sequence[Sequence[BaseMessage]], **kwargs: Any
    ) -> bool:
        """Vet the input of a first call; ``True`` when the app's name is still to be read."""
        if self.model_name or self._app_name:
            return False
        for messages in batches:
            self._prepare(messages, kwargs.get("stop"), kwargs)
        return True

    def generate(
        self,
        messages: list[list[BaseMessage]],
        stop: list[str] | None = None,
        callbacks: Callbacks = None,
        *,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        run_name: str | None = None,
        run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self._name_before_first_call(messages, stop=stop, **kwargs):
            self._learn_app_name()
        return super().generate(
            messages,
            stop,
            callbacks,
            tags=tags,
            metadata=metadata,
            run_name=run_name,
            run_id=run_id,
            **kwargs,
        )

    async def agenerate(
        self,
        messages: list[list[BaseMessage]],
        stop: list[str] | None = None,
        callbacks: Callbacks = None,
        *,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        run_name: str | None = None,
        run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self._name_before_first_call(messages, stop=stop, **kwargs):
            await self._alearn_app_name()
        return await super().agenerate(
            messages,
            stop,
            callbacks,
            tags=tags,
            metadata=metadata,
            run_name=run_name,
            run_id=run_id,
            **kwargs,
        )

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        if not (self.model_name or self._app_name):
            messages = self._convert_input(input).to_messages()
            if self._name_before_first_call([messages], stop=stop, **kwargs):
                self._learn_app_name()
        yield from super().stream(input, config, stop=stop, **kwargs)

    async def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        if not (self.model_name or self._app_name):
            messages = self._convert_input(input).to_messages()
            if self._name_before_first_call([messages], stop=stop, **kwargs):
                await self._alearn_app_name()
        inner = cast(
            "AsyncGenerator[AIMessageChunk, None]",
            super().astream(input, config, stop=stop, **kwargs),
        )
        async with aclosing(inner) as chunks:
            async for chunk in chunks:
                yield chunk

    def _stream_kwargs(self, call: _ChatCall, files: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "user": call.user,
            "inputs": call.inputs,
            "conversation_id": call.conversation_id,
            "files": files or None,
            "auto_generate_name": self.auto_generate_name,
            "workflow_id": self.workflow_id,
        }

    # ------------------------------------------------------------------ sync

    def _run(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
        folder: AnswerFolder,
    ) -> Iterator[ChatGenerationChunk]:
        call = self._prepare(messages, stop, kwargs)
        client = self._get_client()
        files = [
            dify_file_object(
                spec,
                client.upload_file(
                    spec.data, filename=spec.filename, mime_type=spec.mime_type, user=call.user
                ).id
                if spec.data is not None
                else None,
            )
            for spec in call.files
        ]
        folder.set_stop(call.stop)
        stream = client.stream_chat_message(
            call.query,
            **self._stream_kwargs(call, files),
            trace_id=call_trace_id(run_manager, kwargs),
        )
        yield from self._emit(stream, folder, run_manager, self._text_chunk, self._reasoning_chunk)
        final = self._finish(call, folder)
        if run_manager:
            run_manager.on_llm_new_token(final.text, chunk=final)
        yield final

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._run(messages, stop, run_manager, kwargs, AnswerFolder())

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        folder = AnswerFolder()
        for _ in self._run(messages, stop, run_manager, kwargs, folder):
            pass
        return self._result(folder)

    # ------------------------------------------------------------------ async

    async def _arun(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
        folder: AnswerFolder,
    ) -> AsyncGenerator[ChatGenerationChunk, None]:
        call = self._prepare(messages, stop, kwargs)
        client = self._get_async_client()
        files = []
        for spec in call.files:
            upload_id = None
            if spec.data is not None:
                uploaded = await client.upload_file(
                    spec.data, filename=spec.filename, mime_type=spec.mime_type, user=call.user
                )
                upload_id = uploaded.id
            files.append(dify_file_object(spec, upload_id))
        folder.set_stop(call.stop)
        stream = client.stream_chat_message(
            call.query,
            **self._stream_kwargs(call, files),
            trace_id=call_trace_id(run_manager, kwargs),
        )
        emit = self._aemit(stream, folder, run_manager, self._text_chunk, self._reasoning_chunk)
        async with aclosing(emit) as chunks:
            async for chunk in chunks:
                yield chunk
        final = self._finish(call, folder)
        if run_manager:
            await run_manager.on_llm_new_token(final.text, chunk=final)
        yield final

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        run = self._arun(messages, stop, run_manager, kwargs, AnswerFolder())
        async with aclosing(run) as chunks:
            async for chunk in chunks:
                yield chunk

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        folder = AnswerFolder()
        async for _ in self._arun(messages, stop, run_manager, kwargs, folder):
            pass
        return self._result(folder)

    # ------------------------------------------------------------------ human input

    def _resume_target(
        self, message: BaseMessage, form_token: str | None
    ) -> tuple[str, str, str, ConversationPlan | None]:
        meta = message.response_metadata or {}
        token, run_id = pick_form(
            meta.get("human_input"),
            form_token=form_token,
            workflow_run_id=meta.get("workflow_run_id"),
        )
        plan, user = self._paused.get(run_id, (None, self._resolve_user(None)))
        return token, run_id, user, plan

    def _resumed(
        self, run_id: str, plan: ConversationPlan | None, folder: AnswerFolder
    ) -> AIMessage:
        if plan is not None:
            self._tracker.record(plan, folder.answer, folder.result.conversation_id)
            self._paused.pop(run_id, None)
        message = self._result(folder).generations[0].message
        assert isinstance(message, AIMessage)
        return message

    def resume_with_input(
        self,
        message: BaseMessage,
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        form_token: str | None = None,
    ) -> AIMessage:
        """Answer the form a paused chatflow waits on, and return the resumed answer.

        A chatflow that reaches a Human Input node answers with an ``AIMessage`` whose
        ``response_metadata`` has ``status == "paused"`` and the forms in ``human_input``.
        Show the form to a person, then pass their choice here: the form is submitted
        (``POST /form/human_input/{form_token}``) and the run's resumed events are folded
        into the answer, which may itself be paused again.

        Args:
            message: The paused answer.
            action: The ``id`` of the action the person chose.
            inputs: Their values, by each form input's ``output_variable_name``.
            form_token: Which form, when the answer waits on several.

        Raises:
            ValueError: ``message`` is not a paused answer (before any request).
            HumanInputFormClosedError: The form was already submitted or has expired.
        """
        token, run_id, user, plan = self._resume_target(message, form_token)
        client = self._get_client()
        client.submit_human_input_form(token, action=action, inputs=inputs, user=user)
        folder = AnswerFolder()
        stream = client.stream_workflow_events(run_id, user=user, kind="chat")
        for _ in self._emit(stream, folder, None, self._text_chunk, self._reasoning_chunk):
            pass
        return self._resumed(run_id, plan, folder)

    async def aresume_with_input(
        self,
        message: BaseMessage,
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        form_token: str | None = None,
    ) -> AIMessage:
        """Async :meth:`resume_with_input`."""
        token, run_id, user, plan = self._resume_target(message, form_token)
        client = self._get_async_client()
        await client.submit_human_input_form(token, action=action, inputs=inputs, user=user)
        folder = AnswerFolder()
        stream = client.stream_workflow_events(run_id, user=user, kind="chat")
        emit = self._aemit(stream, folder, None, self._text_chunk, self._reasoning_chunk)
        async with aclosing(emit) as chunks:
            async for _ in chunks:
                pass
        return self._resumed(run_id, plan, folder)
