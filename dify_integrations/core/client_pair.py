"""The pair of clients an adapter uses: given by the caller, or created lazily, once.

Every adapter of both frameworks holds one `ClientPair`; the framework only names its
default end user (a subclass setting :attr:`ClientPair.default_user`).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, TypeVar

from pydantic import SecretStr

from .async_client import AsyncDifyClient
from .client import DifyClient
from .config import ENV_API_KEY, ClientConfig, TimeoutLike

__all__ = ["ClientPair"]

_C = TypeVar("_C", DifyClient, AsyncDifyClient)


class ClientPair:
    """A sync :class:`DifyClient` and an :class:`AsyncDifyClient` for one adapter instance.

    Clients passed in are used as they are (and never closed here); a missing one is built
    from the same settings on first use and reused afterwards, so every call of an adapter
    shares one connection pool.

    Args:
        api_key: The key, else taken from a given client, else from the environment.
        base_url: The API root, else from a given client, else from the environment.
        user: The end user, else from a given client, else ``DIFY_USER``, else
            :attr:`default_user`.
        timeout: Timeouts for clients built here.
        max_retries: Retries for clients built here.
        client: An existing sync client.
        async_client: An existing async client.
        env_key: The environment variable read first for the key.

    Raises:
        ValueError: If no key can be found.
    """

    default_user: ClassVar[str] = "dify"
    """End-user id sent when neither ``user=`` nor ``DIFY_USER`` nor a given client sets one."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        user: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        client: DifyClient | None = None,
        async_client: AsyncDifyClient | None = None,
        env_key: str = ENV_API_KEY,
    ) -> None:
        source: Any = client if client is not None else async_client
        if source is not None:
            api_key = api_key or source.api_key
            base_url = base_url or source.base_url
            user = user or source.user
        self.config = ClientConfig.resolve(
            api_key, base_url, user, timeout, max_retries, env_key=env_key
        )
        self.user: str = self.config.user or self.default_user
        self._client = client
        self._async_client = async_client
        self._owned: list[DifyClient | AsyncDifyClient] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientPair(base_url={self.config.base_url!r}, user={self.user!r})"

    def _build(self, cls: type[_C]) -> _C:
        """A client of ``cls`` from the resolved settings, owned (and closed) here."""
        client = cls(
            self.config.api_key,
            base_url=self.config.base_url,
            user=self.user,
            timeout=self.config.timeout,
            max_retries=self.config.max_retries,
        )
        self._owned.append(client)
        return client

    @property
    def sync(self) -> DifyClient:
        """The sync client (built on first use)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build(DifyClient)
        return self._client

    @property
    def async_(self) -> AsyncDifyClient:
        """The async client (built on first use; it keeps one session per event loop)."""
        if self._async_client is None:
            with self._lock:
                if self._async_client is None:
                    self._async_client = self._build(AsyncDifyClient)
        return self._async_client

    def close(self) -> None:
        """Close the sync client if it was built here (the next use builds a fresh one)."""
        for c in [c for c in self._owned if isinstance(c, DifyClient)]:
            c.close()
            self._owned.remove(c)
            with self._lock:
                if self._client is c:
                    self._client = None

    async def aclose(self) -> None:
        """Close every client built here."""
        self.close()
        for c in self._owned:
            if isinstance(c, AsyncDifyClient):
                await c.aclose()
