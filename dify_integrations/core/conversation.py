"""Which Dify conversation a chat call continues, and what it sends: one rule for every adapter.

Frameworks hand a chat model the *whole* history on every call (``RunnableWithMessageHistory``,
LangGraph memory, LlamaIndex chat memory). Dify keeps the history itself, server side, in a
conversation that belongs to one end user. This module maps one onto the other, with no I/O
and no framework imports; LangChain ``ChatDify``, LlamaIndex ``DifyLLM`` and
``DifyChatEngine`` all call :func:`plan_conversation`.

1. System turns are collected apart (sent as context in front of the query, or to an app
   variable). The last non-system turn must be a user turn: it is the query.
2. The conversation the call continues is, in this order:

   a. an explicit per-call ``conversation_id``;
   b. else the ``conversation_id`` of the history's **most recent assistant turn** (adapters
      read it from the message metadata they returned: LangChain ``response_metadata``,
      LlamaIndex ``additional_kwargs``); user turns after that answer, which Dify has not
      seen, go along once as context. A history that names conversation X is never sent
      into another conversation;
   c. else an exact match of the whole history **for the same user** in the adapter's
      :class:`ConversationTracker`, and only when exactly one conversation matches: a
      history two conversations share (two sessions that both began "hi" → "Hello!") is
      ambiguous and never matched;
   d. else a new conversation, with the earlier turns sent once as context in front of the
      query.

   The end user is part of every key, so one adapter instance shared by many users (a web
   app with one ``ChatDify``) never mixes their conversations.
3. System content reaches Dify whenever it changes: a turn whose system text differs from
   what that conversation already received (or whose conversation this instance knows
   nothing about) sends it in front of the query, as the first turn does. Retrieval chains
   (``("system", "...{context}")``, LlamaIndex ``ContextChatEngine``) thus get each turn's
   context to Dify. An app *variable* cannot carry a changing value: Dify keeps a
   conversation's ``inputs`` from its first message, so a changed system value for a
   continued conversation is dropped by Dify; :func:`plan_conversation` warns when it knows
   that happens.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant", "system"]
Source = Literal["explicit", "history", "record", "new"]

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
        user: The end user the call is made for (part of every key).
        source: How the conversation was chosen: ``explicit``, ``history``, ``record`` or
            ``new``.
        send_system: Whether the system text travels in front of the query this turn.
        system_as_context: Whether system text travels in the query (else in an app
            variable).
    """

    conversation_id: str | None
    query: str
    context: str | None
    system: str | None
    user: str | None = None
    source: Source = "new"
    send_system: bool = False
    system_as_context: bool = True
    _digest: Any = field(default=None, repr=False, compare=False)

    @property
    def is_new_conversation(self) -> bool:
        """Whether this call starts a new Dify conversation."""
        return self.conversation_id is None

    def render_query(self) -> str:
        """The ``query`` string to send.

        The system text (when :attr:`send_system`) and unseen history come first, each
        once, then the user's message.
        """
        parts: list[str] = []
        if self.send_system and self.system:
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


def _prefix(user: str | None) -> bytes:
    return b"user\x00" + (user or "").encode("utf-8", "surrogatepass") + b"\x02"


def _turn_bytes(role: str, content: str) -> bytes:
    return role.encode() + b"\x00" + content.encode("utf-8", "surrogatepass") + b"\x01"


def _digest(user: str | None, turns: Sequence[Turn]) -> Any:
    """A running SHA-256 of the user and the user/assistant turns (system turns skipped)."""
    parts = [_prefix(user)]
    parts.extend(_turn_bytes(t.role, t.content) for t in turns if t.role != "system")
    return hashlib.sha256(b"".join(parts))


def _system_digest(system: str | None) -> bytes:
    return hashlib.sha256((system or "").encode("utf-8", "surrogatepass")).digest()


class _Retired:
    """A fixed-size bit set of history keys that were once recorded and then forgotten.

    A key found here is treated as ambiguous forever: after the record forgot which
    conversation a history belonged to, another session recording the same history must
    not make it look unique again. False positives only ever cost a new conversation.
    """

    __slots__ = ("_bits", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._bits = bytearray((size + 7) // 8)

    def _positions(self, key: bytes) -> list[int]:
        return [int.from_bytes(key[i : i + 4], "big") % self._size for i in (0, 4, 8)]

    def add(self, key: bytes) -> None:
        for p in self._positions(key):
            self._bits[p >> 3] |= 1 << (p & 7)

    def __contains__(self, key: bytes) -> bool:
        return all(self._bits[p >> 3] & (1 << (p & 7)) for p in self._positions(key))


class ConversationTracker:
    """What an adapter instance has already sent to Dify, per end user.

    It remembers (as SHA-256 fingerprints, never the texts) which conversation holds which
    exact history for which user, and what system text each conversation received.
    A history recorded for two conversations is ambiguous and is never matched. Bounded
    (least recently used entries are forgotten first; a forgotten history stays
    ambiguous) and safe to share between threads and asyncio tasks.

    Args:
        max_entries: How many histories (and as many conversations) to remember.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max = max_entries
        self._known: OrderedDict[bytes, str | None] = OrderedDict()
        self._systems: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._retired = _Retired(max(1 << 16, 64 * max_entries))
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def lookup(self, history: Sequence[Turn], *, user: str | None = None) -> str | None:
        """The one conversation of ``user`` that holds exactly ``history`` (system ignored).

        ``None`` when no conversation or more than one does.
        """
        return self._lookup_key(_digest(user, history).digest())

    def _lookup_key(self, key: bytes) -> str | None:
        with self._lock:
            conversation_id = self._known.get(key)
            if conversation_id is not None:
                self._known.move_to_end(key)
            return conversation_id

    def _system_of(self, user: str | None, conversation_id: str) -> bytes | None:
        with self._lock:
            return self._systems.get((user or "", conversation_id))

    def record(self, plan: ConversationPlan, answer: str, conversation_id: str | None) -> None:
        """Remember that the call of ``plan``, answered ``answer``, went to ``conversation_id``.

        Args:
            plan: The plan the call was made with.
            answer: The assistant's answer Dify gave.
            conversation_id: The conversation Dify put the message in; nothing is recorded
                when it is ``None`` (completion apps have no conversations).
        """
        if not conversation_id or plan._digest is None:
            return
        digest = plan._digest.copy()
        digest.update(_turn_bytes("assistant", answer))
        key = digest.digest()
        state = (plan.user or "", conversation_id)
        with self._lock:
            if key in self._known:
                if self._known[key] != conversation_id:
                    self._known[key] = None  # two conversations share this history
            else:
                self._known[key] = None if key in self._retired else conversation_id
            self._known.move_to_end(key)
            while len(self._known) > self._max:
                old, _ = self._known.popitem(last=False)
                self._retired.add(old)
            if plan.is_new_conversation or (plan.system_as_context and plan.send_system):
                self._systems[state] = _system_digest(plan.system)
                self._systems.move_to_end(state)
                while len(self._systems) > self._max:
                    self._systems.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        """Drop every history recorded for ``conversation_id`` (e.g. after deleting it).

        The histories stay ambiguous: they are never matched again.
        """
        with self._lock:
            for key in [k for k, v in self._known.items() if v == conversation_id]:
                del self._known[key]
                self._retired.add(key)
            for state in [s for s in self._systems if s[1] == conversation_id]:
                del self._systems[state]


def plan_conversation(
    turns: Sequence[Turn],
    tracker: ConversationTracker | None = None,
    *,
    user: str | None = None,
    conversation_id: str | None = None,
    system_as_context: bool = True,
) -> ConversationPlan:
    """Decide which Dify conversation a call continues and what it sends (see the module).

    Args:
        turns: The full message list of the call, oldest first.
        tracker: The adapter's record of what it already sent, if any.
        user: The end user of the call; part of every key of the record.
        conversation_id: An explicit conversation to continue (a per-call argument); it wins
            over anything else, and the history is then not resent.
        system_as_context: Whether system text travels in the query (``False``: the adapter
            puts it in an app variable).

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

    digest = _digest(user, history)
    history_key = digest.digest() if tracker is not None and history else None
    digest.update(_turn_bytes("user", query))

    chosen: str | None = None
    context: str | None = None
    source: Source = "new"
    if conversation_id:
        chosen, source = conversation_id, "explicit"
    elif history:
        last = next(
            (i for i in range(len(history) - 1, -1, -1) if history[i].role == "assistant"), None
        )
        named = history[last].conversation_id if last is not None else None
        if last is not None and named:
            unseen = history[last + 1 :]
            chosen, source = named, "history"
            context = render_transcript(unseen) if unseen else None
        elif history_key is not None and tracker is not None:
            chosen = tracker._lookup_key(history_key)
            source = "record" if chosen else "new"
        if chosen is None:
            context = render_transcript(history)

    known = tracker._system_of(user, chosen) if tracker is not None and chosen else None
    changed = system is not None and (known is None or known != _system_digest(system))
    send_system = False
    if system_as_context:
        send_system = system is not None and (chosen is None or changed)
    elif chosen is not None and system is not None and known is not None and changed:
        warnings.warn(
            "the system value changed for a continued Dify conversation, but Dify keeps a "
            "conversation's inputs from its first message, so the app variable keeps the old "
            "value; leave system_input_key/system_variable unset to send changing system "
            "content (such as retrieved context) with each turn",
            UserWarning,
            stacklevel=3,
        )
    return ConversationPlan(
        conversation_id=chosen,
        query=query,
        context=context,
        system=system,
        user=user,
        source=source,
        send_system=send_system,
        system_as_context=system_as_context,
        _digest=digest,
    )
