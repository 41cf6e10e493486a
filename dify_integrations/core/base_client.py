"""`BaseClient`: configuration, headers and request preparation shared by both clients.

No I/O here: `DifyClient` and `AsyncDifyClient` move the bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, NoReturn, Self, SupportsIndex, TypeVar

from pydantic import SecretStr, ValidationError

from . import operations as ops
from .bodies import decode_json
from .config import DEFAULT_MAX_RETRIES, ClientConfig, Limits, Timeout, TimeoutLike
from .errors import APIStatusError, error_from_response, excerpt, redact
from .retry import RetryPolicy
from .scrub import scrub_exception
from .version import USER_AGENT

__all__ = ["BaseClient", "logger"]

T = TypeVar("T")

logger: Final = logging.getLogger("dify_integrations")


class BaseClient:
    """Configuration, headers and request preparation common to both clients."""

    _config: ClientConfig

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        *,
        user: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        env_key: str = "DIFY_API_KEY",
        limits: Limits | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        extra = _default_headers(headers)
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
            **extra,
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

    # The app's ``system_parameters`` (upload size limits), from its first ``/parameters``.
    _system_parameters: dict[str, Any] | None = None
    _system_parameters_known: bool = False

    def _remember_parameters(self, parameters: Any) -> Any:
        """Keep the upload limits of a ``GET /parameters`` answer; return it unchanged."""
        found = getattr(parameters, "system_parameters", None)
        self._system_parameters = found if isinstance(found, dict) else None
        self._system_parameters_known = True
        return parameters

    def _parameters_unavailable(self, exc: BaseException) -> None:
        """Uploads go on without known limits (the server still enforces its own)."""
        self._system_parameters_known = True
        logger.debug("upload limits unknown: GET /parameters failed (%s)", type(exc).__name__)

    def _user(self, user: str | None) -> str | None:
        return user if user is not None else self._config.user

    def _prepare(self, op: ops.Operation[Any]) -> tuple[str, dict[str, str], bytes | None]:
        """URL, headers and JSON body bytes of ``op``; checks the key kind first."""
        secret = self._config.api_key.get_secret_value()
        ops.check_key_kind(op, secret)
        url = self._config.base_url + op.path
        body = ops.encode_json(op.json) if op.json is not None else None
        if body is None:
            base = self._headers
        else:
            base = self._stream_headers if op.stream else self._json_headers
        if op.headers:
            base = {**base, **op.headers}
        return url, {**base, "Authorization": "Bearer " + secret}, body

    def _log(self, op: ops.Operation[Any], status: int) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s -> %d", op.method, redact(op.path, self._secret), status)

    def _status_error(self, status: int, headers: Mapping[str, str], raw: bytes) -> APIStatusError:
        """The error for a non-2xx answer (a redirect is never followed: it says so)."""
        err = error_from_response(status, dict(headers), raw, secret=self._secret)
        if 300 <= status < 400:
            location = excerpt(redact(headers.get("location") or "", self._secret), 300)
            err.message = (
                f"unexpected redirect (HTTP {status}) to {location!r}; "
                "redirects are not followed so the API key is never sent to another host"
            )
        return err

    def _parse_body(self, op: ops.Operation[T], status: int, raw: bytes) -> T:
        """Decode and parse a 2xx body into ``op``'s model (``bytes`` for a binary answer).

        Neither error chains what the server sent unredacted: the JSON error is scrubbed,
        and a validation error (whose text quotes the server's values) is summarised by
        location and kind only and not chained at all.
        """
        if op.binary:
            return op.parse(raw)
        try:
            payload = None if op.empty else decode_json(raw)
        except ValueError as exc:
            scrub_exception(exc, self._secret)
            raise APIStatusError(
                f"{op.name}: the server answered {status} with a non-JSON body",
                status_code=status,
                code="invalid_response",
            ) from exc
        try:
            return op.parse(payload)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['type']}"
                for error in exc.errors()[:5]
            )
        raise APIStatusError(
            f"{op.name}: the server answered {status} with a body of an unexpected "
            f"shape ({excerpt(redact(problems, self._secret), 300)})",
            status_code=status,
            code="invalid_response",
        )


_RESERVED_HEADERS = frozenset({"authorization", "content-type", "content-length", "host"})


def _default_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Vet ``headers=`` (sent with every request): plain strings, none the client sets itself.

    Raises:
        TypeError: A name or value that is not a string.
        ValueError: A line break or control character (header injection), or a header the
            client sets itself (``Authorization``: pass ``api_key``; ``Content-Type``...).
    """
    out: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("headers= takes str names and str values")
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"headers= cannot set {name!r}: the client sets it itself")
        if any(ord(c) < 32 or ord(c) == 127 for c in name + value) or not name.strip():
            raise ValueError(f"headers=: {name!r} has an empty name or a control character")
        out[name] = value
    return out
