"""Adapters close the clients they created, and leave shared clients alone."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from dify_integrations import AsyncDifyClient, DifyClient
from dify_integrations.langchain import ChatDify, DifyRetriever
from dify_integrations.testing import DifyTestServer


def test_close_releases_the_created_client_and_a_new_call_reopens(
    apps: Any, dify_server: DifyTestServer
) -> None:
    model = ChatDify(api_key=apps.chat_key, base_url=dify_server.base_url, user="lc-close")
    assert model.invoke("return window?").content
    first = model._get_client()
    model.close()
    # the pool of the closed client is gone; the next call builds a fresh client
    assert model.invoke("return window?").content
    assert model._get_client() is not first
    model.close()


async def test_aclose_closes_the_async_session(apps: Any, dify_server: DifyTestServer) -> None:
    retriever = DifyRetriever(
        api_key=apps.dataset_key, base_url=dify_server.base_url, dataset_id=apps.handbook_id
    )
    assert await retriever.ainvoke("express shipping")
    session = retriever._get_async_client()._session()
    await retriever.aclose()
    assert session.closed


def test_shared_clients_are_not_closed(apps: Any, dify_server: DifyTestServer) -> None:
    shared = DifyClient(apps.chat_key, base_url=dify_server.base_url, user="lc-shared")
    shared_async = AsyncDifyClient(apps.chat_key, base_url=dify_server.base_url)
    model = ChatDify(client=shared, async_client=shared_async)
    assert model.invoke("return window?").content
    model.close()
    assert shared.get_info().name  # still usable
    shared.close()


def test_base_url_is_vetted_at_construction() -> None:
    with pytest.raises(ValueError, match="http"):
        ChatDify(api_key="app-x", base_url="ftp://example.com/v1")
    with pytest.warns(UserWarning, match="plain http"):
        DifyRetriever(api_key="dataset-x", base_url="http://dify.example.com/v1", dataset_id="d")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ChatDify(api_key="app-x", base_url="http://127.0.0.1:5001/v1")
