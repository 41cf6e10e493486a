"""A small deterministic tokenizer: words for retrieval, pieces for streaming, token counts."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
_COUNT = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Lower-cased, lightly stemmed content words of ``text`` (stopwords removed)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS:
            continue
        out.append(_stem(word))
    return out


def count_tokens(text: str) -> int:
    """A plausible token count: words and punctuation marks."""
    return len(_COUNT.findall(text))


def stream_pieces(text: str) -> list[str]:
    """Split ``text`` into word-sized pieces that concatenate back to ``text`` exactly."""
    if not text:
        return []
    pieces = re.findall(r"\s*\S+", text)
    joined = "".join(pieces)
    if len(joined) < len(text):  # trailing whitespace
        if pieces:
            pieces[-1] += text[len(joined) :]
        else:
            pieces = [text]
    return pieces


def sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (on ``.``, ``!``, ``?`` followed by whitespace)."""
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def keywords(text: str, limit: int = 5) -> list[str]:
    """The most frequent content words of ``text`` (ties by first appearance)."""
    counts: dict[str, int] = {}
    for term in terms(text):
        counts[term] = counts.get(term, 0) + 1
    return [t for t, _ in sorted(counts.items(), key=lambda kv: -kv[1])][:limit]
