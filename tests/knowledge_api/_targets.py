"""Targets for ``dify-integrations knowledge-api`` in the CLI tests."""

from __future__ import annotations

from typing import Any

RETRIEVERS: dict[str, Any] = {"kb": lambda query: [query]}
EMPTY: dict[str, Any] = {}


def factory() -> dict[str, Any]:
    return {"f": lambda query: [query]}
