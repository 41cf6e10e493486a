"""State and helpers shared by `DifyClient` and `AsyncDifyClient` (no I/O here)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn, Self, SupportsIndex

from pydantic import SecretStr

from . import operations as ops
from .accumulate import StreamResult
from .config import DEFAULT_MAX_RETRIES, ClientConfig, Limits, Timeout, TimeoutLike
from .decode import loads_json
from .errors import APIStatusError, DifyError, error_from_response, redact
from .models import DifyModel
from .retry import RetryPolicy

__all__ = [
    "USER_AGENT",
    "VERSION",
    "BaseClient",
    "blocking_body_as_stream",
    "decode_json",
    "is_json_response",
    "logger",
    "raise_mapped",
    "stream_response",
]

logger: Final = logging.getLogger("dify_integrations")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("dify-integrations")
    except Exception:  # pragma: no cover - running from a source tree
        return "0.0.0"


VERSION: Final = _version()
"""The installed package version (``0.0.0`` from a bare source tree); read once."""

USER_AGENT: Final = f"dify-integrations/{VERSION}"


def decode_json(raw: bytes) -> Any:
    """Decode a JSON body; ``None`` for an empty one."""
    if not raw or not raw.strip():
        return None
    return loads_json(raw)


def raise_mapped(exc: BaseException, mapped: DifyError | None) -> NoReturn:
    """Raise the transport error ``exc`` mapped to a Dify error (``exc`` itself if unmapped).

    Call it from an ``except`` block: the mapped error is chained to ``exc``.
    """
    if mapped is None:
        raise exc
    raise mapped from exc


# How a folded stream becomes the answer of the matching blocking call, by stop route.
_STREAM_RESPONSES: Final[dict[str, Callable[[StreamResult], DifyModel]]] = {
    "chat": StreamResult.to_chat_response,
    "completion": StreamResult.to_completion_response,
    "workflow": StreamResult.to_workflow_response,
}


def stream_response(op: ops.Operation, result: StreamResult) -> DifyModel:
    """The answer a blocking call would give, from the fold of the streamed ``op``.

    Args:
        op: A streaming send operation (chat, completion or workflow).
        result: The fold of its whole stream.

    Returns:
        A `ChatMessageResponse`, `CompletionMessageResponse` or `WorkflowRunResponse`.
    """
    if op.stop_kind is None:
        raise ValueError(f"{op.name} does not stream an answer")
    return _STREAM_RESPONSES[op.stop_kind](result)


def is_json_response(content_type: str | None) -> bool:
    """Whether a 2xx answer to a *streaming* request came back as one JSON body instead.

    Dify always streams when asked, but a gateway in front of it (or an older or
    reimplemented server) may answer a streaming request in blocking form.
    """
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


def blocking_body_as_stream(raw: bytes) -> bytes:
    """Re-frame a blocking JSON answer as the SSE frames the stream would have carried.

    A chat/completion body becomes ``message`` + ``message_end``; a workflow body becomes
    ``workflow_finished``; anything else is passed through as one frame, so the stream's
    own checks (no ``event`` name, no final event) report it. The stream and its reducer
    then treat it like any other stream: nothing is lost and nothing is invented.
    """
    try:
        body = loads_json(raw) if raw.strip() else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = raw.decode("utf-8", "replace").replace("\r", " ").replace("\n", " ")
        return f"data: {text}\n\n".encode()
    envelope = {k: body[k] for k in ("task_id", "conversation_id", "created_at") if k in body}
    events: list[dict[str, Any]]
    if isinstance(body.get("data"), dict) and "answer" not in body:
        events = [
            {
                "event": "workflow_finished",
                **envelope,
                "workflow_run_id": body.get("workflow_run_id") or body["data"].get("id"),
                "data": body["data"],
            }
        ]
    elif isinstance(body.get("answer"), str):
        message_id = body.get("message_id") or body.get("id")
        ids = {**envelope, "id": message_id, "message_id": message_id}
        events = [
            {"event": "message", **ids, "answer": body["answer"]},
            {"event": "message_end", **ids, "metadata": body.get("metadata") or {}},
        ]
    else:
        events = [body]
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)


class BaseClient:
    """Configuration, headers and request preparation common to both clients."""

    _config: ClientConfig

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        *,
        base_url: str | None = None,
        user: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        env_key: str = "DIFY_API_KEY",
        limits: Limits | None = None,
    ) -> None:
        self._config = ClientConfig.resolve(
            api_key, base_url, user, timeout, max_retries, env_key=env_key, limits=limits
        )
        self._retry = RetryPolicy(self._config.max_retries)
        # No key in here: it stays in the config's SecretStr and the Authorization header
        # is added where each request is built (`_prepare`).
        self._headers: dict[str, str] = {
            "User-Agent": USER_AGENT,
            # Blocking bodies may be compressed (they are inflated with a size bound).
            "Accept-Encoding": "gzip, deflate",
        }
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        # Streams ask for no compression (a compressing proxy buffers events); one that
        # arrives compressed anyway is still decoded.
        self._stream_headers = {**self._json_headers, "Accept-Encoding": "identity"}

    # public, read-only views -------------------------------------------------------

    @property
    def api_key(self) -> SecretStr:
        """The API key (masked in ``repr``/``str``)."""
        return self._config.api_key

    @property
    def limits(self) -> Limits:
        """The size bounds on responses."""
        return self._config.limits

    @property
    def _secret(self) -> str:
        """The key in clear text, read from its `SecretStr` where it is needed."""
        return self._config.api_key.get_secret_value()

    @property
    def base_url(self) -> str:
        """The Service API root, without a trailing slash."""
        return self._config.base_url

    @property
    def user(self) -> str | None:
        """The default end user, used when a call passes no ``user``."""
        return self._config.user

    @property
    def timeout(self) -> Timeout:
        """The resolved timeouts."""
        return self._config.timeout

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._config.max_retries

    @property
    def config(self) -> ClientConfig:
        """The whole resolved configuration."""
        return self._config

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, user={self.user!r}, "
            f"api_key=SecretStr('**********'), max_retries={self.max_retries})"
        )

    # copies and pickles --------------------------------------------------------------

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        """Refuse pickling: the state is a connection pool and the key in clear text."""
        raise TypeError(
            f"{type(self).__name__} cannot be pickled: it holds a connection pool and an API "
            "key; pickle its settings instead"
        )

    def __copy__(self) -> Self:
        """A client is a shared resource: a copy is the same client."""
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        """A client is a shared resource: a deep copy (e.g. of a model holding it) shares it."""
        return self

    # helpers ---------------------------------------------------------------------

    def _user(self, user: str | None) -> str | None:
        return user if user is not None else self._config.user

    def _prepare(self, op: ops.Operation) -> tuple[str, dict[str, str], bytes | None]:
        """URL, headers and JSON body bytes of ``op``; checks the key kind first."""
        secret = self._config.api_key.get_secret_value()
        ops.check_key_kind(op, secret)
        url = self._config.base_url + op.path
        if op.json is not None:
            base = self._stream_headers if op.stream else self._json_headers
            return url, {**base, "Authorization": "Bearer " + secret}, ops.encode_json(op.json)
        return url, {**self._headers, "Authorization": "Bearer " + secret}, None

    def _log(self, op: ops.Operation, status: int) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s -> %d", op.method, redact(op.path, self._secret), status)

    def _status_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> APIStatusError:
        """The error for a non-2xx answer (a redirect is never followed: it says so)."""
        err = error_from_response(status, dict(headers), raw, secret=self._secret)
        if 300 <= status < 400:
            err.message = (
                f"unexpected redirect (HTTP {status}) to {headers.get('location')!r}; "
                "redirects are not followed so the API key is never sent to another host"
            )
        return err

    @staticmethod
    def _parse_body(op: ops.Operation, status: int, raw: bytes) -> Any:
        """Decode and parse a 2xx body into ``op``'s model."""
        try:
            payload = None if op.empty else decode_json(raw)
        except ValueError as exc:
            raise APIStatusError(
                f"{op.name}: the server answered {status} with a non-JSON body",
                status_code=status,
                code="invalid_response",
            ) from exc
        return op.parse(payload)
