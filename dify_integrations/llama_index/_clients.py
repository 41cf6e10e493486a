"""The LlamaIndex adapters' client pair: the core one, with LlamaIndex's default end user."""

from __future__ import annotations

from typing import ClassVar

from dify_integrations.core.client_pair import ClientPair as _CoreClientPair

__all__ = ["DEFAULT_USER", "ClientPair"]

DEFAULT_USER = "llama-index"
"""End-user id sent when neither ``user=`` nor ``DIFY_USER`` nor a given client sets one."""


class ClientPair(_CoreClientPair):
    """:class:`~dify_integrations.core.client_pair.ClientPair` with ``user="llama-index"``."""

    default_user: ClassVar[str] = DEFAULT_USER
