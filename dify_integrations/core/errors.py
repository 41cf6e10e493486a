"""Exception tree and the mapping from Dify error bodies and stream events to exceptions.

Every exception is picklable and its message never contains the API key: the clients pass
the key as ``secret`` so that an echoing server cannot leak it through an error.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentNotPublishedError",
    "AppAccessDeniedError",
    "AuthenticationError",
    "BadRequestError",
    "ConversationCompletedError",
    "DifyError",
    "HumanInputFormClosedError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResponseTooLargeError",
    "StreamDecodeError",
    "StreamError",
    "UnsupportedMediaTypeError",
    "error_from_event",
    "error_from_response",
    "excerpt",
    "raise_mapped",
    "redact",
    "status_error_class",
]

_EXCERPT = 200
_REDACTED = "[REDACTED]"


_FRAGMENT = 8  # the shortest piece of a key that is redacted on its own


@functools.lru_cache(maxsize=64)
def _fragment_pattern(secret: str) -> re.Pattern[str] | None:
    """Any ``_FRAGMENT``-character window of ``secret`` (``None`` for a short secret).

    The windows are taken after a console prefix (``app-``, ``dataset-``): the prefix is
    not secret, and text that merely names it is left alone.
    """
    prefix, dash, rest = secret.partition("-")
    body = rest if dash and prefix in ("app", "dataset") else secret
    if len(body) < 2 * _FRAGMENT:
        return None
    windows = {body[i : i + _FRAGMENT] for i in range(len(body) - _FRAGMENT + 1)}
    return re.compile("|".join(re.escape(w) for w in sorted(windows)))


def redact(text: str, secret: str | None) -> str:
    """Remove every occurrence of ``secret``, whole or in pieces, from ``text``.

    A piece of 8 characters or more of the key (a key cut by a server's or a proxy's
    truncation, or by an excerpt) is removed as well: each match is widened to the longest
    run of ``text`` that is still a piece of the key.

    Args:
        text: Any text that may be shown to a user or logged.
        secret: The API key (or ``None``).

    Returns:
        ``text`` with the key and its pieces replaced by ``[REDACTED]``.
    """
    if not secret or not text:
        return text
    if secret in text:
        text = text.replace(secret, _REDACTED)
    pattern = _fragment_pattern(secret)
    if pattern is None:
        return text
    match = pattern.search(text)
    if match is None:
        return text
    pieces: list[str] = []
    done = 0
    while match is not None:
        start, end = match.start(), match.end()
        while start > done and text[start - 1 : end] in secret:
            start -= 1
        while end < len(text) and text[start : end + 1] in secret:
            end += 1
        pieces += [text[done:start], _REDACTED]
        done = end
        match = pattern.search(text, end)
    pieces.append(text[done:])
    return "".join(pieces)


def _redact_value(value: Any, secret: str | None) -> Any:
    """``value`` with the key removed from every string in it (dict keys, nested lists)."""
    if not secret:
        return value
    if isinstance(value, str):
        return redact(value, secret)
    if isinstance(value, dict):
        return {_redact_value(k, secret): _redact_value(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_value(v, secret) for v in value]
    return value


def _rebuild(cls: type[DifyError], message: str, kwargs: dict[str, Any]) -> DifyError:
    return cls(message, **kwargs)


class DifyError(Exception):
    """Base class of every error raised by ``dify_integrations``.

    Attributes:
        message: Human-readable description.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def _state(self) -> dict[str, Any]:
        return {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self._state()))

    def __str__(self) -> str:
        return self.message


class APIStatusError(DifyError):
    """The server answered with a non-success HTTP status.

    Attributes:
        status_code: The HTTP status.
        code: Dify's error ``code`` (e.g. ``invalid_param``), or a fallback derived from the
            status when the body is not a Dify error body.
        body: The decoded JSON body, or the (truncated) text when it was not JSON.
        response_headers: Response headers (lower-case names).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        body: Any = None,
        response_headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code or _fallback_code(status_code)
        self.body = body
        self.response_headers: dict[str, str] = {
            k.lower(): v for k, v in (response_headers or {}).items()
        }

    def _state(self) -> dict[str, Any]:
        return {
            "status_code": self.status_code,
            "code": self.code,
            "body": self.body,
            "response_headers": self.response_headers,
        }

    def __str__(self) -> str:
        return f"HTTP {self.status_code} {self.code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
            f"message={self.message!r})"
        )


class BadRequestError(APIStatusError):
    """HTTP 400: invalid parameters, wrong app mode, provider problems..."""


class AuthenticationError(APIStatusError):
    """HTTP 401: missing, unknown or wrong-kind API key."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: app or knowledge API disabled, or a knowledge-base rate limit."""


class NotFoundError(APIStatusError):
    """HTTP 404: unknown conversation, run, dataset or route."""


class RequestTooLargeError(APIStatusError):
    """HTTP 413: the uploaded file is too large."""


class UnsupportedMediaTypeError(APIStatusError):
    """HTTP 415: wrong content type, or a file type the server refuses."""


class RateLimitError(APIStatusError):
    """HTTP 429: rate or quota limit; retried automatically, honouring ``Retry-After``."""


class InternalServerError(APIStatusError):
    """HTTP 5xx."""


class ConversationCompletedError(BadRequestError):
    """HTTP 400 ``conversation_completed``: the conversation has ended.

    Start a new one: send the message again without ``conversation_id``.
    """


class AgentNotPublishedError(BadRequestError):
    """HTTP 400 ``agent_not_published``: the New Agent app's agent has no published version."""


class AppAccessDeniedError(PermissionDeniedError):
    """HTTP 403 from Dify's admission layer: the app or its workspace cannot be used.

    ``code`` says why: ``app_not_found``, ``app_abnormal_status``, ``app_api_disabled``,
    ``workspace_not_found`` or ``workspace_archived``. Retrying does not help.
    """


class HumanInputFormClosedError(APIStatusError):
    """HTTP 412: the human-input form can no longer be submitted.

    ``code`` is ``human_input_form_submitted`` (forms are one-shot: someone answered first)
    or ``human_input_form_expired`` (its ``expiration_time`` passed).
    """


class APIConnectionError(DifyError):
    """The connection failed, or a stream ended before its final event.

    Attributes:
        request_sent: ``False`` when the failure happened before any byte of the request
            could reach the server (connection refused, DNS failure, connect timeout), so
            resending is always safe.
    """

    def __init__(self, message: str = "Connection error.", *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent

    def _state(self) -> dict[str, Any]:
        return {"request_sent": self.request_sent}


class APITimeoutError(APIConnectionError):
    """A connect, read or stream-idle timeout expired."""

    def __init__(self, message: str = "Request timed out.", *, request_sent: bool = True) -> None:
        super().__init__(message, request_sent=request_sent)


class StreamError(DifyError):
    """An ``error`` event arrived inside a stream (HTTP status was 200).

    Attributes:
        code: Dify's error code, e.g. ``completion_request_error``.
        status: The HTTP-like status Dify put in the event (e.g. 400 or 500).
    """

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code or "unknown"
        self.status = status

    def _state(self) -> dict[str, Any]:
        return {"code": self.code, "status": self.status}

    def __str__(self) -> str:
        return f"stream error {self.code} ({self.status}): {self.message}"

    def __repr__(self) -> str:
        return f"StreamError(code={self.code!r}, status={self.status!r}, message={self.message!r})"


class StreamDecodeError(DifyError):
    """A stream frame could not be decoded (not JSON, not an object, no ``event``).

    Attributes:
        frame: A short excerpt of the offending frame.
    """

    def __init__(self, message: str, *, frame: str = "") -> None:
        super().__init__(message)
        self.frame = frame

    def _state(self) -> dict[str, Any]:
        return {"frame": self.frame}


class ResponseTooLargeError(DifyError):
    """The server sent more than a bound of `Limits` allows (a stream line or frame, or a
    blocking body once decoded); nothing past the bound was kept in memory.

    Attributes:
        limit: The bound that was exceeded, in bytes.
    """

    def __init__(self, message: str, *, limit: int = 0) -> None:
        super().__init__(message)
        self.limit = limit

    def _state(self) -> dict[str, Any]:
        return {"limit": self.limit}


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: RequestTooLargeError,
    415: UnsupportedMediaTypeError,
    429: RateLimitError,
}

# Dify codes with their own exception (each a subclass of its status's class).
_CODE_CLASSES: dict[str, type[APIStatusError]] = {
    "conversation_completed": ConversationCompletedError,
    "agent_not_published": AgentNotPublishedError,
    "app_not_found": AppAccessDeniedError,
    "app_abnormal_status": AppAccessDeniedError,
    "app_api_disabled": AppAccessDeniedError,
    "workspace_not_found": AppAccessDeniedError,
    "workspace_archived": AppAccessDeniedError,
    "human_input_form_submitted": HumanInputFormClosedError,
    "human_input_form_expired": HumanInputFormClosedError,
}

_FALLBACK_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_entity_too_large",
    412: "precondition_failed",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def _fallback_code(status: int) -> str:
    return _FALLBACK_CODES.get(status, f"http_{status}")


def status_error_class(status: int, code: str | None = None) -> type[APIStatusError]:
    """The exception class for an HTTP status (and Dify's error ``code``).

    Args:
        status: HTTP status code.
        code: Dify's error code; a code with its own class (``conversation_completed``,
            the 403 admission codes, the 412 form codes...) picks that class when it fits
            the status.

    Returns:
        The matching `APIStatusError` subclass (5xx -> `InternalServerError`).
    """
    by_code = _CODE_CLASSES.get(code) if code else None
    if by_code is not None and by_code.__mro__[1] is status_error_class(status):
        return by_code
    cls = _STATUS_CLASSES.get(status)
    if cls is not None:
        return cls
    if status >= 500:
        return InternalServerError
    return APIStatusError


_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


def excerpt(text: str, limit: int = _EXCERPT) -> str:
    """A one-line, tag-free, bounded excerpt of a (possibly HTML) body.

    Args:
        text: Body text.
        limit: Maximum length.

    Returns:
        The excerpt, ending with ``…`` when truncated.
    """
    flat = _SPACES.sub(" ", _TAGS.sub(" ", text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_from_response(
    status: int,
    headers: Mapping[str, str] | None,
    body_bytes: bytes,
    *,
    secret: str | None = None,
) -> APIStatusError:
    """Map a non-success HTTP response to the matching exception.

    Dify bodies (``{"code", "message", "status"}``) keep their ``code`` and ``message``;
    other bodies (HTML from a gateway, plain text, empty) give a message with a short,
    tag-free excerpt of the body.

    Args:
        status: HTTP status code.
        headers: Response headers.
        body_bytes: Raw response body.
        secret: The API key, scrubbed from anything kept in the exception.

    Returns:
        An `APIStatusError` subclass instance (not raised).
    """
    raw_text = body_bytes.decode("utf-8", "replace")
    # Redact first: any cut (excerpt, 2000-char cap) made afterwards cannot split the key.
    text = redact(raw_text, secret)
    code: str | None = None
    body: Any
    try:
        body = json.loads(raw_text) if raw_text.strip() else None
    except (ValueError, RecursionError):  # RecursionError: a JSON nesting bomb
        body = None
    if body is not None:
        body = _redact_value(body, secret)
    if isinstance(body, dict) and ("code" in body or "message" in body):
        code = str(body["code"]) if body.get("code") is not None else None
        message = str(body.get("message") or "") or f"HTTP {status}"
    elif body is not None:
        message = f"HTTP {status} with an unexpected JSON body: {excerpt(text)}"
    else:
        snippet = excerpt(text)
        body = text[:2000] if text else None
        message = f"HTTP {status} (non-JSON body): {snippet}" if snippet else f"HTTP {status}"
    cls = status_error_class(status, code)
    return cls(
        redact(message, secret),
        status_code=status,
        code=code,
        body=body,
        response_headers={k: redact(v, secret) for k, v in (headers or {}).items()},
    )


def error_from_event(data: Mapping[str, Any], *, secret: str | None = None) -> StreamError:
    """Build the `StreamError` for an in-stream ``error`` event.

    Args:
        data: The decoded event object.
        secret: The API key, scrubbed from the message and code.

    Returns:
        The exception (not raised).
    """
    status = data.get("status")
    return StreamError(
        redact(str(data.get("message") or "stream error"), secret),
        code=redact(str(data["code"]), secret) if data.get("code") is not None else None,
        status=status if isinstance(status, int) else None,
    )


def raise_mapped(
    exc: BaseException, mapped: DifyError | None, *, secret: str | None = None
) -> NoReturn:
    """Raise the transport error ``exc`` mapped to a Dify error (``exc`` itself if unmapped).

    Call it from an ``except`` block: the mapped error is chained to ``exc``, which is
    first scrubbed of credentials and of ``secret`` (see `scrub.scrub_exception`).
    """
    from .scrub import scrub_exception  # scrub uses this module's redact

    scrub_exception(exc, secret)
    if mapped is None:
        raise exc
    raise mapped from exc
