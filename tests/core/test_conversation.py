"""The multi-turn rule (pure): which conversation a call continues and what it sends."""

from __future__ import annotations

import pytest

from dify_integrations.core.conversation import (
    ConversationTracker,
    Turn,
    plan_conversation,
    render_transcript,
)


def test_first_turn_starts_a_new_conversation() -> None:
    plan = plan_conversation([Turn("user", "hello")], ConversationTracker())
    assert plan.conversation_id is None
    assert plan.query == "hello"
    assert plan.context is None
    assert plan.render_query(system_as_context=True) == "hello"


def test_tracker_recognises_the_history_it_recorded() -> None:
    tracker = ConversationTracker()
    turns = [Turn("user", "hello")]
    tracker.record(turns, "hi there", "conv-1")
    follow_up = [*turns, Turn("assistant", "hi there"), Turn("user", "and then?")]
    plan = plan_conversation(follow_up, tracker)
    assert plan.conversation_id == "conv-1"
    assert plan.query == "and then?"
    assert plan.context is None
    assert plan.render_query(system_as_context=True) == "and then?"


def test_tracker_ignores_system_turns_in_the_fingerprint() -> None:
    tracker = ConversationTracker()
    tracker.record([Turn("system", "be brief"), Turn("user", "q1")], "a1", "conv-9")
    plan = plan_conversation(
        [
            Turn("system", "be terse"),
            Turn("user", "q1"),
            Turn("assistant", "a1"),
            Turn("user", "q2"),
        ],
        tracker,
    )
    assert plan.conversation_id == "conv-9"
    assert plan.system == "be terse"
    # the system text is not resent into a continued conversation
    assert plan.render_query(system_as_context=True) == "q2"


def test_conversation_id_on_the_last_assistant_turn_is_continued() -> None:
    turns = [
        Turn("user", "q1"),
        Turn("assistant", "a1", conversation_id="conv-2"),
        Turn("user", "q2"),
    ]
    plan = plan_conversation(turns, ConversationTracker())
    assert plan.conversation_id == "conv-2"
    assert plan.context is None


def test_unseen_user_turns_after_the_known_answer_go_as_context_once() -> None:
    turns = [
        Turn("user", "q1"),
        Turn("assistant", "a1", conversation_id="conv-2"),
        Turn("user", "side note"),
        Turn("user", "q2"),
    ]
    plan = plan_conversation(turns)
    assert plan.conversation_id == "conv-2"
    assert plan.context == "User: side note"
    assert plan.render_query(system_as_context=False).endswith("Current message:\nq2")


def test_foreign_history_starts_a_new_conversation_with_context() -> None:
    turns = [Turn("user", "q1"), Turn("assistant", "a1"), Turn("user", "q2")]
    plan = plan_conversation(turns, ConversationTracker())
    assert plan.conversation_id is None
    assert plan.context == "User: q1\nAssistant: a1"
    rendered = plan.render_query(system_as_context=False)
    assert "User: q1" in rendered
    assert "Assistant: a1" in rendered
    assert rendered.endswith("q2")


def test_system_goes_into_the_first_query_only_when_asked() -> None:
    plan = plan_conversation([Turn("system", "You are terse."), Turn("user", "hi")])
    assert plan.system == "You are terse."
    assert plan.render_query(system_as_context=False) == "hi"
    with_system = plan.render_query(system_as_context=True)
    assert with_system.startswith("Instructions:\nYou are terse.")
    assert with_system.endswith("hi")


def test_explicit_conversation_id_wins() -> None:
    tracker = ConversationTracker()
    tracker.record([Turn("user", "q1")], "a1", "conv-1")
    turns = [Turn("user", "q1"), Turn("assistant", "a1"), Turn("user", "q2")]
    plan = plan_conversation(turns, tracker, conversation_id="conv-explicit")
    assert plan.conversation_id == "conv-explicit"
    assert plan.context is None


@pytest.mark.parametrize(
    "turns",
    [
        [],
        [Turn("system", "only system")],
        [Turn("user", "q"), Turn("assistant", "a")],
        [Turn("user", "   ")],
    ],
)
def test_bad_message_lists_are_rejected(turns: list[Turn]) -> None:
    with pytest.raises(ValueError, match=r"user|empty"):
        plan_conversation(turns)


def test_tracker_is_bounded_and_forgets() -> None:
    tracker = ConversationTracker(max_entries=2)
    for i in range(3):
        tracker.record([Turn("user", f"q{i}")], f"a{i}", f"conv-{i}")
    assert len(tracker) == 2
    assert tracker.lookup([Turn("user", "q0"), Turn("assistant", "a0")]) is None
    assert tracker.lookup([Turn("user", "q2"), Turn("assistant", "a2")]) == "conv-2"
    tracker.forget("conv-2")
    assert tracker.lookup([Turn("user", "q2"), Turn("assistant", "a2")]) is None
    tracker.record([Turn("user", "q")], "a", None)
    assert len(tracker) == 1
    with pytest.raises(ValueError, match="max_entries"):
        ConversationTracker(max_entries=0)


def test_render_transcript() -> None:
    assert render_transcript([Turn("user", "a"), Turn("assistant", "b")]) == "User: a\nAssistant: b"
