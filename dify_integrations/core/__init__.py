"""The framework-free Dify core: configuration, requests, SSE, events, errors, clients."""

from .accumulate import StreamResult
from .async_client import AsyncDifyClient
from .client import DifyClient
from .config import ClientConfig, Limits, Timeout
from .errors import (
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
    error_from_response,
)
from .events import StreamEvent, parse_event
from .knowledge import IndexingError, IndexingTimeoutError
from .knowledge_client import AsyncDifyKnowledgeClient, DifyKnowledgeClient
from .sse import SSEDecoder, SSEFrame
from .stream import AsyncEventStream, EventStream

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentNotPublishedError",
    "AppAccessDeniedError",
    "AsyncDifyClient",
    "AsyncDifyKnowledgeClient",
    "AsyncEventStream",
    "AuthenticationError",
    "BadRequestError",
    "ClientConfig",
    "ConversationCompletedError",
    "DifyClient",
    "DifyError",
    "DifyKnowledgeClient",
    "EventStream",
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
    "SSEDecoder",
    "SSEFrame",
    "StreamDecodeError",
    "StreamError",
    "StreamEvent",
    "StreamResult",
    "Timeout",
    "UnsupportedMediaTypeError",
    "error_from_response",
    "parse_event",
]
