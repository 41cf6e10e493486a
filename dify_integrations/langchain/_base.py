"""Connection settings and lazily created clients shared by the LangChain adapters."""

from __future__ import annotations

import os
import threading
from typing import Any, ClassVar

from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from dify_integrations.core.async_client import AsyncDifyClient
from dify_integrations.core.client import DifyClient
from dify_integrations.core.config import DEFAULT_BASE_URL, ENV_USER, Timeout
from dify_integrations.langchain._convert import DEFAULT_USER

__all__ = ["DifyConnection", "DifyDatasetConnection"]


class DifyConnection(BaseModel):
    """Fields and client handling common to the adapters that talk to one Dify app.

    Clients are created once per instance, on first use, and reused for every call so
    connections are pooled; pass ``client=`` / ``async_client=`` to share pools between
    several adapters. A missing API key is reported (``ValueError``) on first use, before
    any request, so an adapter can be built before the environment is set.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

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

    _sync_client: DifyClient | None = PrivateAttr(default=None)
    _async_client_owned: AsyncDifyClient | None = PrivateAttr(default=None)
    _client_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _resolve_user(self, user: str | None = None) -> str:
        if user:
            return user
        if self.user:
            return self.user
        env_user = os.environ.get(ENV_USER)
        if env_user:
            return env_user
        for existing in (self.client, self.async_client):
            if existing is not None and existing.user:
                return str(existing.user)
        return DEFAULT_USER

    def _client_kwargs(self) -> dict[str, Any]:
        key = self.api_key.get_secret_value() if self.api_key is not None else None
        return {
            "api_key": key,
            "base_url": self.base_url,
            "user": self._resolve_user(),
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "env_key": self._env_key,
        }

    def _get_client(self) -> DifyClient:
        """The sync client: the one given, else one created on first use and kept."""
        if self.client is not None:
            return self.client
        if self._sync_client is None:
            with self._client_lock:
                if self._sync_client is None:
                    self._sync_client = DifyClient(**self._client_kwargs())
        return self._sync_client

    def _get_async_client(self) -> AsyncDifyClient:
        """The async client: the one given, else one created on first use and kept."""
        if self.async_client is not None:
            return self.async_client
        if self._async_client_owned is None:
            with self._client_lock:
                if self._async_client_owned is None:
                    self._async_client_owned = AsyncDifyClient(**self._client_kwargs())
        return self._async_client_owned


class DifyDatasetConnection(DifyConnection):
    """Like :class:`DifyConnection`, for knowledge-base keys (``dataset-…``)."""

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(["DIFY_DATASET_API_KEY", "DIFY_API_KEY"], default=None)
    )
    """The knowledge API key (``dataset-…``). Else ``DIFY_DATASET_API_KEY``, else ``DIFY_API_KEY``."""

    _env_key: ClassVar[str] = "DIFY_DATASET_API_KEY"
