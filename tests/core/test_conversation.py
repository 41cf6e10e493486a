"""The multi-turn rule (pure): which conversation a call continues and what it sends."""

from __future__ import annotations

import warnings

import pytest

from dify_integrations.core.conversation import (
    ConversationTracker,
    Turn,
    plan_conversation,
    render_transcript,
)


def _record(
    tracker: ConversationTracker,
    turns: list[Turn],
    answer: str,
    conversation_id: str | None,
    *,
    user: str | None = None,
) -> None:
    """Plan a call of ``turns`` and record that Dify answered it in ``conversation_id``."""
    plan = plan_conversation(turns, tracker, user=user)
    tracker.record(plan, answer, conversation_id)


def test_first_turn_starts_a_new_conversation() -> None:
    plan = plan_conversation([Turn("user", "hello")], ConversationTracker())
    assert plan.conversation_id is None
    assert plan.query == "hello"
    assert plan.context is None
    assert plan.render_query() == "hello"


def test_tracker_recognises_the_history_it_recorded() -> None:
    tracker = ConversationTracker()
    turns = [Turn("user", "hello")]
    _record(tracker, turns, "hi there", "conv-1")
    follow_up = [*turns, Turn("assistant", "hi there"), Turn("user", "and then?")]
    plan = plan_conversation(follow_up, tracker)
    assert plan.conversation_id == "conv-1"
    assert plan.source == "record"
    assert plan.query == "and then?"
    assert plan.context is None
    assert plan.render_query() == "and then?"


def test_tracker_ignores_system_turns_in_the_fingerprint() -> None:
    tracker = ConversationTracker()
    _record(tracker, [Turn("system", "be brief"), Turn("user", "q1")], "a1", "conv-9")
    same = [Turn("system", "be brief"), Turn("user", "q1"), Turn("assistant", "a1")]
    plan = plan_conversation([*same, Turn("user", "q2")], tracker)
    assert plan.conversation_id == "conv-9"
    # the same system text is not resent into the conversation that received it
    assert plan.render_query() == "q2"
    changed = [Turn("system", "be terse"), *same[1:], Turn("user", "q2")]
    plan = plan_conversation(changed, tracker)
    assert plan.conversation_id == "conv-9"
    # a changed system text is sent with the turn, in front of the query
    assert plan.render_query() == "Instructions:\nbe terse\n\nCurrent message:\nq2"


def test_the_user_is_part_of_the_record_key() -> None:
    tracker = ConversationTracker()
    _record(tracker, [Turn("user", "hi")], "Hello!", "conv-alice", user="alice")
    follow_up = [Turn("user", "hi"), Turn("assistant", "Hello!"), Turn("user", "q2")]
    assert plan_conversation(follow_up, tracker, user="alice").conversation_id == "conv-alice"
    plan = plan_conversation(follow_up, tracker, user="bob")
    assert plan.conversation_id is None
    assert plan.context == "User: hi\nAssistant: Hello!"


def test_a_history_two_conversations_share_is_never_matched() -> None:
    tracker = ConversationTracker()
    _record(tracker, [Turn("user", "hi")], "Hello!", "conv-1")
    _record(tracker, [Turn("user", "hi")], "Hello!", "conv-2")
    follow_up = [Turn("user", "hi"), Turn("assistant", "Hello!"), Turn("user", "q2")]
    plan = plan_conversation(follow_up, tracker)
    assert plan.conversation_id is None
    assert plan.source == "new"
    assert plan.context == "User: hi\nAssistant: Hello!"
    # and it stays ambiguous when a third session records it again
    _record(tracker, [Turn("user", "hi")], "Hello!", "conv-1")
    assert plan_conversation(follow_up, tracker).conversation_id is None


def test_a_forgotten_history_stays_ambiguous() -> None:
    tracker = ConversationTracker(max_entries=1)
    _record(tracker, [Turn("user", "hi")], "Hello!", "conv-old")
    _record(tracker, [Turn("user", "other")], "x", "conv-other")  # evicts the first
    _record(tracker, [Turn("user", "hi")], "Hello!", "conv-new")  # another session
    follow_up = [Turn("user", "hi"), Turn("assistant", "Hello!"), Turn("user", "q2")]
    assert plan_conversation(follow_up, tracker).conversation_id is None


def test_history_naming_a_conversation_wins_over_the_record() -> None:
    tracker = ConversationTracker()
    _record(tracker, [Turn("user", "q1")], "a1", "conv-Y")
    turns = [Turn("user", "q1"), Turn("assistant", "a1", "conv-X"), Turn("user", "q2")]
    plan = plan_conversation(turns, tracker)
    assert (plan.conversation_id, plan.source) == ("conv-X", "history")


def test_only_the_most_recent_assistant_turn_names_the_conversation() -> None:
    turns = [
        Turn("user", "q1"),
        Turn("assistant", "a1", "conv-X"),
        Turn("user", "q2"),
        Turn("assistant", "from elsewhere"),
        Turn("user", "q3"),
    ]
    plan = plan_conversation(turns, ConversationTracker())
    assert plan.conversation_id is None
    assert plan.context is not None
    assert "from elsewhere" in plan.context


def test_a_changed_system_value_for_an_app_variable_warns() -> None:
    tracker = ConversationTracker()
    first = plan_conversation(
        [Turn("system", "ctx 1"), Turn("user", "q1")], tracker, system_as_context=False
    )
    assert first.render_query() == "q1"
    tracker.record(first, "a1", "conv-1")
    history = [Turn("user", "q1"), Turn("assistant", "a1", "conv-1"), Turn("user", "q2")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = plan_conversation(
            [Turn("system", "ctx 1"), *history], tracker, system_as_context=False
        )
    assert same.render_query() == "q2"
    with pytest.warns(UserWarning, match="keeps a conversation's inputs"):
        plan_conversation([Turn("system", "ctx 2"), *history], tracker, system_as_context=False)


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
    assert plan.render_query().endswith("Current message:\nq2")


def test_foreign_history_starts_a_new_conversation_with_context() -> None:
    turns = [Turn("user", "q1"), Turn("assistant", "a1"), Turn("user", "q2")]
    plan = plan_conversation(turns, ConversationTracker())
    assert plan.conversation_id is None
    assert plan.context == "User: q1\nAssistant: a1"
    rendered = plan.render_query()
    assert "User: q1" in rendered
    assert "Assistant: a1" in rendered
    assert rendered.endswith("q2")


def test_system_goes_into_the_first_query_only_when_asked() -> None:
    turns = [Turn("system", "You are terse."), Turn("user", "hi")]
    plan = plan_conversation(turns, system_as_context=False)
    assert plan.system == "You are terse."
    assert plan.render_query() == "hi"
    with_system = plan_conversation(turns).render_query()
    assert with_system.startswith("Instructions:\nYou are terse.")
    assert with_system.endswith("hi")


def test_explicit_conversation_id_wins() -> None:
    tracker = ConversationTracker()
    _record(tracker, [Turn("user", "q1")], "a1", "conv-1")
    turns = [Turn("user", "q1"), Turn("assistant", "a1", "conv-2"), Turn("user", "q2")]
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
        _record(tracker, [Turn("user", f"q{i}")], f"a{i}", f"conv-{i}")
    assert len(tracker) == 2
    assert tracker.lookup([Turn("user", "q0"), Turn("assistant", "a0")]) is None
    assert tracker.lookup([Turn("user", "q2"), Turn("assistant", "a2")]) == "conv-2"
    tracker.forget("conv-2")
    assert tracker.lookup([Turn("user", "q2"), Turn("assistant", "a2")]) is None
    _record(tracker, [Turn("user", "q")], "a", None)
    assert len(tracker) == 1
    with pytest.raises(ValueError, match="max_entries"):
        ConversationTracker(max_entries=0)


def test_render_transcript() -> None:
    assert render_transcript([Turn("user", "a"), Turn("assistant", "b")]) == "User: a\nAssistant: b"
