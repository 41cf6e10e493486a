"""``DifyLLM``: a Dify chat, agent-chat, chatflow or completion app as a LlamaIndex LLM."""

from __future__ import annotations

import copy
import pickle
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, Literal, TypeVar

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.constants import DEFAULT_CONTEXT_WINDOW, DEFAULT_NUM_OUTPUTS
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import LLM
from llama_index.core.prompts import PromptTemplate
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_serializer,
    model_validator,
)

from dify_integrations.core.arguments import LLAMA_INDEX_ALIASES, field_names, resolve_arguments
from dify_integrations.core.async_client import AsyncDifyClient
from dify_integrations.core.client import DifyClient
from dify_integrations.core.config import Timeout
from dify_integrations.core.conversation import (
    ConversationPlan,
    ConversationTracker,
    plan_conversation,
)
from dify_integrations.core.human_input import pick_form
from dify_integrations.core.pickling import KEY_SOURCE_STATE, KeySource, key_source_of
from dify_integrations.core.structured import instruction, validate_answer
from dify_integrations.llama_index._clients import ClientPair
from dify_integrations.llama_index._convert import (
    ImageUpload,
    image_files,
    messages_to_prompt,
    messages_to_turns,
    span_trace_id,
    to_chat_response,
    to_completion_response,
)
from dify_integrations.llama_index._streaming import afold, aiter_steps, fold, iter_steps

__all__ = ["DifyLLM"]

_MAX_PAUSED = 256

_Model = TypeVar("_Model", bound=BaseModel)

AppMode = Literal["chat", "agent-chat", "agent", "advanced-chat", "completion"]
_CHAT_MODES = ("chat", "agent-chat", "agent", "advanced-chat")


@dataclass
class _Request:
    """One Dify call, decided without I/O; sync and async only execute it."""

    completion: bool
    inputs: dict[str, Any]
    user: str
    query: str | None = None
    conversation_id: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[ImageUpload] = field(default_factory=list)
    plan: ConversationPlan | None = None


def _vetted(messages: Sequence[ChatMessage]) -> Sequence[ChatMessage]:
    """``messages``, checked before any request (the app mode lookup included)."""
    if not any(str(m.content or "").strip() for m in messages):
        raise ValueError("the messages must hold some text (the last user message is the query)")
    return messages


class DifyLLM(LLM):
    """A Dify app as a LlamaIndex ``LLM``: chat, agent-chat, chatflow or completion.

    The app mode is read once from ``GET /info`` (or given as ``app_mode=``). Chat-family
    apps are called through ``/chat-messages`` and always stream (blocking calls fold the
    stream, so long answers do not hit gateway timeouts and agent apps work); completion
    apps through ``/completion-messages`` with the prompt in ``inputs[input_key]``.
    ``complete`` on a chat app sends the prompt as the query of a new conversation; ``chat``
    on a completion app flattens the messages into one prompt.

    Multi-turn: passing the whole history on every call maps onto one Dify conversation with
    exactly one new Dify message per turn (Dify keeps the history server side). The
    conversation a call continues is, in this order: a per-call ``conversation_id=``; the
    ``conversation_id`` in the ``additional_kwargs`` (or ``raw``) of the history's most
    recent assistant message (``DifyLLM`` puts it there, and chat memories keep it); this
    instance's record of the histories it sent, matched exactly **for the same user** and
    only when exactly one conversation holds that history; else a new conversation, with
    the earlier turns sent once as context.

    One ``DifyLLM`` can serve many users: pass ``user=`` per call
    (``llm.chat(messages, user="alice")``); the user is part of every key, and a history
    never continues another session's conversation. System messages (the retrieved context
    of ``ContextChatEngine`` / ``CondensePlusContextChatEngine``) are sent in front of the
    query whenever they differ from what the conversation already received.

    Setup:
        ``pip install "dify-integrations[llama-index]"`` and set ``DIFY_API_KEY`` (an app key,
        ``app-…``) and, for a self-hosted Dify, ``DIFY_BASE_URL``.

    Key init args:
        - ``api_key``: App key; else ``DIFY_API_KEY``. Never serialized nor shown in ``repr``.
        - ``base_url``: Service API root; else ``DIFY_BASE_URL``, else ``https://api.dify.ai/v1``.
        - ``user``: End-user id; else ``DIFY_USER``, else ``"llama-index"``.
        - ``app_mode``: Skip the ``/info`` lookup by naming the mode.
        - ``input_key``: Completion apps: the variable that receives the prompt (``"query"``).
        - ``inputs``: App variables sent with every call.
        - ``system_variable``: An app variable that receives the system prompt. Dify keeps a
            conversation's inputs from its first message, so a variable cannot carry a
            changing system prompt (retrieved context): a changed value for a continued
            conversation is dropped by Dify, with a warning. Without it (the default) the
            system prompt travels in front of the query whenever it changes.
        - ``context_window``, ``num_output``: Reported in ``metadata`` (Dify does not expose them).
        - ``client``, ``async_client``: Existing core clients to share connection pools.

    Instantiate:
        ```python
        from dify_integrations.llama_index import DifyLLM

        llm = DifyLLM(api_key="app-...", base_url="http://127.0.0.1:5001/v1")
        ```

    Invoke:
        ```python
        from llama_index.core.llms import ChatMessage

        response = llm.chat([ChatMessage(role="user", content="What is the return window?")])
        print(response.message.content)
        print(llm.complete("Summarise our shipping policy").text)
        ```

    Stream:
        ```python
        for chunk in llm.stream_chat([ChatMessage(role="user", content="Hi")]):
            print(chunk.delta, end="")
        ```

    Async:
        ```python
        response = await llm.achat([ChatMessage(role="user", content="Hi")])
        async for chunk in await llm.astream_complete("Hi"):
            print(chunk.delta, end="")
        ```

    Token usage:
        ``response.raw["usage"]`` holds Dify's usage (``prompt_tokens``,
        ``completion_tokens``, ``total_tokens``, prices, latency), which
        ``TokenCountingHandler`` reads.

    Response metadata:
        ``response.additional_kwargs`` holds ``conversation_id``, ``message_id``, ``task_id``,
        ``retriever_resources`` (citations) and, when Dify reports them, ``total_price``,
        ``currency`` and ``latency``. The returned assistant message carries
        ``conversation_id`` and ``message_id`` too.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="Dify app key (app-...)."
    )
    base_url: str | None = Field(default=None, description="Dify Service API root.")
    user: str | None = Field(default=None, description="End-user identifier sent to Dify.")
    timeout: float | Timeout | None = Field(
        default=None, description="Seconds (read timeout) or a core Timeout."
    )
    max_retries: int = Field(default=2, description="Retries for safe-to-retry failures.")
    app_mode: AppMode | None = Field(
        default=None, description="The app's mode; read from /info when not given."
    )
    input_key: str = Field(
        default="query", description="Completion apps: the input variable taking the prompt."
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="App variables sent with every call."
    )
    system_variable: str | None = Field(
        default=None, description="App variable that receives the system prompt, if any."
    )
    context_window: int = Field(
        default=DEFAULT_CONTEXT_WINDOW, gt=0, description="Reported context window (tokens)."
    )
    num_output: int = Field(
        default=DEFAULT_NUM_OUTPUTS, gt=0, description="Reported output budget (tokens)."
    )
    model_name: str | None = Field(
        default=None, description="Name reported in metadata; the app's name when unset."
    )

    _clients: ClientPair = PrivateAttr()
    _tracker: ConversationTracker = PrivateAttr(default_factory=ConversationTracker)
    _paused: dict[str, tuple[ConversationPlan | None, str]] = PrivateAttr(default_factory=dict)
    _info_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _mode: str | None = PrivateAttr(default=None)
    _app_name: str | None = PrivateAttr(default=None)
    _key_source: KeySource | None = PrivateAttr(default=None)

    def __init__(
        self,
        *,
        client: DifyClient | None = None,
        async_client: AsyncDifyClient | None = None,
        **data: Any,
    ) -> None:
        super().__init__(**data)
        clients = ClientPair(
            api_key=self.api_key,
            base_url=self.base_url,
            user=self.user,
            timeout=self.timeout,
            max_retries=self.max_retries,
            client=client,
            async_client=async_client,
        )
        self._clients = clients
        self.api_key = clients.config.api_key
        self.base_url = clients.config.base_url
        self.user = clients.user
        self._mode = self.app_mode

    @model_validator(mode="before")
    @classmethod
    def _known_arguments(cls, data: Any) -> Any:
        """Rename aliases (``api_base``, ``model``, ``request_timeout``); refuse unknown names."""
        if not isinstance(data, dict):
            return data
        accepted = [*field_names(cls.model_fields), "client", "async_client"]
        return resolve_arguments(cls.__name__, data, accepted, LLAMA_INDEX_ALIASES)

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> DifyLLM:
        """A copy with its own settings and conversation memory, sharing the clients."""
        clone = self.model_copy()
        object.__setattr__(clone, "__dict__", copy.deepcopy(self.__dict__, memo))
        clone._tracker = ConversationTracker()
        clone._paused = {}
        clone._info_lock = threading.Lock()
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings only: never the key, the clients or the conversation memory.

        Unpickling rebuilds the instance from its settings, reading the key from
        ``DIFY_API_KEY`` (or the source set with ``core.pickling.key_from``) in the process
        that loads it.
        """
        # pydantic's state, not LlamaIndex's: that one test-pickles (and warns about) the
        # private attributes, which are all dropped here anyway.
        state = BaseModel.__getstate__(self)
        state["__dict__"] = {
            k: v for k, v in state["__dict__"].items() if k != "api_key" and _picklable(v)
        }
        state["__pydantic_private__"] = {}
        state[KEY_SOURCE_STATE] = key_source_of(self)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild from pickled settings; the key is read again where it is loaded.

        Raises:
            ValueError: If the key is not found where the pickle is loaded.
        """
        source: KeySource = state.get(KEY_SOURCE_STATE) or KeySource()
        api_key = source.resolve(("DIFY_API_KEY",), "DifyLLM")
        self.__init__(**{**state["__dict__"], "api_key": api_key})  # type: ignore[misc]
        self._key_source = source

    @field_serializer("timeout")
    def _serialize_timeout(self, value: float | Timeout | None) -> Any:
        return asdict(value) if isinstance(value, Timeout) else value

    @classmethod
    def class_name(cls) -> str:
        """Stable serialization id."""
        return "DifyLLM"

    # ------------------------------------------------------------------ structured output

    def structured_predict(
        self,
        output_cls: type[_Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> _Model:
        """The app's answer as an ``output_cls`` instance (also what ``as_structured_llm`` uses).

        A Dify app owns its model, so this instructs the app: the formatted prompt gets an
        instruction to reply with one JSON object matching ``output_cls``'s JSON schema, and
        the answer is parsed and validated.

        Raises:
            StructuredOutputError: (a ``ValueError``) when the answer is not JSON or does not
                match ``output_cls``; the message names it.
        """
        text = self._structured_prompt(output_cls, prompt, prompt_args)
        answer = self.complete(text, formatted=True, **(llm_kwargs or {})).text
        return validate_answer(output_cls, answer)

    async def astructured_predict(
        self,
        output_cls: type[_Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> _Model:
        """Async :meth:`structured_predict`."""
        text = self._structured_prompt(output_cls, prompt, prompt_args)
        answer = (await self.acomplete(text, formatted=True, **(llm_kwargs or {}))).text
        return validate_answer(output_cls, answer)

    def _structured_prompt(
        self, output_cls: type[BaseModel], prompt: PromptTemplate, prompt_args: dict[str, Any]
    ) -> str:
        text: str = prompt.format(llm=self, **prompt_args)
        return text + instruction(output_cls.model_json_schema())

    # ------------------------------------------------------------------ metadata

    @property
    def metadata(self) -> LLMMetadata:
        """LLM metadata; ``model_name`` is ``model_name=``, else the app's name once known.

        Reading it never makes a request (LlamaIndex reads ``metadata`` while building
        engines and prompts). The app's name comes from the ``GET /info`` the first call
        makes to learn the app's mode; until then, or with ``app_mode=`` given, it is
        ``"dify"``. Pass ``model_name=`` (or ``model=``) to name it yourself.
        """
        return self._metadata()

    def to_payload(self) -> dict[str, Any]:
        """What callbacks and instrumentation see: class name and metadata, never the key.

        Never does I/O (the app name is the one already known).
        """
        return {"class_name": self.class_name(), **self._metadata().model_dump()}

    def _metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            is_chat_model=True,
            is_function_calling_model=False,
            model_name=self.model_name or self._app_name or "dify",
        )

    def _remember_info(self, info: Any) -> str:
        self._app_name = str(getattr(info, "name", None) or "")
        mode = getattr(info, "mode", None)
        if self._mode is None:
            self._mode = str(mode) if mode else "chat"
        return self._mode

    def _load_info_sync(self) -> str:
        with self._info_lock:
            if self._mode is None or self._app_name is None:
                self._remember_info(self._clients.sync.get_info())
        return self._mode or "chat"

    async def _load_info_async(self) -> str:
        if self._mode is None or self._app_name is None:
            self._remember_info(await self._clients.async_.get_info())
        return self._mode or "chat"

    def _mode_sync(self) -> str:
        return self._mode if self._mode is not None else self._load_info_sync()

    async def _mode_async(self) -> str:
        return self._mode if self._mode is not None else await self._load_info_async()

    # ------------------------------------------------------------------ requests (pure)

    def _merged_inputs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        extra = kwargs.get("inputs") or {}
        return {**self.inputs, **extra}

    def _call_user(self, kwargs: dict[str, Any]) -> str:
        user = kwargs.get("user")
        if user is not None and (not isinstance(user, str) or not user.strip()):
            raise ValueError("user= must be a non-empty string")
        return user or self._clients.user

    def _chat_request(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any], mode: str
    ) -> _Request:
        inputs = self._merged_inputs(kwargs)
        user = self._call_user(kwargs)
        if mode == "completion":
            inputs[self.input_key] = messages_to_prompt(messages)
            return _Request(completion=True, inputs=inputs, user=user)
        _check_chat_mode(mode)
        plan = plan_conversation(
            messages_to_turns(messages),
            self._tracker,
            user=user,
            conversation_id=kwargs.get("conversation_id") or None,
            system_as_context=self.system_variable is None,
        )
        if self.system_variable and plan.system:
            inputs[self.system_variable] = plan.system
        files: list[dict[str, Any]] = []
        uploads: list[ImageUpload] = []
        if messages:
            files, uploads = image_files(messages[-1])
        return _Request(
            completion=False,
            inputs=inputs,
            user=user,
            query=plan.render_query(),
            conversation_id=plan.conversation_id,
            files=files,
            uploads=uploads,
            plan=plan,
        )

    def _vetted_prompt(self, prompt: str, formatted: bool) -> str:
        """The prompt to send, checked before any request (the app mode lookup included)."""
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        if not prompt.strip():
            raise ValueError("the prompt must not be empty")
        return prompt

    def _complete_request(
        self, prompt: str, formatted: bool, kwargs: dict[str, Any], mode: str
    ) -> _Request:
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        if not prompt.strip():
            raise ValueError("the prompt must not be empty")
        inputs = self._merged_inputs(kwargs)
        user = self._call_user(kwargs)
        if mode == "completion":
            inputs[self.input_key] = prompt
            return _Request(completion=True, inputs=inputs, user=user)
        _check_chat_mode(mode)
        return _Request(completion=False, inputs=inputs, user=user, query=prompt)

    def _finish(self, request: _Request, result: Any) -> None:
        if request.plan is not None:
            self._tracker.record(request.plan, result.answer, result.conversation_id)
        run_id = getattr(result, "workflow_run_id", None)
        if getattr(result, "paused", False) and run_id:
            # Remembered so that the resumed answer completes this turn, for this user.
            self._paused[run_id] = (request.plan, request.user)
            while len(self._paused) > _MAX_PAUSED:
                self._paused.pop(next(iter(self._paused)))

    def _resumed(self, run_id: str, result: Any, text: str) -> ChatResponse:
        plan, _ = self._paused.pop(run_id, (None, ""))
        if plan is not None:
            self._tracker.record(plan, result.answer, result.conversation_id)
        return to_chat_response(result, text=text)

    # ------------------------------------------------------------------ I/O loops

    def _open_stream(
        self, client: DifyClient | AsyncDifyClient, request: _Request, files: list[dict[str, Any]]
    ) -> Any:
        """The stream for ``request`` (the ``stream_*`` methods of both clients are plain)."""
        user = request.user
        trace_id = span_trace_id()
        if request.completion:
            return client.stream_completion(
                request.inputs, user=user, files=files or None, trace_id=trace_id
            )
        return client.stream_chat_message(
            request.query or "",
            user=user,
            inputs=request.inputs,
            conversation_id=request.conversation_id,
            files=files or None,
            trace_id=trace_id,
        )

    def _open_sync(self, request: _Request) -> Any:
        client = self._clients.sync
        user = request.user
        files = list(request.files)
        for upload in request.uploads:
            uploaded = client.upload_file(
                upload.data, filename=upload.filename, mime_type=upload.mime_type, user=user
            )
            files.append(_local_image(uploaded))
        return self._open_stream(client, request, files)

    async def _open_async(self, request: _Request) -> Any:
        client = self._clients.async_
        user = request.user
        files = list(request.files)
        for upload in request.uploads:
            uploaded = await client.upload_file(
                upload.data, filename=upload.filename, mime_type=upload.mime_type, user=user
            )
            files.append(_local_image(uploaded))
        return self._open_stream(client, request, files)

    def _steps_sync(self, request: _Request) -> Iterator[tuple[Any, str, str]]:
        return iter_steps(self._open_sync(request), partial(self._finish, request))

    async def _steps_async(self, request: _Request) -> AsyncIterator[tuple[Any, str, str]]:
        stream = await self._open_async(request)
        async for step in aiter_steps(stream, partial(self._finish, request)):
            yield step

    # ------------------------------------------------------------------ the eight methods

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Send the last user message (history by the conversation rule); wait for the answer."""
        request = self._chat_request(_vetted(messages), kwargs, self._mode_sync())
        result, text = fold(self._open_sync(request), partial(self._finish, request))
        return to_chat_response(result, text=text)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Like :meth:`chat`, yielding a response per streamed delta."""
        request = self._chat_request(_vetted(messages), kwargs, self._mode_sync())

        def gen() -> ChatResponseGen:
            for result, text, delta in self._steps_sync(request):
                yield to_chat_response(result, text=text, delta=delta)

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Send one prompt (a new conversation on chat apps); wait for the answer."""
        request = self._complete_request(
            self._vetted_prompt(prompt, formatted), True, kwargs, self._mode_sync()
        )
        result, text = fold(self._open_sync(request), partial(self._finish, request))
        return to_completion_response(result, text=text)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Like :meth:`complete`, yielding a response per streamed delta."""
        request = self._complete_request(
            self._vetted_prompt(prompt, formatted), True, kwargs, self._mode_sync()
        )

        def gen() -> CompletionResponseGen:
            for result, text, delta in self._steps_sync(request):
                yield to_completion_response(result, text=text, delta=delta)

        return gen()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat` on the native async client."""
        request = self._chat_request(_vetted(messages), kwargs, await self._mode_async())
        result, text = await afold(await self._open_async(request), partial(self._finish, request))
        return to_chat_response(result, text=text)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat` on the native async client."""
        request = self._chat_request(_vetted(messages), kwargs, await self._mode_async())

        async def gen() -> ChatResponseAsyncGen:
            async for result, text, delta in self._steps_async(request):
                yield to_chat_response(result, text=text, delta=delta)

        return gen()

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async :meth:`complete` on the native async client."""
        request = self._complete_request(
            self._vetted_prompt(prompt, formatted), True, kwargs, await self._mode_async()
        )
        result, text = await afold(await self._open_async(request), partial(self._finish, request))
        return to_completion_response(result, text=text)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete` on the native async client."""
        request = self._complete_request(
            self._vetted_prompt(prompt, formatted), True, kwargs, await self._mode_async()
        )

        async def gen() -> CompletionResponseAsyncGen:
            async for result, text, delta in self._steps_async(request):
                yield to_completion_response(result, text=text, delta=delta)

        return gen()

    # ------------------------------------------------------------------ human input

    def resume_with_input(
        self,
        response: ChatResponse | CompletionResponse,
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        form_token: str | None = None,
    ) -> ChatResponse:
        """Answer the form a paused chatflow waits on, and return the resumed answer.

        A chatflow that reaches a Human Input node answers with ``additional_kwargs``
        ``status == "paused"`` and the forms in ``human_input``. Pass that response with a
        person's choice: the form is submitted and the run's resumed events are folded
        into a :class:`ChatResponse` (which may be paused again).

        Raises:
            ValueError: ``response`` is not a paused answer (before any request).
            HumanInputFormClosedError: The form was already submitted or has expired.
        """
        token, run_id = _resume_target(response, form_token)
        client = self._clients.sync
        user = self._paused.get(run_id, (None, self._clients.user))[1]
        client.submit_human_input_form(token, action=action, inputs=inputs, user=user)
        result, text = fold(client.stream_workflow_events(run_id, user=user, kind="chat"))
        return self._resumed(run_id, result, text)

    async def aresume_with_input(
        self,
        response: ChatResponse | CompletionResponse,
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        form_token: str | None = None,
    ) -> ChatResponse:
        """Async :meth:`resume_with_input`."""
        token, run_id = _resume_target(response, form_token)
        client = self._clients.async_
        user = self._paused.get(run_id, (None, self._clients.user))[1]
        await client.submit_human_input_form(token, action=action, inputs=inputs, user=user)
        stream = client.stream_workflow_events(run_id, user=user, kind="chat")
        result, text = await afold(stream)
        return self._resumed(run_id, result, text)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the sync client if this instance created it."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close every client this instance created."""
        await self._clients.aclose()


def _resume_target(response: Any, form_token: str | None) -> tuple[str, str]:
    extra = getattr(response, "additional_kwargs", None) or {}
    return pick_form(
        extra.get("human_input"),
        form_token=form_token,
        workflow_run_id=extra.get("workflow_run_id"),
    )


def _check_chat_mode(mode: str) -> None:
    if mode not in _CHAT_MODES:
        raise ValueError(
            f"DifyLLM works with chat, agent-chat, agent, advanced-chat and completion apps; this app "
            f"is a {mode!r} app (use DifyWorkflowTool for workflow apps)"
        )


def _local_image(uploaded: Any) -> dict[str, Any]:
    return {"type": "image", "transfer_method": "local_file", "upload_file_id": uploaded.id}


def _picklable(value: Any) -> bool:
    """Whether ``value`` pickles (LlamaIndex drops the fields that do not, e.g. lambdas)."""
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True
