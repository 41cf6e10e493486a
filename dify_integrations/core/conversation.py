"""The multi-turn rule shared by the LangChain and LlamaIndex chat adapters.

Frameworks hand a chat model the *whole* history on every call (``RunnableWithMessageHistory``,
LangGraph memory, LlamaIndex chat memory). Dify keeps the history itself, server side, in a
conversation. This module maps one onto the other, with no I/O and no framework imports:

1. System turns are collected apart (an adapter sends them to an app variable, or as context).
2. The last non-system turn must be a user turn: it is the query of the new Dify message.
3. The turns before it are the *history*. If this history is one Dify already holds, the
   call continues that conversation and sends only the query, so N turns make exactly N Dify
   messages in one conversation. A history is recognised when

   * the :class:`ConversationTracker` of the adapter recorded exactly this history after an
     earlier call (it fingerprints the user/assistant texts), or
   * the last assistant turn of the history carries the ``conversation_id`` Dify gave it
     (adapters put it in the message metadata they return); user turns after that one, which
     Dify has not seen, go along once as context.

4. Any other history is one Dify has never seen: a new conversation starts and the history is
   sent once, as context in front of the query, not lost.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "assistant", "system"]

__all__ = [
    "ConversationPlan",
    "ConversationTracker",
    "Turn",
    "plan_conversation",
    "render_transcript",
]


@dataclass(frozen=True)
class Turn:
    """One message of a framework's chat history, reduced to what the rule needs.

    Attributes:
        role: ``"user"``, ``"assistant"`` or ``"system"``.
        content: The message text.
        conversation_id: For assistant turns that came from Dify, the conversation they
            belong to (taken from the message's metadata); ``None`` otherwise.
    """

    role: Role
    content: str
    conversation_id: str | None = None


@dataclass(frozen=True)
class ConversationPlan:
    """What to send to Dify for one call.

    Attributes:
        conversation_id: The Dify conversation to continue, or ``None`` to start a new one.
        query: The text of the last user turn.
        context: Earlier turns Dify has never seen, rendered as a transcript, or ``None``.
        system: The system turns joined by blank lines, or ``None``.
    """

    conversation_id: str | None
    query: str
    context: str | None
    system: str | None

    @property
    def is_new_conversation(self) -> bool:
        """Whether this call starts a new Dify conversation."""
        return self.conversation_id is None

    def render_query(self, *, system_as_context: bool) -> str:
        """The ``query`` string to send.

        Unseen history is prepended once. System text is prepended only when
        ``system_as_context`` is true (no app variable takes it) and the conversation is new:
        Dify keeps it in the conversation from then on.

        Args:
            system_as_context: Whether the system text travels inside the query.

        Returns:
            The query text for ``/chat-messages``.
        """
        parts: list[str] = []
        if system_as_context and self.system and self.is_new_conversation:
            parts.append(f"Instructions:\n{self.system}")
        if self.context:
            parts.append(f"Conversation so far:\n{self.context}")
        if not parts:
            return self.query
        parts.append(f"Current message:\n{self.query}")
        return "\n\n".join(parts)


def render_transcript(turns: Sequence[Turn]) -> str:
    """Render user/assistant turns as a plain ``User: …`` / ``Assistant: …`` transcript."""
    names = {"user": "User", "assistant": "Assistant", "system": "System"}
    return "\n".join(f"{names[t.role]}: {t.content}" for t in turns)


def _fingerprint(turns: Sequence[Turn]) -> str:
    digest = hashlib.sha256()
    for turn in turns:
        if turn.role == "system":
            continue
        digest.update(turn.role.encode())
        digest.update(b"\x00")
        digest.update(turn.content.encode("utf-8", "surrogatepass"))
        digest.update(b"\x01")
    return digest.hexdigest()


class ConversationTracker:
    """Remembers which histories an adapter instance has already sent to Dify.

    Thread-safe; bounded (least recently used histories are forgotten first). Only
    fingerprints are kept, never the texts.

    Args:
        max_entries: How many histories to remember.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._known: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def lookup(self, history: Sequence[Turn]) -> str | None:
        """The conversation that holds exactly ``history`` (system turns ignored), if known."""
        key = _fingerprint(history)
        with self._lock:
            conversation_id = self._known.get(key)
            if conversation_id is not None:
                self._known.move_to_end(key)
            return conversation_id

    def record(self, turns: Sequence[Turn], answer: str, conversation_id: str | None) -> None:
        """Remember that ``turns`` followed by ``answer`` is now the history of a conversation.

        Args:
            turns: The turns passed to the call (history and the new user turn).
            answer: The assistant's answer Dify gave.
            conversation_id: The conversation Dify put the message in; nothing is recorded
                when it is ``None`` (completion apps have no conversations).
        """
        if not conversation_id:
            return
        key = _fingerprint([*turns, Turn("assistant", answer)])
        with self._lock:
            self._known[key] = conversation_id
            self._known.move_to_end(key)
            while len(self._known) > self._max:
                self._known.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        """Drop every history recorded for ``conversation_id`` (e.g. after deleting it)."""
        with self._lock:
            for key in [k for k, v in self._known.items() if v == conversation_id]:
                del self._known[key]


def plan_conversation(
    turns: Sequence[Turn],
    tracker: ConversationTracker | None = None,
    *,
    conversation_id: str | None = None,
) -> ConversationPlan:
    """Decide which Dify conversation a call continues and what it sends.

    Args:
        turns: The full message list of the call, oldest first.
        tracker: The adapter's memory of histories already sent, if any.
        conversation_id: An explicit conversation to continue (a per-call argument); it wins
            over anything recognised, and the history is then not resent.

    Returns:
        The plan for the call.

    Raises:
        ValueError: If there is no user turn last, or the query is empty.
    """
    system_parts = [t.content for t in turns if t.role == "system" and t.content.strip()]
    dialogue = [t for t in turns if t.role != "system"]
    if not dialogue or dialogue[-1].role != "user":
        raise ValueError("the last non-system message must be a user (human) message")
    query = dialogue[-1].content
    if not query.strip():
        raise ValueError("the user message (query) must not be empty")
    system = "\n\n".join(system_parts) or None
    history = dialogue[:-1]

    if conversation_id or not history:
        return ConversationPlan(conversation_id or None, query, None, system)

    if tracker is not None:
        known = tracker.lookup(history)
        if known is not None:
            return ConversationPlan(known, query, None, system)

    for index in range(len(history) - 1, -1, -1):
        turn = history[index]
        if turn.role == "assistant" and turn.conversation_id:
            unseen = history[index + 1 :]
            context = render_transcript(unseen) if unseen else None
            return ConversationPlan(turn.conversation_id, query, context, system)

    return ConversationPlan(None, query, render_transcript(history), system)
