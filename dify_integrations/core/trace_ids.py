"""Trace ids for ``X-Trace-Id``: a framework's own run or span id, made acceptable to Dify.

Dify joins its trace to a caller's id of 1-128 letters, digits, ``-`` and ``_``. LangChain
run ids (UUIDs) already are; LlamaIndex span ids (``DifyLLM.chat-<uuid>``) are made so by
replacing every other character with ``-``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["as_trace_id"]

_OTHER = re.compile(r"[^A-Za-z0-9_-]")


def as_trace_id(value: Any) -> str | None:
    """``value`` (a run or span id) as a trace id Dify accepts; ``None`` when there is none.

    Longer ids keep their last 128 characters (the unique tail of a span id).
    """
    if value is None:
        return None
    text = _OTHER.sub("-", str(value))
    return text[-128:] or None
