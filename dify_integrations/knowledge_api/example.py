"""A runnable example: a LlamaIndex and a LangChain retriever served to Dify, fully offline.

Run it (from any directory, after ``pip install "dify-integrations[all]"``)::

    export DIFY_KNOWLEDGE_API_KEY=choose-a-long-random-key
    dify-integrations knowledge-api dify_integrations.knowledge_api.example:build --port 8000

It serves two knowledge ids:

* ``handbook``: a LlamaIndex ``VectorStoreIndex`` over the demo handbook (the *Stowaway*
  backup service), one node per paragraph, metadata ``title`` / ``category`` / ``file_name``;
* ``release-notes``: a LangChain ``InMemoryVectorStore`` of short release notes with
  metadata ``version`` / ``year`` / ``component``.

Both embed with :class:`WordHashEmbedding`, a tiny deterministic bag-of-words embedding
(each word hashed into one of 256 dimensions, L2-normalised): nothing is downloaded and
texts that share words are close, so the results make sense. Replace it with a real
embedding model for real use.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore
from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import TextNode

__all__ = [
    "RELEASE_NOTES",
    "LlamaWordHashEmbedding",
    "WordHashEmbedding",
    "build",
    "embed",
    "handbook_retriever",
    "release_notes_retriever",
]

DIMENSIONS = 256
_WORD = re.compile(r"[a-z0-9]+")


def embed(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    """A deterministic bag-of-words vector of ``text`` (unit length; zeros for no words)."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "big") % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector


class WordHashEmbedding(Embeddings):
    """LangChain ``Embeddings`` over :func:`embed`."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return embed(text)


class LlamaWordHashEmbedding(BaseEmbedding):
    """LlamaIndex ``BaseEmbedding`` over :func:`embed`."""

    model_name: str = "word-hash"

    def _get_query_embedding(self, query: str) -> list[float]:
        return embed(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return embed(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return embed(text)


RELEASE_NOTES: list[dict[str, Any]] = [
    {
        "text": "Stowaway 4.2 adds immutable snapshots: a retention lock keeps snapshots "
        "from being deleted or changed until the lock expires.",
        "metadata": {"title": "Release 4.2", "version": "4.2", "year": 2025, "component": "vault"},
    },
    {
        "text": "Stowaway 4.1 speeds up restores of large files with parallel chunk downloads "
        "and resumes interrupted restores.",
        "metadata": {
            "title": "Release 4.1",
            "version": "4.1",
            "year": 2025,
            "component": "restore",
        },
    },
    {
        "text": "Stowaway 4.0 introduces the Kubernetes agent, which backs up persistent "
        "volumes and namespaces on a schedule.",
        "metadata": {"title": "Release 4.0", "version": "4.0", "year": 2024, "component": "agent"},
    },
    {
        "text": "Stowaway 3.9 adds SAML single sign-on and an audit log export for the "
        "Business plan.",
        "metadata": {
            "title": "Release 3.9",
            "version": "3.9",
            "year": 2024,
            "component": "console",
        },
    },
    {
        "text": "Stowaway 3.8 fixes error STW-402 (backup set quota exceeded) being shown "
        "for backup sets under their quota.",
        "metadata": {"title": "Release 3.8", "version": "3.8", "year": 2023, "component": "agent"},
    },
]


def handbook_retriever(similarity_top_k: int = 4) -> Any:
    """A LlamaIndex retriever over the demo handbook, one node per paragraph."""
    from dify_integrations.demo._handbook import handbook_articles

    nodes = [
        TextNode(
            text=paragraph,
            metadata={"title": a.title, "category": a.category, "file_name": a.name},
        )
        for a in handbook_articles()
        for paragraph in a.text.split("\n\n")
        if paragraph.strip() and not paragraph.startswith("#")
    ]
    index = VectorStoreIndex(nodes, embed_model=LlamaWordHashEmbedding())
    return index.as_retriever(similarity_top_k=similarity_top_k)


def release_notes_retriever() -> Any:
    """A LangChain retriever over :data:`RELEASE_NOTES` in an ``InMemoryVectorStore``."""
    store = InMemoryVectorStore(WordHashEmbedding())
    store.add_documents(
        [Document(page_content=n["text"], metadata=dict(n["metadata"])) for n in RELEASE_NOTES]
    )
    return store.as_retriever()


def build() -> dict[str, Any]:
    """``knowledge_id -> retriever`` for ``dify-integrations knowledge-api``."""
    return {"handbook": handbook_retriever(), "release-notes": release_notes_retriever()}
