"""The one loop over a core event stream, in its sync and async forms.

Both forms make the same steps: a ``(result, text, delta)`` triple each time the answer
changes, then a last one with an empty delta once the stream finished, after ``on_finish``
ran. ``result`` is the stream's own fold (``stream.result``, for ids, usage, citations);
the text and deltas come from folding the events *as they are yielded* (the stream may
decode, and fold, a whole network chunk ahead of the event it yields). Only the iteration
differs (``for`` / ``async for``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from dify_integrations.core.accumulate import StreamResult

__all__ = ["Progress", "afold", "aiter_steps", "fold", "iter_steps"]

Step = tuple[Any, str, str]
OnFinish = Callable[[Any], None] | None


class Progress:
    """Turns the running answer of a stream into text deltas."""

    def __init__(self) -> None:
        self.text = ""

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


def iter_steps(stream: Any, on_finish: OnFinish = None) -> Iterator[Step]:
    """Steps of a sync ``EventStream``; closing the iterator early closes (and stops) it."""
    progress = Progress()
    seen = StreamResult()
    with stream:
        for event in stream:
            seen.add(event)
            delta = progress.step(seen.answer)
            if delta is not None:
                yield stream.result, progress.text, delta
        if on_finish is not None:
            on_finish(stream.result)
        yield stream.result, progress.text, ""


async def aiter_steps(stream: Any, on_finish: OnFinish = None) -> AsyncIterator[Step]:
    """Steps of an ``AsyncEventStream``: the async twin of :func:`iter_steps`."""
    progress = Progress()
    seen = StreamResult()
    async with stream:
        async for event in stream:
            seen.add(event)
            delta = progress.step(seen.answer)
            if delta is not None:
                yield stream.result, progress.text, delta
        if on_finish is not None:
            on_finish(stream.result)
        yield stream.result, progress.text, ""


def fold(stream: Any, on_finish: OnFinish = None) -> tuple[Any, str]:
    """Consume a sync stream; return the final ``(result, text)``."""
    last: Step = (None, "", "")
    for last in iter_steps(stream, on_finish):  # noqa: B007 - the last step is the answer
        pass
    return last[0], last[1]


async def afold(stream: Any, on_finish: OnFinish = None) -> tuple[Any, str]:
    """Consume an async stream; return the final ``(result, text)``."""
    last: Step = (None, "", "")
    async for last in aiter_steps(stream, on_finish):  # noqa: B007 - the last step is the answer
        pass
    return last[0], last[1]
