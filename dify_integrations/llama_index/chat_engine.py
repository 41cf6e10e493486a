"""``DifyChatEngine``: a Dify chat app as a stateful LlamaIndex chat engine."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.callbacks import CallbackManager
from llama_index.core.chat_engine.types import (
    AgentChatResponse,
    BaseChatEngine,
    StreamingAgentChatResponse,
)
from llama_index.core.llms.callbacks import llm_chat_callback

from dify_integrations.core.arguments import LLAMA_INDEX_ALIASES, checked_arguments
from dify_integrations.core.async_client import AsyncDifyClient
from dify_integrations.core.client import DifyClient
from dify_integrations.core.config import TimeoutLike
from dify_integrations.core.conversation import Turn, plan_conversation
from dify_integrations.core.human_input import pick_form
from dify_integrations.core.retrieval import resource_to_chunk
from dify_integrations.llama_index._clients import ClientPair
from dify_integrations.llama_index._convert import (
    as_dict,
    chunk_to_node,
    citations_output,
    dify_messages_to_chat_history,
    messages_to_turns,
    result_metadata,
    span_trace_id,
    to_chat_response,
)
from dify_integrations.llama_index._streaming import afold, aiter_steps, fold, iter_steps

__all__ = ["DifyChatEngine"]

_PAGE = 100


class DifyChatEngine(BaseChatEngine):
    """A Dify chat app (chat, agent-chat or chatflow) as a LlamaIndex chat engine.

    The memory is Dify's own, server side: each ``chat`` adds one message to the current
    Dify conversation, so the engine sends only the new message. ``reset`` starts a new
    conversation (``delete_old=True`` also deletes the old one on the server), and
    ``chat_history`` reads the conversation back from ``GET /messages``. Citations
    (``retriever_resources``) come back as ``source_nodes`` and as one ``sources`` entry.

    Use one engine per session, with that session's end user (``user=``): an engine always
    continues its own conversation, so sessions never share one, even when they begin
    with the same words. A ``chat_history`` passed to ``chat`` follows the core rule of
    ``DifyLLM`` (the conversation its most recent assistant message names, else a new one
    with the history as context).

    Setup:
        Set ``DIFY_API_KEY`` (an app key) and ``DIFY_BASE_URL`` for a self-hosted Dify.

    Key init args:
        - ``api_key``: App key; else ``DIFY_API_KEY``.
        - ``base_url``: Service API root; else ``DIFY_BASE_URL``, else ``https://api.dify.ai/v1``.
        - ``user``: End-user id (Dify scopes conversations to it); else ``DIFY_USER``, else
            ``"llama-index"``.
        - ``inputs``: App variables for a new conversation (Dify keeps a conversation's inputs).
        - ``conversation_id``: Continue an existing conversation.
        - ``client``, ``async_client``: Existing core clients to share connection pools.

    Instantiate:
        ```python
        from dify_integrations.llama_index import DifyChatEngine

        engine = DifyChatEngine(api_key="app-...", base_url="http://127.0.0.1:5001/v1")
        ```

    Invoke:
        ```python
        print(engine.chat("What is the return window?"))
        print(engine.chat("And for opened items?"))  # same Dify conversation
        engine.reset()
        ```

    Stream:
        ```python
        response = engine.stream_chat("Tell me about shipping")
        for token in response.response_gen:
            print(token, end="")
        print(response.source_nodes)
        ```

    Async:
        ```python
        response = await engine.astream_chat("Hi")
        async for token in response.async_response_gen():
            print(token, end="")
        ```

    Response metadata:
        ``response.metadata`` holds ``conversation_id``, ``message_id``, ``task_id``,
        ``retriever_resources`` and, when Dify reports them, price and latency.
    """

    @checked_arguments(LLAMA_INDEX_ALIASES)
    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        user: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        client: DifyClient | None = None,
        async_client: AsyncDifyClient | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        self.callback_manager = callback_manager or _default_callback_manager()
        self._clients = ClientPair(
            api_key=api_key,
            base_url=base_url,
            user=user,
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            async_client=async_client,
        )
        self.inputs: dict[str, Any] = dict(inputs or {})
        self._conversation_id = conversation_id or None

    def __repr__(self) -> str:
        return (
            f"DifyChatEngine(base_url={self._clients.config.base_url!r}, "
            f"user={self._clients.user!r}, conversation_id={self._conversation_id!r})"
        )

    @classmethod
    def class_name(cls) -> str:
        """Stable name of the engine class."""
        return "DifyChatEngine"

    @property
    def conversation_id(self) -> str | None:
        """The current Dify conversation (``None`` until the first message)."""
        return self._conversation_id

    @property
    def user(self) -> str:
        """The end user the conversation belongs to."""
        return self._clients.user

    # ------------------------------------------------------------------ pure parts

    def _prepare(
        self, message: str, chat_history: list[ChatMessage] | None
    ) -> tuple[str, str | None]:
        """The query and conversation of one turn, by the core conversation rule.

        Without ``chat_history`` the turn continues the engine's current conversation. A
        ``chat_history`` passed explicitly replaces the engine's memory, as in LlamaIndex's
        own engines: it continues the conversation its most recent assistant message names
        (``chat_history`` read back from this engine does), else a new conversation starts
        with that history sent once as context.
        """
        turns = [*messages_to_turns(chat_history or []), Turn("user", message)]
        plan = plan_conversation(
            turns,
            None,
            user=self.user,
            conversation_id=None if chat_history else self._conversation_id,
        )
        if chat_history:
            self._conversation_id = plan.conversation_id
        return plan.render_query(), plan.conversation_id

    def _on_finish(self, result: Any) -> None:
        if getattr(result, "conversation_id", None):
            self._conversation_id = result.conversation_id

    @staticmethod
    def _chat_response(result: Any, text: str) -> AgentChatResponse:
        resources = list(getattr(result, "retriever_resources", []))
        return AgentChatResponse(
            response=text,
            sources=citations_output(resources),
            source_nodes=[chunk_to_node(resource_to_chunk(r)) for r in resources],
            metadata=_engine_metadata(result),
        )

    # Each turn runs as an LLM call of this engine, so callback handlers
    # (``TokenCountingHandler``) and the instrumentation dispatcher see the same
    # LLM start/end events, with the same usage in ``raw``, as for ``DifyLLM``.

    def to_payload(self) -> dict[str, Any]:
        """What LLM events name as the model: class, base URL and user; never the key."""
        return {
            "class_name": self.class_name(),
            "base_url": self._clients.config.base_url,
            "user": self.user,
        }

    @property
    def rate_limiter(self) -> None:
        """No client-side rate limiter (Dify's 429s are retried by the client)."""
        return None

    def _as_llm_call(self, run: Callable[[], Any], query: str, conversation_id: str | None) -> Any:
        """``run()`` wrapped in LlamaIndex's LLM chat events (sync; a generator is followed)."""
        call = llm_chat_callback()(lambda _self, _messages, **_kwargs: run())
        messages = [ChatMessage(role=MessageRole.USER, content=query)]
        return call(self, messages, conversation_id=conversation_id)

    async def _as_async_llm_call(
        self, run: Callable[[], Any], query: str, conversation_id: str | None
    ) -> Any:
        """Async :meth:`_as_llm_call`: ``await run()`` wrapped in the same events."""

        async def call_run(_self: Any, _messages: Any, **_kwargs: Any) -> Any:
            return await run()

        call = llm_chat_callback()(call_run)
        messages = [ChatMessage(role=MessageRole.USER, content=query)]
        return await call(self, messages, conversation_id=conversation_id)

    @staticmethod
    def _complete_streaming(response: StreamingAgentChatResponse, result: Any, text: str) -> None:
        resources = list(getattr(result, "retriever_resources", []))
        response.source_nodes.extend(chunk_to_node(resource_to_chunk(r)) for r in resources)
        response.sources.extend(citations_output(resources))
        response.response = text
        # response_gen sets ``response`` from ``unformatted_response`` (the joined deltas)
        # once the stream is exhausted: after a message_replace it must be the replacement.
        response.unformatted_response = text
        response.metadata = _engine_metadata(result)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ sync

    def _open_sync(self, query: str, conversation_id: str | None) -> Any:
        return self._clients.sync.stream_chat_message(
            query,
            user=self.user,
            inputs=self.inputs,
            conversation_id=conversation_id,
            trace_id=span_trace_id(),
        )

    def chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> AgentChatResponse:
        """Send one message in the current conversation and wait for the answer."""
        query, conversation_id = self._prepare(message, chat_history)
        done: list[tuple[Any, str]] = []

        def run() -> ChatResponse:
            result, text = fold(self._open_sync(query, conversation_id), self._on_finish)
            done.append((result, text))
            return to_chat_response(result, text=text)

        self._as_llm_call(run, query, conversation_id)
        return self._chat_response(*done[0])

    def stream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        """Send one message; the answer streams through ``response_gen``.

        ``source_nodes`` and ``sources`` fill in when the stream ends, and ``response``
        holds the final answer: the replacement when Dify's moderation replaced the
        streamed text (``message_replace``).
        """
        query, conversation_id = self._prepare(message, chat_history)
        response = StreamingAgentChatResponse(is_writing_to_memory=False)

        def steps() -> Generator[ChatResponse, None, None]:
            # Every step, the closing one too: it carries the usage the end event reports.
            stream = self._open_sync(query, conversation_id)
            for result, text, delta in iter_steps(stream, self._on_finish):
                yield to_chat_response(result, text=text, delta=delta)
            self._complete_streaming(response, result, text)

        def gen() -> Generator[ChatResponse, None, None]:
            for chunk in self._as_llm_call(steps, query, conversation_id):
                if chunk.delta:
                    yield chunk

        response.chat_stream = gen()
        return response

    def resume_with_input(
        self,
        response: AgentChatResponse,
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        form_token: str | None = None,
    ) -> AgentChatResponse:
        """Answer the form a paused chatflow waits on; the resumed answer.

        A paused answer has ``metadata["status"] == "paused"`` and the forms in
        ``metadata["human_input"]``. Pass it with a person's choice: the form is submitted
        and the resumed run is folded into the answer of this turn (it may pause again).

        Raises:
            ValueError: ``response`` is not a paused answer (before any request).
            HumanInputFormClosedError: The form was already submitted or has expired.
        """
        meta = response.metadata or {}
        token, run_id = pick_form(
            meta.get("human_input"),
            form_token=form_token,
            workflow_run_id=meta.get("workflow_run_id"),
        )
        client = self._clients.sync
        client.submit_human_input_form(token, action=action, inputs=inputs, user=self.user)
        stream = client.stream_workflow_events(run_id, user=self.user, kind="chat")
        result, text = fold(stream, self._on_finish)
        return self._chat_response(result, text)

    async def aresume_with_input(
        self,
        response: AgentChatResponse,
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        form_token: str | None = None,
    ) -> AgentChatResponse:
        """Async :meth:`resume_with_input`."""
        meta = response.metadata or {}
        token, run_id = pick_form(
            meta.get("human_input"),
            form_token=form_token,
            workflow_run_id=meta.get("workflow_run_id"),
        )
        client = self._clients.async_
        await client.submit_human_input_form(token, action=action, inputs=inputs, user=self.user)
        stream = client.stream_workflow_events(run_id, user=self.user, kind="chat")
        result, text = await afold(stream, self._on_finish)
        return self._chat_response(result, text)

    def reset(self, delete_old: bool = False) -> None:
        """Start a new conversation.

        Args:
            delete_old: Also delete the previous conversation on the Dify server.
        """
        old, self._conversation_id = self._conversation_id, None
        if delete_old and old:
            self._clients.sync.delete_conversation(old, user=self.user)

    @property
    def chat_history(self) -> list[ChatMessage]:
        """The current conversation, read from Dify (``GET /messages``), oldest first."""
        if not self._conversation_id:
            return []
        pages: list[list[Any]] = []
        first_id: str | None = None
        while True:
            page = self._clients.sync.list_messages(
                self._conversation_id, user=self.user, first_id=first_id, limit=_PAGE
            )
            first_id = _collect(pages, page)
            if first_id is None:
                break
        return _history(pages)

    # ------------------------------------------------------------------ async

    def _open_async(self, query: str, conversation_id: str | None) -> Any:
        return self._clients.async_.stream_chat_message(
            query,
            user=self.user,
            inputs=self.inputs,
            conversation_id=conversation_id,
            trace_id=span_trace_id(),
        )

    async def achat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> AgentChatResponse:
        """Async :meth:`chat`."""
        query, conversation_id = self._prepare(message, chat_history)
        done: list[tuple[Any, str]] = []

        async def run() -> ChatResponse:
            result, text = await afold(self._open_async(query, conversation_id), self._on_finish)
            done.append((result, text))
            return to_chat_response(result, text=text)

        await self._as_async_llm_call(run, query, conversation_id)
        return self._chat_response(*done[0])

    async def astream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        """Async :meth:`stream_chat`; iterate ``response.async_response_gen()``."""
        query, conversation_id = self._prepare(message, chat_history)
        response = StreamingAgentChatResponse(is_writing_to_memory=False)

        async def steps() -> AsyncGenerator[ChatResponse, None]:
            stream = self._open_async(query, conversation_id)
            async for result, text, delta in aiter_steps(stream, self._on_finish):
                yield to_chat_response(result, text=text, delta=delta)
            self._complete_streaming(response, result, text)

        async def start() -> AsyncGenerator[ChatResponse, None]:
            return steps()

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            chunks = await self._as_async_llm_call(start, query, conversation_id)
            async for chunk in chunks:
                if chunk.delta:
                    yield chunk

        response.achat_stream = gen()
        return response

    async def areset(self, delete_old: bool = False) -> None:
        """Async :meth:`reset`."""
        old, self._conversation_id = self._conversation_id, None
        if delete_old and old:
            await self._clients.async_.delete_conversation(old, user=self.user)

    async def aget_chat_history(self) -> list[ChatMessage]:
        """Async :attr:`chat_history`."""
        if not self._conversation_id:
            return []
        pages: list[list[Any]] = []
        first_id: str | None = None
        while True:
            page = await self._clients.async_.list_messages(
                self._conversation_id, user=self.user, first_id=first_id, limit=_PAGE
            )
            first_id = _collect(pages, page)
            if first_id is None:
                break
        return _history(pages)

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the sync client if this engine created it."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close every client this engine created."""
        await self._clients.aclose()


def _default_callback_manager() -> CallbackManager:
    """``Settings.callback_manager``, where LlamaIndex users register their handlers."""
    from llama_index.core import Settings

    return Settings.callback_manager


def _engine_metadata(result: Any) -> dict[str, Any]:
    """A response's ``metadata``: Dify's ids and citations, and the token counts."""
    metadata = result_metadata(result)
    usage = as_dict(getattr(result, "usage", None))
    if usage:
        metadata["usage"] = {
            k: usage[k]
            for k in ("prompt_tokens", "completion_tokens", "total_tokens")
            if k in usage
        }
    return metadata


def _collect(pages: list[list[Any]], page: Any) -> str | None:
    """Keep a ``/messages`` page; return the cursor of the older page, or ``None``."""
    data = as_dict(page)
    items = list(data.get("data") or [])
    pages.append(items)
    if data.get("has_more") and items:
        return str(as_dict(items[0])["id"])
    return None


def _history(pages: list[list[Any]]) -> list[ChatMessage]:
    ordered = [item for page in reversed(pages) for item in page]
    return dify_messages_to_chat_history(ordered)
