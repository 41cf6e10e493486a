"""Serve LangChain and LlamaIndex retrievers to Dify as an External Knowledge API.

Dify's *External Knowledge API* lets its chat apps, agents and workflows retrieve from your
own service: Dify sends ``POST {endpoint}/retrieval`` with ``Authorization: Bearer {key}``
and ``{"knowledge_id", "query", "retrieval_setting": {"top_k", "score_threshold"},
"metadata_condition"}``, and expects ``{"records": [{"content", "score", "title",
"metadata"}]}``. :func:`create_app` builds that service (an aiohttp application) from a
mapping ``knowledge_id -> retriever``; ``dify-integrations knowledge-api module:attribute``
runs it.

Example:
    ```python
    from aiohttp import web
    from dify_integrations.knowledge_api import create_app

    app = create_app({"handbook": vector_store.as_retriever()}, api_key="my-secret")
    web.run_app(app, port=8000)
    ```

Neither LangChain nor LlamaIndex is needed to import this package; each is imported only
when one of its objects is served.
"""

from __future__ import annotations

from ._app import ServiceSettings, create_app
from ._conditions import OPERATORS, Condition, ConditionError, MetadataCondition
from ._records import Record, normalize_score, saturating
from ._serve import KnowledgeAPIServer, load_retrievers, serve
from ._sources import Query

__all__ = [
    "OPERATORS",
    "Condition",
    "ConditionError",
    "KnowledgeAPIServer",
    "MetadataCondition",
    "Query",
    "Record",
    "ServiceSettings",
    "create_app",
    "load_retrievers",
    "normalize_score",
    "saturating",
    "serve",
]
