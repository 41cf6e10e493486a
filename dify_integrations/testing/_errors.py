"""Dify-shaped error bodies and the exception the route handlers raise to produce them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

NOT_FOUND_MESSAGE = (
    "The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again."
)
METHOD_NOT_ALLOWED_MESSAGE = "The method is not allowed for the requested URL."
INTERNAL_ERROR_MESSAGE = (
    "The server encountered an internal error and was unable to complete your request. Either "
    "the server is overloaded or there is an error in the application."
)
MODE_MISMATCH_MESSAGE = "Please check if your app mode matches the right API route."
APP_UNAVAILABLE_MESSAGE = "App unavailable, please check your app configurations."
CONVERSATION_NOT_EXISTS = "Conversation Not Exists."

#: Default ``(code, message)`` per HTTP status, used for injected faults and generic errors.
DEFAULT_BODIES: dict[int, tuple[str, str]] = {
    400: (
        "bad_request",
        "The browser (or proxy) sent a request that this server could not understand.",
    ),
    401: ("unauthorized", "Access token is invalid"),
    403: ("forbidden", "You don't have the permission to access the requested resource."),
    404: ("not_found", NOT_FOUND_MESSAGE),
    405: ("method_not_allowed", METHOD_NOT_ALLOWED_MESSAGE),
    408: (
        "request_timeout",
        "The server closed the network connection because the request took too long.",
    ),
    409: ("conflict", "A conflict happened while processing the request."),
    413: ("file_too_large", "File size exceeded. {message}"),
    415: (
        "unsupported_media_type",
        "The server does not support the media type transmitted in the request.",
    ),
    429: ("too_many_requests", "Too many requests. Please try again later."),
    500: ("internal_server_error", INTERNAL_ERROR_MESSAGE),
    502: ("bad_gateway", "The proxy server received an invalid response from an upstream server."),
    503: (
        "service_unavailable",
        "The server is temporarily unable to service your request. Please try again later.",
    ),
    504: ("gateway_timeout", "The connection to an upstream server timed out."),
}


def error_body(status: int, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    """Build ``{"code", "message", "status"}`` in Dify's key order, with defaults per status."""
    default_code, default_message = DEFAULT_BODIES.get(status, ("unknown", "Unknown error"))
    return {
        "code": code if code is not None else default_code,
        "message": message if message is not None else default_message,
        "status": status,
    }


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response (compact, ASCII-escaped like Flask's ``json.dumps``)."""
    from ._sse import dumps_blocking

    return web.Response(
        body=dumps_blocking(body),
        status=status,
        content_type="application/json",
        headers=headers,
    )


class DifyHTTPError(Exception):
    """Raised by handlers to answer with a Dify error body.

    Args:
        status: HTTP status code.
        code: Dify error ``code``.
        message: Human readable ``message``.
        headers: Extra response headers.
        params: Optional ``params`` field (older reqparse builds).
    """

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        params: str | None = None,
    ) -> None:
        self.status = status
        self.body = error_body(status, code, message)
        if params is not None:
            self.body = {
                "code": self.body["code"],
                "message": self.body["message"],
                "params": params,
                "status": status,
            }
        self.headers = headers or {}
        super().__init__(self.body["message"])

    def response(self) -> web.Response:
        """The aiohttp response for this error."""
        return json_response(self.body, self.status, self.headers)


def invalid_param(message: str) -> DifyHTTPError:
    """400 ``invalid_param`` (a ``ValueError`` escaping a controller)."""
    return DifyHTTPError(400, "invalid_param", message)


def not_found(message: str = NOT_FOUND_MESSAGE) -> DifyHTTPError:
    """404 ``not_found``."""
    return DifyHTTPError(404, "not_found", message)


def unauthorized(message: str) -> DifyHTTPError:
    """401 ``unauthorized`` with the ``WWW-Authenticate`` header of newer builds."""
    return DifyHTTPError(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="api"'}
    )
