"""The Stowaway handbook: the demo knowledge base, shipped as package data."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["HandbookArticle", "handbook_articles", "handbook_documents"]


@dataclass(frozen=True)
class HandbookArticle:
    """One article of the handbook.

    Attributes:
        name: File name, e.g. ``"25-error-codes.md"``.
        title: Title from the front matter.
        category: Category from the front matter (``billing``, ``restore``, ...).
        text: Markdown body without the front matter.
    """

    name: str
    title: str
    category: str
    text: str


def _parse(name: str, raw: str) -> HandbookArticle:
    meta: dict[str, str] = {}
    body = raw
    if raw.startswith("---\n"):
        header, _, body = raw[4:].partition("\n---\n")
        for line in header.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                meta[key.strip()] = value.strip()
    if "title" not in meta or "category" not in meta:
        raise ValueError(f"handbook article {name} lacks a title or category")
    return HandbookArticle(name, meta["title"], meta["category"], body.strip() + "\n")


@cache
def handbook_articles() -> tuple[HandbookArticle, ...]:
    """Return every handbook article, in file-name order."""
    folder = resources.files("dify_integrations.demo").joinpath("handbook")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".md")), key=lambda f: f.name)
    return tuple(_parse(f.name, f.read_text(encoding="utf-8")) for f in files)


def handbook_documents() -> list[dict[str, object]]:
    """Return the articles as documents for ``DifyTestServer.create_dataset``."""
    return [
        {
            "name": a.name,
            "text": a.text,
            "metadata": {"title": a.title, "category": a.category},
        }
        for a in handbook_articles()
    ]
