"""Bearer-key checks in constant time (``hmac.compare_digest``), one key or one per id."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from pydantic import SecretStr

__all__ = ["Keys", "bearer_token"]


def bearer_token(header: str | None) -> bytes | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token.encode("utf-8", "surrogateescape")


def _secret(value: str | SecretStr, what: str) -> SecretStr:
    secret = value if isinstance(value, SecretStr) else SecretStr(str(value))
    text = secret.get_secret_value()
    if not text or text != text.strip() or " " in text:
        raise ValueError(f"{what} must be a non-empty string without spaces")
    return secret


class Keys:
    """The accepted keys: one for every knowledge id, or one per knowledge id.

    Keys are kept as ``SecretStr`` and never shown (``repr`` says only how many there are).
    Every comparison goes through :func:`hmac.compare_digest`, and with per-id keys the
    presented key is compared with all of them (no early exit), so timing does not tell
    which id a key belongs to.
    """

    def __init__(self, api_key: str | SecretStr | Mapping[str, str | SecretStr]) -> None:
        if isinstance(api_key, Mapping):
            if not api_key:
                raise ValueError("api_key mapping is empty")
            self.per_id: dict[str, SecretStr] | None = {
                str(kid): _secret(key, f"api_key[{kid!r}]") for kid, key in api_key.items()
            }
            self.shared: SecretStr | None = None
        else:
            self.per_id = None
            self.shared = _secret(api_key, "api_key")

    def __repr__(self) -> str:
        count = 1 if self.per_id is None else len(self.per_id)
        return f"Keys(<{count} hidden>)"

    @staticmethod
    def _same(token: bytes, secret: SecretStr) -> bool:
        return hmac.compare_digest(token, secret.get_secret_value().encode("utf-8"))

    def known(self, token: bytes) -> bool:
        """Whether ``token`` is one of the keys (checked before the body is read)."""
        if self.shared is not None:
            return self._same(token, self.shared)
        assert self.per_id is not None
        found = False
        for secret in self.per_id.values():
            found |= self._same(token, secret)
        return found

    def allows(self, token: bytes, knowledge_id: str) -> bool:
        """Whether ``token`` may query ``knowledge_id`` (after :meth:`known`)."""
        if self.per_id is None:
            return True  # the shared key was checked by ``known``
        secret = self.per_id.get(knowledge_id)
        return secret is not None and self._same(token, secret)

    def covers(self, knowledge_id: str) -> bool:
        """Whether some key is configured for ``knowledge_id``."""
        return self.per_id is None or knowledge_id in self.per_id
