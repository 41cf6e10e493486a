"""Dify apps and knowledge bases as first-class LangChain and LlamaIndex components.

The package root exports the framework-free core: `DifyClient`, `AsyncDifyClient`, the
`Timeout` settings and the error tree. Framework adapters live in
``dify_integrations.langchain`` and ``dify_integrations.llama_index``; the local
Dify-compatible server in ``dify_integrations.testing``.
"""

from .core._base import VERSION as _VERSION
from .core.async_client import AsyncDifyClient
from .core.client import DifyClient
from .core.config import Limits, Timeout
from .core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DifyError,
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

__version__: str = _VERSION
"""The installed package version."""

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncDifyClient",
    "AuthenticationError",
    "BadRequestError",
    "DifyClient",
    "DifyError",
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
