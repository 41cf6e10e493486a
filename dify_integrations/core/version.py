"""The package's version and the ``User-Agent`` it sends."""

from __future__ import annotations

from typing import Final

__all__ = ["USER_AGENT", "VERSION"]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("dify-integrations")
    except Exception:  # pragma: no cover - running from a source tree
        return "0.0.0"


VERSION: Final = _version()
"""The installed package version (``0.0.0`` from a bare source tree); read once."""

USER_AGENT: Final = f"dify-integrations/{VERSION}"
