"""Run in a fresh process: load pickled adapters and call each over HTTP.

Usage: ``python -m tests.batch._worker <pickles.bin>``; prints one JSON object, the answer
of each adapter by name, or the error it raised (type and message).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import cloudpickle


def _call(kind: str, obj: Any) -> Any:
    if kind == "lc_chat":
        return obj.invoke("hello").content
    if kind == "lc_llm":
        return obj.invoke("cats")
    if kind == "lc_tool":
        return obj.invoke({"n": 3})
    if kind == "lc_retriever":
        return [d.page_content for d in obj.invoke("how are refunds issued")]
    if kind == "li_llm":
        return obj.complete("hello").text
    if kind == "li_tool":
        return obj.call(n=3).content
    if kind == "li_retriever":
        return [n.node.get_content() for n in obj.retrieve("how are refunds issued")]
    raise ValueError(kind)


def provided_key() -> str:
    """A secret provider, imported by name on the worker."""
    return os.environ["PROVIDED_KEY"]


def main(path: str) -> None:
    with open(path, "rb") as f:
        items: list[tuple[str, str, bytes]] = cloudpickle.load(f)
    out: dict[str, Any] = {}
    for name, kind, blob in items:
        try:
            out[name] = _call(kind, cloudpickle.loads(blob))
        except Exception as exc:
            out[name] = {"error": type(exc).__name__, "message": str(exc)}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
