"""Fixtures of the local server's tests: one server per session, shared content."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dify_integrations.testing import App, Dataset, DifyTestServer

from ._support import HANDBOOK, Api


@pytest.fixture(scope="session")
def server() -> Iterator[DifyTestServer]:
    """One server for the whole session."""
    with DifyTestServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _clean_faults(server: DifyTestServer) -> Iterator[None]:
    yield
    server.clear_faults()


@pytest.fixture(scope="session")
def handbook(server: DifyTestServer) -> Dataset:
    """A knowledge base with three documents."""
    return server.create_dataset("Product Handbook", HANDBOOK, description="Policies")


@pytest.fixture(scope="session")
def chat_app(server: DifyTestServer, handbook: Dataset) -> App:
    """A chat app answering from the handbook."""
    return server.create_chat_app("Support", dataset_ids=[handbook.id], opening_statement="Hi!")


@pytest.fixture(scope="session")
def chat(server: DifyTestServer, chat_app: App) -> Api:
    """Requests with the chat app's key."""
    return Api(server, chat_app.api_key)


@pytest.fixture(scope="session")
def kb(server: DifyTestServer) -> Api:
    """Requests with the dataset key."""
    return Api(server, server.dataset_api_key)
