"""Dify apps and knowledge bases as first-class LangChain and LlamaIndex components.

The package root exports the framework-free core: `DifyClient`, `AsyncDifyClient`, the
`Timeout` settings and the error tree. Framework adapters live in
``dify_integrations.langchain`` and ``dify_integrations.llama_index``; the local
Dify-compatible server in ``dify_integrations.testing``.
"""

from .core.async_client import AsyncDifyClient
from .core.client import DifyClient
from .core.config import Limits, Timeout
from .core.errors import (
    AgentNotPublishedError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AppAccessDeniedError,
    AuthenticationError,
    BadRequestError,
    ConversationCompletedError,
    DifyError,
    HumanInputFormClosedError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    ResponseTooLargeError,
    StreamDecodeError,
    StreamError,
    UnsupportedMediaTypeError,
)
from .core.knowledge import IndexingError, IndexingTimeoutError
from .core.knowledge_client import AsyncDifyKnowledgeClient, DifyKnowledgeClient
from .core.version import VERSION as _VERSION

__version__: str = _VERSION
"""The installed package version."""

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentNotPublishedError",
    "AppAccessDeniedError",
    "AsyncDifyClient",
    "AsyncDifyKnowledgeClient",
    "AuthenticationError",
    "BadRequestError",
    "ConversationCompletedError",
    "DifyClient",
    "DifyError",
    "DifyKnowledgeClient",
    "HumanInputFormClosedError",
    "IndexingError",
    "IndexingTimeoutError",
    "InternalServerError",
    "Limits",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResponseTooLargeError",
    "StreamDecodeError",
    "StreamError",
    "Timeout",
    "UnsupportedMediaTypeError",
    "__version__",
]
