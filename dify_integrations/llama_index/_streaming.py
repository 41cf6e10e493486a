"""The one loop over a core event stream, in its sync and async forms.

Both forms make the same steps: a ``(result, text, delta)`` triple each time the answer
changes, then a last one with an empty delta once the stream finished, after ``on_finish``
ran. ``result`` is the stream's own fold (``stream.result``: ids, usage, citations), which
covers exactly the events yielded so far. Only the iteration differs (``for`` /
``async for``); what each step is comes from :class:`Progress`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

__all__ = ["Progress", "afold", "aiter_steps", "fold", "iter_steps"]

Step = tuple[Any, str, str]
OnFinish = Callable[[Any], None] | None


class Progress:
    """Turns the running answer of a stream into text deltas.

    Per event it reads the fold's ``last_delta`` (and ``replacements``), never the whole
    answer, so following a long stream stays linear in the core.
    """

    def __init__(self) -> None:
        self.text = ""
        self._replacements = 0

    def step(self, answer: str) -> str | None:
        """The new text since the last step; ``""`` after a replacement; ``None`` if none.

        A ``message_replace`` swaps the whole answer: the step then reports an empty delta
        and :attr:`text` holds the replacement, which responses carry as their content.
        """
        if answer == self.text:
            return None
        delta = answer[len(self.text) :] if answer.startswith(self.text) else ""
        self.text = answer
        return delta

    def on_event(self, result: Any) -> Step | None:
        """The step after an event was yielded, or ``None`` when the answer did not change."""
        delta: str | None
        if result.replacements != self._replacements:
            self._replacements = result.replacements
            delta = self.step(result.answer)  # the whole answer, once per replacement
        elif result.last_delta:
            delta = result.last_delta
            self.text += delta
        elif getattr(result, "last_reasoning", ""):
            # A reasoning delta: a step with no answer text (responses carry the
            # reasoning as ``thinking_delta``).
            return result, self.text, ""
        else:
            return None
        return None if delta is None else (result, self.text, delta)

    def last(self, result: Any, on_finish: OnFinish) -> Step:
        """The closing step, once the stream finished; runs ``on_finish`` first."""
        if on_finish is not None:
            on_finish(result)
        return result, self.text, ""


def iter_steps(stream: Any, on_finish: OnFinish = None) -> Iterator[Step]:
    """Steps of a sync ``EventStream``; closing the iterator early closes (and stops) it."""
    progress = Progress()
    with stream:
        for _ in stream:
            step = progress.on_event(stream.result)
            if step is not None:
                yield step
        yield progress.last(stream.result, on_finish)


async def aiter_steps(stream: Any, on_finish: OnFinish = None) -> AsyncIterator[Step]:
    """Steps of an ``AsyncEventStream``: the async twin of :func:`iter_steps`."""
    progress = Progress()
    async with stream:
        async for _ in stream:
            step = progress.on_event(stream.result)
            if step is not None:
                yield step
        yield progress.last(stream.result, on_finish)


def _folded(result: Any, on_finish: OnFinish) -> tuple[Any, str]:
    """The final ``(result, text)`` of a consumed stream; runs ``on_finish`` first.

    The text of the last step is always the fold's answer, so the blocking forms skip the
    per-event steps (and their growing text) altogether.
    """
    if on_finish is not None:
        on_finish(result)
    return result, result.answer


def fold(stream: Any, on_finish: OnFinish = None) -> tuple[Any, str]:
    """Consume a sync stream; return the final ``(result, text)``."""
    with stream:
        for _ in stream:
            pass
        return _folded(stream.result, on_finish)


async def afold(stream: Any, on_finish: OnFinish = None) -> tuple[Any, str]:
    """Consume an async stream; return the final ``(result, text)``."""
    async with stream:
        async for _ in stream:
            pass
        return _folded(stream.result, on_finish)
