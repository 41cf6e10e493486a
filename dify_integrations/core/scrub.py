"""Remove the API key from exceptions raised by the transports before they are chained.

A mapped `DifyError` is raised ``from`` the transport's exception, so that exception stays
reachable as ``__cause__``/``__context__`` of what the caller sees, and it is printed in
tracebacks and kept by error trackers. Transport exceptions can carry the key:

- aiohttp's `ClientResponseError` keeps ``request_info`` with the request headers,
  ``Authorization: Bearer <key>`` included, and prints them in its ``repr``;
- requests' exceptions keep the `PreparedRequest` (``.request``) and response objects (the
  server's headers, and the request again);
- a server echoing the key puts it in parser messages, reason phrases, response headers and
  `json.JSONDecodeError.doc` (the whole body).

`scrub_exception` rewrites such an exception and everything chained to it in place: the
credential headers are replaced by ``[REDACTED]``, response objects by their status, and
every string (and bytes) attribute or argument has the key (or any 8-character piece of
it) replaced. It is applied to every exception a client lets escape or chains. (Frame
locals of a traceback are not rewritten.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Final

from .errors import redact

__all__ = ["CREDENTIAL_HEADERS", "scrub_exception"]

CREDENTIAL_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie"})
_REDACTED: Final = "[REDACTED]"
_MAX_OBJECTS: Final = 1000


_RESPONSE_TYPES: Final = frozenset(
    {
        ("requests.models", "Response"),
        ("urllib3.response", "HTTPResponse"),
        ("urllib3.response", "BaseHTTPResponse"),
        ("http.client", "HTTPResponse"),
        ("aiohttp.client_reqrep", "ClientResponse"),
    }
)


def _is_response(value: Any) -> bool:
    return any((cls.__module__, cls.__name__) in _RESPONSE_TYPES for cls in type(value).__mro__)


class _Scrubber:
    def __init__(self, secret: str | None) -> None:
        self.secret = secret
        self.secret_bytes = secret.encode("utf-8", "replace") if secret else None
        self.pending: list[BaseException] = []
        self.seen: set[int] = set()

    def text(self, value: str) -> str:
        return redact(value, self.secret)

    def headers(self, value: Any) -> Any:
        """A copy of a header mapping with credentials and the key removed."""
        items = [
            (
                key,
                _REDACTED
                if isinstance(key, str) and key.lower() in CREDENTIAL_HEADERS
                else self.clean(val),
            )
            for key, val in value.items()
        ]
        with contextlib.suppress(Exception):
            from multidict import CIMultiDict, CIMultiDictProxy

            if isinstance(value, CIMultiDictProxy | CIMultiDict):
                copy = CIMultiDict(items)
                return CIMultiDictProxy(copy) if isinstance(value, CIMultiDictProxy) else copy
        with contextlib.suppress(Exception):
            rebuilt = type(value)(items)
            return rebuilt
        return dict(items)

    def request_object(self, value: Any) -> None:
        """Scrub a requests `PreparedRequest` (or a `Response`'s) headers in place."""
        headers = getattr(value, "headers", None)
        if isinstance(headers, Mapping):
            with contextlib.suppress(Exception):
                value.headers = self.headers(headers)
        inner = getattr(value, "request", None)
        if inner is not None and inner is not value and id(inner) not in self.seen:
            self.seen.add(id(inner))
            self.request_object(inner)

    def clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            if self.secret_bytes and self.secret_bytes in value:
                return value.replace(self.secret_bytes, _REDACTED.encode())
            return value
        if isinstance(value, BaseException):
            self.pending.append(value)
            return value
        if isinstance(value, tuple) and hasattr(value, "_fields") and hasattr(value, "headers"):
            # aiohttp's RequestInfo (a named tuple: url, method, headers, real_url)
            with contextlib.suppress(Exception):
                return value._replace(headers=self.headers(value.headers))  # type: ignore[attr-defined]
            return value
        if isinstance(value, tuple):
            cleaned = tuple(self.clean(v) for v in value)
            return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
        if isinstance(value, Mapping) and any(
            isinstance(k, str) and k.lower() in CREDENTIAL_HEADERS for k in value
        ):
            return self.headers(value)
        if _is_response(value):
            # A response object keeps the server's headers and body (and, for requests,
            # the request with its headers): only its status is kept.
            status = getattr(value, "status_code", None) or getattr(value, "status", None)
            return f"<{type(value).__name__} {status}>"
        if hasattr(value, "headers") and hasattr(value, "prepare_headers"):
            self.request_object(value)  # requests' PreparedRequest
        return value

    def exception(self, exc: BaseException) -> None:
        with contextlib.suppress(Exception):
            exc.args = self.clean(exc.args)
        attributes = getattr(exc, "__dict__", None)
        if isinstance(attributes, dict):
            for name, value in list(attributes.items()):
                cleaned = self.clean(value)
                if cleaned is not value:
                    with contextlib.suppress(Exception):
                        setattr(exc, name, cleaned)
        for linked in (exc.__cause__, exc.__context__):
            if linked is not None:
                self.pending.append(linked)
        with contextlib.suppress(Exception):
            notes = getattr(exc, "__notes__", None)
            if isinstance(notes, list):
                exc.__notes__ = [self.text(n) if isinstance(n, str) else n for n in notes]

    def run(self, exc: BaseException) -> None:
        self.pending.append(exc)
        while self.pending and len(self.seen) < _MAX_OBJECTS:
            current = self.pending.pop()
            if id(current) in self.seen:
                continue
            self.seen.add(id(current))
            self.exception(current)


def scrub_exception(exc: BaseException, secret: str | None) -> BaseException:
    """Remove credentials and ``secret`` from ``exc`` and every exception chained to it.

    Args:
        exc: An exception from a transport (or anything a client is about to re-raise).
        secret: The API key.

    Returns:
        ``exc`` itself, rewritten in place.
    """
    _Scrubber(secret).run(exc)
    return exc
