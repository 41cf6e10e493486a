"""Connection settings and lazily created clients shared by the LangChain adapters."""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from typing import Any, ClassVar, Literal, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LangSmithParams
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, GenerationChunk
from langchain_core.utils import from_env, secret_from_env
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    model_validator,
)
from pydantic_core import PydanticUndefined

from dify_integrations.core.arguments import LANGCHAIN_ALIASES, field_names, resolve_arguments
from dify_integrations.core.async_client import AsyncDifyClient
from dify_integrations.core.client import DifyClient
from dify_integrations.core.client_pair import ClientPair
from dify_integrations.core.config import DEFAULT_BASE_URL, Timeout, check_base_url
from dify_integrations.core.errors import DifyError
from dify_integrations.core.pickling import (
    KEY_SOURCE_STATE,
    KeySource,
    key_source_of,
    portable_items,
)
from dify_integrations.core.stream import AsyncEventStream, EventStream
from dify_integrations.core.tokens import MESSAGE_OVERHEAD, estimate_tokens
from dify_integrations.core.validate import check_api_key
from dify_integrations.langchain._convert import DEFAULT_MODEL_NAME, DEFAULT_USER
from dify_integrations.langchain._fold import AnswerFolder

__all__ = ["DifyConnection", "DifyDatasetConnection", "DifyModelBase"]


class _LangChainClients(ClientPair):
    """The core client pair with LangChain's default end user."""

    default_user: ClassVar[str] = DEFAULT_USER


_Chunk = TypeVar("_Chunk", GenerationChunk, ChatGenerationChunk)


class DifyConnection(BaseModel):
    """Fields and client handling common to the adapters that talk to one Dify app.

    Clients are created once per instance, on first use, and reused for every call so
    connections are pooled; pass ``client=`` / ``async_client=`` to share pools between
    several adapters. A missing API key is reported (``ValueError``) on first use, before
    any request, so an adapter can be built before the environment is set.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True, extra="forbid")

    api_key: SecretStr | None = Field(default_factory=secret_from_env("DIFY_API_KEY", default=None))
    """The app's API key (``app-…``). Read from ``DIFY_API_KEY`` when not given."""

    base_url: str = Field(default_factory=from_env("DIFY_BASE_URL", default=DEFAULT_BASE_URL))
    """The Service API root. Read from ``DIFY_BASE_URL``, else ``https://api.dify.ai/v1``."""

    user: str | None = None
    """The Dify end-user id. Else ``DIFY_USER``, else the client's user, else ``"langchain"``."""

    timeout: float | Timeout | None = None
    """Seconds for the read timeout, or a full ``Timeout`` (connect, read, stream idle)."""

    max_retries: int = 2
    """Retries for failures that are safe to retry (never a message that may have been sent)."""

    client: DifyClient | None = Field(default=None, exclude=True)
    """An existing sync client to use (shares its connection pool)."""

    async_client: AsyncDifyClient | None = Field(default=None, exclude=True)
    """An existing async client to use (shares its connection pool)."""

    _env_key: ClassVar[str] = "DIFY_API_KEY"

    _pair: _LangChainClients | None = PrivateAttr(default=None)
    _client_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _key_source: KeySource | None = PrivateAttr(default=None)
    _key_envs: ClassVar[tuple[str, ...]] = ("DIFY_API_KEY",)

    # pickles: settings and where the key is, never the key (see core.pickling) ----------

    def __getstate__(self) -> dict[Any, Any]:
        """Pickle the settings and the `KeySource`, never the key, clients or locks."""
        state = dict(super().__getstate__())
        fields = self._pickle_fields(dict(state["__dict__"]))
        state["__dict__"] = portable_items(
            fields, ("api_key", "client", "async_client"), owner=type(self).__name__
        )
        state["__pydantic_private__"] = None
        state[KEY_SOURCE_STATE] = key_source_of(self)
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        """Rebuild on the worker: the key re-read there, fresh clients and locks.

        Raises:
            ValueError: The key is not found where the pickle is loaded.
        """
        state = dict(state)
        source: KeySource = state.pop(KEY_SOURCE_STATE, None) or KeySource()
        fields = dict(state["__dict__"])
        fields["api_key"] = source.resolve(self._key_envs, type(self).__name__)
        for name, info in type(self).model_fields.items():
            if name not in fields:
                fields[name] = info.get_default(call_default_factory=True)
        state["__dict__"] = fields
        super().__setstate__(state)
        private = {
            name: attr.get_default(call_default_factory=True)
            for name, attr in self.__private_attributes__.items()
        }
        object.__setattr__(
            self,
            "__pydantic_private__",
            {k: v for k, v in private.items() if v is not PydanticUndefined},
        )
        self._key_source = source
        self._unpickled()

    def _pickle_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Hook: adjust the fields written to a pickle."""
        return fields

    def _unpickled(self) -> None:
        """Hook: finish rebuilding after unpickling."""

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        # Checked here, not in a pydantic validator: a ValidationError keeps the raw input
        # (the key) in ``errors()`` and its pickle. A key from the environment is checked
        # the same way.
        if self.api_key is not None:
            check_api_key(self.api_key.get_secret_value())
        # The same for the base URL (it may hold user info with a password): at
        # construction, so a bad URL fails early and plain http warns early.
        self.base_url = check_base_url(self.base_url, stacklevel=3)

    @model_validator(mode="before")
    @classmethod
    def _known_arguments(cls, data: Any) -> Any:
        """Rename true aliases (``request_timeout``); refuse unknown names with a close match."""
        if not isinstance(data, dict):
            return data
        data = cls._prepare_arguments(dict(data))
        return resolve_arguments(
            cls.__name__, data, field_names(cls.model_fields), LANGCHAIN_ALIASES
        )

    @classmethod
    def _prepare_arguments(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Hook for a subclass to unpack framework-shaped arguments before the check."""
        return data

    def _clients(self) -> _LangChainClients:
        """The client pair, built on first use from the fields (``ValueError`` without a key)."""
        if self._pair is None:
            with self._client_lock:
                if self._pair is None:
                    self._pair = _LangChainClients(
                        api_key=self.api_key,
                        base_url=self.base_url,
                        user=self.user,
                        timeout=self.timeout,
                        max_retries=self.max_retries,
                        client=self.client,
                        async_client=self.async_client,
                        env_key=self._env_key,
                    )
        return self._pair

    def _resolve_user(self, user: str | None = None) -> str:
        """``user``, else the field, else ``DIFY_USER``, else a given client's, else
        ``"langchain"``."""
        return user or self._clients().user

    def _get_client(self) -> DifyClient:
        """The sync client: the one given, else one created on first use and kept."""
        return self._clients().sync

    def _get_async_client(self) -> AsyncDifyClient:
        """The async client: the one given, else one created on first use and kept."""
        return self._clients().async_

    def close(self) -> None:
        """Close the sync client this adapter created (clients passed in are left open)."""
        if self._pair is not None:
            self._pair.close()

    async def aclose(self) -> None:
        """Close the clients this adapter created, for the running event loop too.

        Not required for correctness: a created async client also closes its connections
        when the event loop that used it shuts down (``asyncio.run``).
        """
        if self._pair is not None:
            await self._pair.aclose()


class DifyDatasetConnection(DifyConnection):
    """Like :class:`DifyConnection`, for knowledge-base keys (``dataset-…``)."""

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(["DIFY_DATASET_API_KEY", "DIFY_API_KEY"], default=None)
    )
    """The knowledge API key (``dataset-…``). Else ``DIFY_DATASET_API_KEY``, else ``DIFY_API_KEY``."""

    _env_key: ClassVar[str] = "DIFY_DATASET_API_KEY"
    _key_envs: ClassVar[tuple[str, ...]] = ("DIFY_DATASET_API_KEY", "DIFY_API_KEY")


class DifyModelBase(DifyConnection):
    """Fields and LangChain plumbing shared by ``ChatDify`` and ``DifyLLM``.

    Subclasses set :attr:`_ls_model_type` (``"chat"`` or ``"llm"``) and list this class
    before the LangChain base (``class ChatDify(DifyModelBase, BaseChatModel)``) so its
    serialization and tracing hooks win.
    """

    model_name: str | None = Field(default=None, alias="model")
    """The model name to report; by default the app's name (``GET /info``), else ``dify``."""

    inputs: dict[str, Any] = Field(default_factory=dict)
    """App variables sent with every call (a per-call ``inputs=`` adds to them)."""

    streaming: bool = False
    """Kept for compatibility: calls always stream internally."""

    temperature: float | None = None
    """Not sent: fixed by the Dify app. Accepted for compatibility and tracing."""

    max_tokens: int | None = None
    """Not sent: fixed by the Dify app. Accepted for compatibility and tracing."""

    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Default stop sequences, applied client side."""

    _ls_model_type: ClassVar[Literal["chat", "llm"]] = "chat"
    _app_name: str | None = PrivateAttr(default=None)

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "DIFY_API_KEY"}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["dify_integrations", "langchain"]

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self._known_model_name(), "base_url": self.base_url}

    def _known_model_name(self) -> str:
        return self.model_name or self._app_name or DEFAULT_MODEL_NAME

    # token counting: offline estimate ------------------------------------------------

    def get_num_tokens(self, text: str) -> int:
        """An offline *estimate* of the tokens in ``text`` (no download, no ``transformers``).

        The app's model and tokenizer are not known to the Service API, so this is the
        documented estimate of `dify_integrations.core.tokens.estimate_tokens` (within
        about 0.87-1.28x of ``cl100k_base`` counts). Dify's ``usage`` after a call is exact.
        """
        return estimate_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """An offline estimate for chat messages (``trim_messages(token_counter=model)``).

        Each message counts its text plus its role and
        `~dify_integrations.core.tokens.MESSAGE_OVERHEAD` tokens; ``tools`` are not
        counted (a Dify app brings its own tools).
        """
        return sum(
            estimate_tokens(f"{message.type}: {message.text}") + MESSAGE_OVERHEAD
            for message in messages
        )

    def get_token_ids(self, text: str) -> list[int]:
        """Not available: the Service API does not expose the app's tokenizer.

        Raises:
            NotImplementedError: Always; use `get_num_tokens` (an offline estimate).
        """
        raise NotImplementedError(
            "Dify does not expose the app model's tokenizer, so there are no token ids; "
            "get_num_tokens() and get_num_tokens_from_messages() give an offline estimate "
            "(dify_integrations.core.tokens), and Dify's usage after a call is exact."
        )

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="dify",
            ls_model_name=self._known_model_name(),
            ls_model_type=self._ls_model_type,
        )
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        ls_stop = stop or self.stop
        if ls_stop:
            params["ls_stop"] = ls_stop
        return params

    def _learn_app_name(self) -> None:
        """Fetch the app's name once (``GET /info``) unless a model name is known."""
        if self.model_name or self._app_name:
            return
        try:
            self._app_name = self._get_client().get_info().name or DEFAULT_MODEL_NAME
        except DifyError:
            # Asked once: an app whose /info fails is not asked again on every call.
            self._app_name = DEFAULT_MODEL_NAME

    def _emit(
        self,
        stream: EventStream,
        folder: AnswerFolder,
        run_manager: CallbackManagerForLLMRun | None,
        make_chunk: Callable[[str], _Chunk],
        make_reasoning_chunk: Callable[[str], _Chunk] | None = None,
    ) -> Iterator[_Chunk]:
        """Run ``stream`` to its end: a chunk per text delta, stop sequences honoured.

        With ``make_reasoning_chunk``, each ``reasoning_chunk`` delta becomes a chunk of
        its own (no answer text in it). Closes the stream (stopping the server task when
        it did not finish), then learns the app's name for the final chunk, which the
        caller builds.
        """
        with stream:
            for event in stream:
                text = folder.add(event)
                if make_reasoning_chunk is not None and folder.reasoning_delta:
                    chunk = make_reasoning_chunk(folder.reasoning_delta)
                    if run_manager:
                        run_manager.on_llm_new_token("", chunk=chunk)
                    yield chunk
                if text:
                    chunk = make_chunk(text)
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                if folder.stop_requested:
                    folder.mark_stop_sent()
                    stream.stop()
        self._learn_app_name()

    async def _aemit(
        self,
        stream: AsyncEventStream,
        folder: AnswerFolder,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        make_chunk: Callable[[str], _Chunk],
        make_reasoning_chunk: Callable[[str], _Chunk] | None = None,
    ) -> AsyncGenerator[_Chunk, None]:
        """Async twin of :meth:`_emit`."""
        async with stream:
            async for event in stream:
                text = folder.add(event)
                if make_reasoning_chunk is not None and folder.reasoning_delta:
                    chunk = make_reasoning_chunk(folder.reasoning_delta)
                    if run_manager:
                        await run_manager.on_llm_new_token("", chunk=chunk)
                    yield chunk
                if text:
                    chunk = make_chunk(text)
                    if run_manager:
                        await run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                if folder.stop_requested:
                    folder.mark_stop_sent()
                    await stream.stop()
        await self._alearn_app_name()

    async def _alearn_app_name(self) -> None:
        """Async twin of :meth:`_learn_app_name`."""
        if self.model_name or self._app_name:
            return
        try:
            info = await self._get_async_client().get_info()
        except DifyError:
            self._app_name = DEFAULT_MODEL_NAME  # asked once, as in the sync twin
            return
        self._app_name = info.name or DEFAULT_MODEL_NAME
