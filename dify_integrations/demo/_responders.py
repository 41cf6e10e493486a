"""The demo's stand-in for an LLM: a grounded, extractive answerer.

It answers a question with the sentences that match it best, taken from the context given
in the prompt (the RAG chain and the LlamaIndex query engine put retrieved handbook
excerpts there) or, when the prompt has none, from the whole Stowaway handbook. Earlier
questions of the conversation count too, so follow-up questions work. Deterministic, no
model, no network.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from dify_integrations.demo._handbook import handbook_articles

__all__ = ["grounded_answer", "split_prompt"]

_WORD = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*(\"'])")
_QUESTION = re.compile(r"(?:^|\n)\s*(?:question|query)\s*:\s*", re.IGNORECASE)
_ANSWER_CUE = re.compile(r"\n\s*answer\s*:\s*$", re.IGNORECASE)
_INSTRUCTION = re.compile(
    r"context information|prior knowledge|excerpts|answer the (?:query|question)|"
    r"only the (?:context|handbook)|^-{3,}$",
    re.IGNORECASE,
)
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "should",
        "would",
        "could",
        "after",
        "before",
        "about",
        "into",
        "than",
        "any",
        "all",
        "not",
        "get",
        "got",
        "has",
        "have",
        "had",
        "been",
        "being",
        "also",
        "just",
        "more",
        "most",
        "one",
    ]
)
_NOT_FOUND = "I could not find that in the Stowaway handbook."


def _stem(word: str) -> str:
    if len(word) > 5 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    for suffix in ("ing", "ed", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def _terms(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


def _sentences(text: str) -> list[str]:
    """Split markdown into sentences; table rows become one sentence each."""
    out: list[str] = []
    in_code = False
    header: list[str] = []
    cells_before: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = []
        for line in block.splitlines():
            stripped = line.strip()
            if stripped.startswith("```"):
                in_code = not in_code
                continue
            if in_code or not stripped or stripped.startswith("#"):
                continue
            if stripped.startswith("|"):
                cells = [c.strip().replace("**", "") for c in stripped.strip("|").split("|")]
                if all(set(c) <= set("-: ") for c in cells):
                    header = cells_before  # the row before the separator is the header
                    out.pop()
                    continue
                cells_before = cells
                pairs = zip(header, cells, strict=False) if len(header) == len(cells) else []
                row = "; ".join(f"{h}: {c}" for h, c in pairs) or " — ".join(cells)
                out.append(row + ".")
                continue
            if stripped[:2] in ("- ", "* ") or re.match(r"\d+\.\s", stripped):
                stripped = stripped.lstrip("-*0123456789. ").strip()
            lines.append(stripped)
        joined = " ".join(lines).replace("**", "").strip()
        pending = ""
        for sentence in (s.strip() for s in _SENTENCE_END.split(joined) if s.strip()):
            sentence = f"{pending} {sentence}".strip()
            pending = sentence if len(sentence.split()) < 4 else ""
            if not pending:
                out.append(sentence)
        if pending:
            out.append(pending)
    return out


def split_prompt(prompt: str) -> tuple[str, str | None]:
    """Split a RAG prompt into (question, context).

    The question follows the last ``Question:`` or ``Query:`` label (up to an ``Answer:``
    cue); the context is the rest. Without a label the whole prompt is the question and
    there is no context.
    """
    matches = list(_QUESTION.finditer(prompt))
    if not matches:
        return prompt.strip(), None
    last = matches[-1]
    question = _ANSWER_CUE.sub("", prompt[last.end() :]).strip()
    context = (prompt[: last.start()] + "\n" + prompt[last.end() + len(question) :]).strip()
    return question, context or None


@cache
def _handbook_sentences() -> tuple[str, ...]:
    return tuple(s for a in handbook_articles() for s in _sentences(a.text))


def _best(
    question: str,
    earlier: Sequence[tuple[str, str]],
    candidates: Iterable[str],
    limit: int,
) -> list[str]:
    said = " ".join(answer for _, answer in earlier)
    pool = [c for c in dict.fromkeys(candidates) if not _INSTRUCTION.search(c) and c not in said]
    if not pool:
        return []
    bags = [set(_terms(c)) for c in pool]
    df: dict[str, int] = {}
    for bag in bags:
        for t in bag:
            df[t] = df.get(t, 0) + 1
    weights = {t: 1.0 for t in _terms(question)}
    for previous, _ in earlier[-2:]:  # follow-ups inherit the conversation's topic
        for t in _terms(previous):
            weights.setdefault(t, 0.35)
    for t in _terms(earlier[-1][1]) if earlier else ():
        weights.setdefault(t, 0.3)
    asked = set(_terms(question))
    scored = []
    for i, bag in enumerate(bags):
        if asked and not asked & bag:
            continue
        score = sum(
            w * math.log(1 + len(pool) / df[t]) for t, w in weights.items() if t in bag
        ) / math.log(len(bag) + 8)
        scored.append((score, i))
    top = sorted((s for s in scored if s[0] > 0), key=lambda s: -s[0])[:limit]
    if not top:
        return []
    best = top[0][0]
    keep = sorted(i for s, i in top if s >= 0.45 * best)
    return [pool[i] for i in keep]


def grounded_answer(
    query: str,
    inputs: dict[str, Any],
    history: list[tuple[str, str]],
    files: list[dict[str, Any]],
) -> str:
    """A local-server responder: the best-matching sentences for the question.

    Args:
        query: The query (or the rendered completion template).
        inputs: App variables (unused).
        history: Previous ``(query, answer)`` pairs of the conversation.
        files: Attached files (unused).

    Returns:
        One to three sentences from the prompt's context, else from the handbook.
    """
    question, context = split_prompt(query)
    earlier = [(split_prompt(q)[0], a) for q, a in history]
    candidates = _sentences(context) if context else list(_handbook_sentences())
    picked = _best(question, earlier, candidates, limit=3)
    if not picked and context:
        picked = _best(question, earlier, _handbook_sentences(), limit=3)
    return " ".join(picked) if picked else _NOT_FOUND
