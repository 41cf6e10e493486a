"""langchain-tests' `VectorStoreIntegrationTests` against `DifyVectorStore`, over HTTP.

Every test runs against a fresh knowledge base on a `DifyTestServer`. The tests that need
what a server-side-embedding store cannot give (see the skip reasons) are skipped by name,
not silently: ``NOT_APPLICABLE`` lists each with its reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests

from dify_integrations.langchain import DifyVectorStore
from dify_integrations.testing import DifyTestServer

#: Standard tests that do not apply to a store whose ids and embeddings Dify assigns.
NOT_APPLICABLE: dict[str, str] = {}


@pytest.fixture(scope="module")
def server() -> Iterator[DifyTestServer]:
    with DifyTestServer() as srv:
        srv.indexing_delay = 0.0
        yield srv


class TestDifyVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, server: DifyTestServer) -> Iterator[VectorStore]:  # type: ignore[override]
        store = DifyVectorStore.from_texts(
            [],
            dataset_name=f"standard-{uuid.uuid4().hex[:8]}",
            api_key=server.dataset_api_key,
            base_url=server.base_url,
            progress=False,
        )
        try:
            yield store
        finally:
            store.client.delete_dataset(store.dataset_id)
            store.client.close()

    @pytest.fixture(autouse=True)
    def _not_applicable(self, request: pytest.FixtureRequest) -> None:
        reason = NOT_APPLICABLE.get(request.node.originalname)
        if reason:
            pytest.skip(f"not applicable to Dify: {reason}")
