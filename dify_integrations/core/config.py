"""Client configuration: API key, base URL, default user, timeouts and retries.

Everything here is resolved once, when a client is built, from explicit arguments first and
the ``DIFY_*`` environment variables second.
"""

from __future__ import annotations

import ipaddress
import math
import os
import warnings
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from pydantic import SecretStr

from .validate import check_api_key

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_RETRIES",
    "ClientConfig",
    "Limits",
    "Timeout",
    "TimeoutLike",
    "check_base_url",
]

DEFAULT_BASE_URL: Final = "https://api.dify.ai/v1"
DEFAULT_MAX_RETRIES: Final = 2

ENV_API_KEY: Final = "DIFY_API_KEY"
ENV_DATASET_API_KEY: Final = "DIFY_DATASET_API_KEY"
ENV_BASE_URL: Final = "DIFY_BASE_URL"
ENV_USER: Final = "DIFY_USER"


@dataclass(frozen=True, slots=True)
class Timeout:
    """Timeouts, in seconds, used by the clients.

    Attributes:
        connect: Time allowed to open the TCP (and TLS) connection.
        read: Blocking responses: time to the first byte and between two reads.
        stream_idle: Streams: longest silence between two frames. Keep-alive pings count as
            activity, so Dify's pings (about every 10 s) keep a healthy stream open.
        stream_total_idle: Streams: longest time without a real (non-ping) event. Pings do not
            reset this bound, so a server that only pings forever is eventually abandoned.
        stop: The whole budget of the stop call made when a stream is left unfinished
            (closed early, cancelled): one attempt, never retried, and a cancelled task
            never waits for it.

    Both stream bounds are checked whenever bytes arrive (comments, blank lines and parts
    of a line too), not only when a frame completes.
    """

    connect: float = 5.0
    read: float = 300.0
    stream_idle: float = 60.0
    stream_total_idle: float = 600.0
    stop: float = 5.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "stream_idle", "stream_total_idle", "stop"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValueError(
                    f"Timeout.{name} must be a positive, finite number of seconds, got {value!r}"
                )

    @classmethod
    def coerce(cls, value: TimeoutLike) -> Timeout:
        """Turn ``None``, a number of seconds or a `Timeout` into a `Timeout`.

        Args:
            value: ``None`` for the defaults; a number of seconds, which bounds every wait
                of a call (``read`` is set to it and every other bound is capped at it:
                connecting, the response headers, the gaps between stream events and the
                stop call); or a `Timeout`.

        Returns:
            The resolved timeouts.

        Raises:
            TypeError: If ``value`` is of another type.
        """
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
            if not math.isfinite(seconds) or seconds <= 0:
                raise ValueError(
                    f"timeout must be a positive, finite number of seconds, got {value!r}"
                )
            default = cls()
            return cls(
                connect=min(seconds, default.connect),
                read=seconds,
                stream_idle=min(seconds, default.stream_idle),
                stream_total_idle=min(seconds, default.stream_total_idle),
                stop=min(seconds, default.stop),
            )
        raise TypeError(f"timeout must be None, a number or a Timeout, not {type(value).__name__}")


TimeoutLike = Timeout | float | int | None

MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Size bounds on what a server may send, in bytes.

    A response past a bound raises `ResponseTooLargeError` instead of filling memory.

    Attributes:
        max_frame_bytes: Streams: the longest SSE line and the largest frame (its
            ``data:`` lines together). A workflow's ``workflow_finished`` frame carries
            all its outputs, so the bound is generous.
        max_body_bytes: Blocking answers: the largest body once decoded (a gzip body is
            inflated only up to this size).
    """

    max_frame_bytes: int = 64 * MIB
    max_body_bytes: int = 128 * MIB

    def __post_init__(self) -> None:
        for name in ("max_frame_bytes", "max_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive integer, got {value!r}")


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _authority(scheme: str, host: str | None, port: int | None) -> tuple[str, str, int]:
    """Scheme, host and port as both transports compare them (default port filled in)."""
    default = 443 if scheme == "https" else 80
    return scheme.lower(), (host or "").strip("[]").lower(), port or default


def _transport_views(base_url: str) -> list[tuple[str, str, int]]:
    """How urllib3 (the sync client) and yarl (aiohttp) read the URL's authority."""
    import yarl
    from urllib3.util import parse_url

    try:
        u3 = parse_url(base_url)
        y = yarl.URL(base_url)
    except Exception:  # any parser refusing the URL is a refusal
        raise ValueError(
            "base_url cannot be parsed by the HTTP clients; give a plain "
            "http(s)://host[:port]/path URL"
        ) from None
    return [
        _authority(u3.scheme or "", u3.host, u3.port),
        _authority(y.scheme, y.host, y.explicit_port),
    ]


def check_base_url(base_url: str, *, stacklevel: int = 4) -> str:
    """Normalise a Service API root and vet it.

    The URL must be unambiguous, so that the plain-http check below and both transports
    (urllib3 for `DifyClient`, yarl/aiohttp for `AsyncDifyClient`) read the same host:
    only printable ASCII, no backslash or ``%`` in the host part, no user info
    (``user:password@``, which would also replace the Bearer key with Basic auth), no
    ``?query`` and no ``#fragment`` (a fragment would silently send every call to the
    root). A host in another script is given in its ``xn--`` (IDNA) form.

    Raises:
        ValueError: If it is not such an http(s) URL with a host. The message never
            repeats a user-info part (it may hold a password).

    Warns:
        UserWarning: When it is plain ``http://`` to a host that is not loopback (the key
            would travel unencrypted).
    """
    base_url = base_url.strip().rstrip("/")
    bad = next((c for c in base_url if not "\x21" <= c <= "\x7e"), None)
    if bad is not None:
        raise ValueError(
            "base_url must be printable ASCII without spaces or control characters "
            f"(found U+{ord(bad):04X}); give a non-ASCII host in its xn-- form"
        )
    _, sep, rest = base_url.partition("://")
    authority = rest.split("/", 1)[0]
    if "@" in authority:
        raise ValueError(
            "base_url must not contain user info (user:password@host): the API key is "
            "sent as a Bearer token; give the URL without it"
        )
    if "\\" in base_url:
        raise ValueError(f"base_url must not contain a backslash, got {base_url!r}")
    if "#" in base_url:
        raise ValueError(
            f"base_url must not contain a #fragment (every call would go to the part "
            f"before it), got {base_url!r}"
        )
    if "?" in base_url:
        raise ValueError(f"base_url must not contain a ?query, got {base_url!r}")
    if "%" in authority:
        raise ValueError(f"base_url must not percent-encode its host, got {base_url!r}")
    parts = urlsplit(base_url)
    if not sep or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"base_url has an invalid port, got {base_url!r}") from None
    checked = _authority(parts.scheme, parts.hostname, port)
    if any(view != checked for view in _transport_views(base_url)):
        raise ValueError(
            f"base_url is ambiguous (the HTTP clients read its host differently), got {base_url!r}"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        warnings.warn(
            f"base_url {base_url!r} uses plain http to a non-loopback host: "
            "the API key would travel unencrypted. Use https.",
            stacklevel=stacklevel,
        )
    return base_url


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """Resolved settings shared by `DifyClient` and `AsyncDifyClient`.

    Attributes:
        api_key: The Dify API key (an app key ``app-…`` or a knowledge key ``dataset-…``).
        base_url: The Service API root, without a trailing slash.
        user: Default end-user identifier, or ``None``.
        timeout: Resolved timeouts.
        max_retries: Retries after the first attempt (0 disables retries).
        limits: Size bounds on responses.
    """

    api_key: SecretStr
    base_url: str
    user: str | None
    timeout: Timeout
    max_retries: int
    limits: Limits = Limits()

    def __repr__(self) -> str:
        return (
            f"ClientConfig(api_key=SecretStr('**********'), base_url={self.base_url!r}, "
            f"user={self.user!r}, timeout={self.timeout!r}, max_retries={self.max_retries!r})"
        )

    @classmethod
    def resolve(
        cls,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        user: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        *,
        env_key: str = ENV_API_KEY,
        limits: Limits | None = None,
    ) -> ClientConfig:
        """Resolve settings from arguments, then the environment.

        Args:
            api_key: The key; else ``$env_key``, else ``DIFY_API_KEY``.
            base_url: The API root; else ``DIFY_BASE_URL``, else ``https://api.dify.ai/v1``.
            user: Default end user; else ``DIFY_USER``, else ``None``.
            timeout: ``None``, seconds (the read timeout) or a `Timeout`.
            max_retries: Retries after the first attempt; ``None`` means the default (2).
            env_key: The environment variable read first for the key (retrievers pass
                ``DIFY_DATASET_API_KEY``).
            limits: Size bounds on responses (``None``: the defaults).

        Returns:
            The resolved configuration.

        Raises:
            ValueError: If no key is found, or a value is invalid.
            TypeError: If a value has the wrong type.
        """
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if key is not None and not isinstance(key, str):
            raise TypeError("api_key must be a string or a SecretStr")
        if not key:
            key = os.environ.get(env_key) or (
                os.environ.get(ENV_API_KEY) if env_key != ENV_API_KEY else None
            )
        if not key:
            names = env_key if env_key == ENV_API_KEY else f"{env_key} or {ENV_API_KEY}"
            raise ValueError(f"No Dify API key: pass api_key= or set {names}.")
        check_api_key(key)
        url = base_url or os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL
        if not isinstance(url, str):
            raise TypeError("base_url must be a string")
        resolved_user = user if user is not None else (os.environ.get(ENV_USER) or None)
        if resolved_user is not None and (not isinstance(resolved_user, str) or not resolved_user):
            raise ValueError("user must be a non-empty string")
        retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError("max_retries must be an integer >= 0")
        return cls(
            api_key=SecretStr(key),
            base_url=check_base_url(url),
            user=resolved_user,
            timeout=Timeout.coerce(timeout),
            max_retries=retries,
            limits=_limits(limits),
        )


def _limits(value: Limits | None) -> Limits:
    if value is None:
        return Limits()
    if not isinstance(value, Limits):
        raise TypeError(f"limits must be a Limits, not {type(value).__name__}")
    return value
