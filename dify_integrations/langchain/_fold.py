"""Folding a Dify message stream into LangChain output, shared by sync and async paths.

:class:`AnswerFolder` wraps the core reducer (``StreamResult``) with client-side stop
sequences; it decides what text to emit for each event and what the final answer is. It
does no I/O: the adapters run the (sync or async) loop and call ``stream.stop()`` when
:attr:`AnswerFolder.stop_requested` turns true.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dify_integrations.core.accumulate import StreamResult
from dify_integrations.core.events import StreamEvent
from dify_integrations.langchain._convert import dump_model

__all__ = ["AnswerFolder", "StopSequenceCutter", "cut_at_stop"]


def cut_at_stop(text: str, stop: Sequence[str] | None) -> tuple[str, bool]:
    """Cut ``text`` at the first occurrence of any stop sequence.

    Returns:
        The text before the stop sequence, and whether one was found.
    """
    positions = [text.find(s) for s in stop or () if s and s in text]
    if not positions:
        return text, False
    return text[: min(positions)], True


class StopSequenceCutter:
    """Applies stop sequences to a stream of text deltas.

    Text that might be the start of a stop sequence is held back until the next delta
    shows whether it is; once a stop sequence is seen nothing more is let through.

    Args:
        stop: The stop sequences (empty strings are ignored).
    """

    def __init__(self, stop: Sequence[str] | None) -> None:
        self._stop = [s for s in stop or () if s]
        self._pending = ""
        self.stopped = False

    def feed(self, delta: str) -> str:
        """Take a delta; return the text that can be emitted now."""
        if self.stopped:
            return ""
        if not self._stop:
            return delta
        text = self._pending + delta
        cut, found = cut_at_stop(text, self._stop)
        if found:
            self.stopped = True
            self._pending = ""
            return cut
        hold = 0
        for s in self._stop:
            for size in range(min(len(s) - 1, len(text)), hold, -1):
                if text.endswith(s[:size]):
                    hold = size
                    break
        self._pending = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold]

    def flush(self) -> str:
        """The held-back text, at the end of the stream."""
        pending, self._pending = self._pending, ""
        return "" if self.stopped else pending


class AnswerFolder:
    """Events in, text deltas and a final answer out.

    Args:
        stop: Stop sequences applied client side (``None`` or empty for none).
    """

    def __init__(self, stop: Sequence[str] | None = None) -> None:
        self.result = StreamResult()
        self._stop: list[str] = []
        self._cutter = StopSequenceCutter(None)
        self._stop_sent = False
        self.set_stop(stop)

    def set_stop(self, stop: Sequence[str] | None) -> None:
        """Set the stop sequences (before the first event)."""
        self._stop = [s for s in stop or () if s]
        self._cutter = StopSequenceCutter(self._stop)

    def add(self, event: StreamEvent) -> str:
        """Fold one event; return the text to emit now (may be ``""``)."""
        delta = self.result.add(event)
        if not delta:
            return ""
        return self._cutter.feed(delta)

    @property
    def stop_requested(self) -> bool:
        """A stop sequence was seen and the server task has not been asked to stop yet."""
        return self._cutter.stopped and not self._stop_sent

    def mark_stop_sent(self) -> None:
        """Record that the server task was asked to stop."""
        self._stop_sent = True

    @property
    def stopped_by_sequence(self) -> bool:
        """Whether the output was cut at a stop sequence."""
        return self._cutter.stopped

    def flush(self) -> str:
        """Text held back while checking for a stop sequence, at the end of the stream."""
        return self._cutter.flush()

    @property
    def answer(self) -> str:
        """The final answer: replacements applied, cut at the first stop sequence."""
        return cut_at_stop(self.result.answer, self._stop)[0]

    def response_metadata(self, model_name: str) -> dict[str, Any]:
        """The ``response_metadata`` of the final message/chunk."""
        r = self.result
        usage = dump_model(r.usage) if r.usage is not None else None
        metadata: dict[str, Any] = {
            "model_name": model_name,
            "model_provider": "dify",
            "conversation_id": r.conversation_id,
            "message_id": r.message_id,
            "task_id": r.task_id,
            "usage": usage,
            "retriever_resources": dump_model(list(r.retriever_resources)),
            "finish_reason": self._finish_reason(),
        }
        if r.status is not None:
            # Chatflows: the run's status; ``paused`` when a Human Input node waits.
            metadata["status"] = r.status
        if r.workflow_run_id is not None:
            metadata["workflow_run_id"] = r.workflow_run_id
        if r.human_input:
            # The forms a person must fill before the run goes on (see the human-input
            # guide: get/submit the form, then follow the resumed run).
            metadata["human_input"] = dump_model(list(r.human_input))
        if r.replaced:
            # Content moderation replaced the answer: stream consumers that already
            # showed deltas find the full replacement here.
            metadata["answer_replaced"] = True
            metadata["replaced_answer"] = self.answer
        if r.files:
            metadata["files"] = [dict(f) for f in r.files]
        return metadata

    def _finish_reason(self) -> str:
        if self.result.paused:
            return "paused"
        return "stop_sequence" if self.stopped_by_sequence else "stop"

    @property
    def reasoning_delta(self) -> str:
        """The reasoning text the last event added (``reasoning_chunk``), never answer text."""
        return self.result.last_reasoning

    def additional_kwargs(self, *, reasoning: bool = False) -> dict[str, Any]:
        """``additional_kwargs`` of the final message: agent thoughts, when there are any.

        Args:
            reasoning: Also carry the whole reasoning as ``reasoning_content`` (the key
                langchain-core turns into a ``reasoning`` content block); streamed chunks
                carry it piece by piece instead, so the final chunk leaves it out.
        """
        kwargs: dict[str, Any] = {}
        if self.result.agent_thoughts:
            kwargs["agent_thoughts"] = dump_model(list(self.result.agent_thoughts))
        if reasoning and self.result.reasoning:
            kwargs["reasoning_content"] = self.result.reasoning
        return kwargs
