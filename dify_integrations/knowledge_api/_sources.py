"""What can be served: a retriever of either framework, a vector store / index, a callable.

:func:`as_source` turns each into a :class:`Source`. The framework modules (``_langchain``,
``_llama_index``) are imported only when an object of that framework is served, so this
package imports without LangChain or LlamaIndex installed. An object is recognised as a
framework object only when its framework is already imported (it could not exist otherwise).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ._conditions import MetadataCondition
from ._records import Record, coerce_record

T = TypeVar("T")
#: Runs a blocking function in the server's bounded thread pool.
RunSync = Callable[[Callable[[], T]], Awaitable[T]]


@dataclass(frozen=True)
class Query:
    """One parsed ``/retrieval`` request."""

    knowledge_id: str
    query: str
    top_k: int
    score_threshold: float
    condition: MetadataCondition | None = None


class Source(Protocol):
    """A retriever adapted to the service."""

    #: ``True`` when the results are already filtered by ``metadata_condition``.
    filters_itself: bool

    async def search(self, query: Query, fetch_k: int, run_sync: RunSync[Any]) -> list[Record]:
        """Up to about ``fetch_k`` records for ``query`` (scores not yet normalised)."""
        ...  # pragma: no cover


def instance_of(obj: Any, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module``."""
    mod = sys.modules.get(module)
    cls = getattr(mod, name, None) if mod is not None else None
    return isinstance(cls, type) and isinstance(obj, cls)


def overrides(obj: Any, base_module: str, base_name: str, method: str) -> bool:
    """Whether ``type(obj)`` overrides ``method`` of the base class ``base_module.base_name``."""
    base = getattr(sys.modules.get(base_module), base_name, None)
    mine = getattr(type(obj), method, None)
    return mine is not None and mine is not getattr(base, method, None)


class CallableSource:
    """A plain function: ``fn(query, **options) -> iterable of records`` (sync or async).

    ``options`` are those of ``knowledge_id``, ``top_k``, ``score_threshold`` and
    ``metadata_condition`` (a :class:`MetadataCondition` or ``None``) that the function
    declares (all of them when it takes ``**kwargs``). A function that declares
    ``metadata_condition`` filters for itself; for the others the service filters the
    results. Results may be :class:`Record` objects, Dify-shaped mappings, strings,
    ``(item, score)`` pairs, LangChain ``Document`` objects or LlamaIndex ``NodeWithScore``
    objects.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):  # builtins without a signature: query only
            params = {}  # type: ignore[assignment]
        wildcard = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        names = ("knowledge_id", "top_k", "score_threshold", "metadata_condition")
        self.options = tuple(n for n in names if wildcard or n in params)
        self.filters_itself = "metadata_condition" in self.options
        call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects too
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)

    async def search(self, query: Query, fetch_k: int, run_sync: RunSync[Any]) -> list[Record]:
        values = {
            "knowledge_id": query.knowledge_id,
            "top_k": fetch_k,
            "score_threshold": query.score_threshold,
            "metadata_condition": query.condition,
        }
        kwargs = {name: values[name] for name in self.options}
        if self.is_async:
            result = await self.fn(query.query, **kwargs)
        else:
            result = await run_sync(lambda: self.fn(query.query, **kwargs))
            if inspect.isawaitable(result):
                result = await result
        return coerce_results(result)


def coerce_results(result: Any) -> list[Record]:
    """Records from whatever a callable returned (framework objects included)."""
    if result is None:
        return []
    if isinstance(result, str | bytes) or not isinstance(result, Iterable):
        raise TypeError("a retriever must return an iterable of records")
    records = []
    for item in result:
        if instance_of(item, "langchain_core.documents", "Document") or (
            isinstance(item, tuple)
            and item
            and instance_of(item[0], "langchain_core.documents", "Document")
        ):
            from ._langchain import document_record

            records.append(
                document_record(item[0], item[1])
                if isinstance(item, tuple)
                else document_record(item, None)
            )
        elif instance_of(item, "llama_index.core.schema", "NodeWithScore"):
            from ._llama_index import node_record

            records.append(node_record(item))
        else:
            records.append(coerce_record(item))
    return records


def as_source(obj: Any) -> Source:
    """Adapt ``obj`` for serving.

    Accepted: a LangChain ``BaseRetriever`` or ``VectorStore``, a LlamaIndex
    ``BaseRetriever`` or index (``as_retriever()`` is called), or a callable (see
    :class:`CallableSource`).

    Raises:
        TypeError: Anything else.
    """
    if instance_of(obj, "langchain_core.retrievers", "BaseRetriever") or instance_of(
        obj, "langchain_core.vectorstores.base", "VectorStore"
    ):
        from ._langchain import LangChainSource

        return LangChainSource(obj)
    if instance_of(obj, "llama_index.core.base.base_retriever", "BaseRetriever") or instance_of(
        obj, "llama_index.core.indices.base", "BaseIndex"
    ):
        from ._llama_index import LlamaIndexSource

        return LlamaIndexSource(obj)
    if callable(obj):
        return CallableSource(obj)
    raise TypeError(
        f"cannot serve a {type(obj).__name__}: expected a LangChain or LlamaIndex retriever, "
        "a vector store or index, or a callable"
    )
