"""The demo content (handbook, responder, workflow handlers) and the demo runner."""

from __future__ import annotations

import io
import re

import pytest

from dify_integrations import DifyClient
from dify_integrations.core.events import NodeFinishedEvent
from dify_integrations.demo import (
    ENV_VARS,
    handbook_articles,
    handbook_documents,
    load_demo,
    run_demo,
    target_from_env,
)
from dify_integrations.demo._release_notes import RELEASE_NOTES_STEPS, release_notes
from dify_integrations.demo._responders import grounded_answer, split_prompt
from dify_integrations.demo._runner import DemoConfigError
from dify_integrations.demo._triage import OUTPUT_KEYS, TRIAGE_STEPS, triage
from dify_integrations.testing import DifyTestServer


@pytest.fixture(scope="module")
def server() -> DifyTestServer:
    with DifyTestServer() as srv:
        yield srv


# --------------------------------------------------------------------------- handbook


def test_handbook_is_a_few_dozen_articles_of_one_domain() -> None:
    articles = handbook_articles()
    assert len(articles) >= 30
    assert len({a.name for a in articles}) == len(articles)
    assert len({a.title for a in articles}) == len(articles)
    for article in articles:
        assert article.title
        assert article.category
        assert len(article.text.split()) > 80, article.name
        assert not article.text.startswith("---")


def test_handbook_documents_carry_title_and_category() -> None:
    docs = handbook_documents()
    assert len(docs) == len(handbook_articles())
    assert {"name", "text", "metadata"} <= set(docs[0])
    assert set(docs[0]["metadata"]) == {"title", "category"}  # type: ignore[arg-type]


# --------------------------------------------------------------------------- triage


def test_triage_extracts_and_classifies() -> None:
    out = triage(
        {
            "ticket": "Backups of host web-1 (Ubuntu) fail with STW-402 and stw-417 since agent "
            "4.3.0; snapshot snp_7f3a9c21 is the last good one. Contact: ana@acme.example",
            "plan": "Team",
        }
    )
    assert out["error_codes"] == ["STW-402", "STW-417"]
    assert out["agent_versions"] == ["4.3.0"]
    assert out["snapshot_ids"] == ["snp_7f3a9c21"]
    assert out["platforms"] == ["Linux"]
    assert out["category"] == "backup-failure"
    assert out["priority"] == "P2"
    assert out["response_target"] == "1 business day"
    assert out["suggested_articles"][0] == "Troubleshooting failed backups"
    assert "STW-402" in out["summary"]


@pytest.mark.parametrize(
    ("ticket", "plan", "priority", "category"),
    [
        (
            "Ransomware hit our office, can we restore yesterday's snapshot?",
            "Business",
            "P1",
            "security",
        ),
        ("Feature request: it would be nice to restore to Azure Blob.", "Team", "P4", "restore"),
        ("Why was my card charged twice on the last invoice?", None, "P3", "billing"),
        ("Restore asks for a passphrase and fails with STW-612", "Starter", "P2", "restore"),
    ],
)
def test_triage_priorities(ticket: str, plan: str | None, priority: str, category: str) -> None:
    out = triage({"ticket": ticket, "plan": plan})
    assert out["priority"] == priority
    assert out["category"] == category


def test_triage_needs_a_ticket() -> None:
    with pytest.raises(ValueError, match="ticket"):
        triage({"ticket": "  "})


# --------------------------------------------------------------------------- release notes


def test_release_notes_groups_and_counts() -> None:
    out = release_notes(
        {
            "version": "9.9.9",
            "changes": "fix(agent): crash on start (#12)\nfeat: new thing\nchore: deps\n"
            "BREAKING CHANGE: config moved\nrandom line\nfeat(api)!: v3 endpoints (#40)\n",
        }
    )
    notes = out["notes"]
    assert notes.startswith("## Stowaway 9.9.9")
    assert out["counts"] == {"Breaking changes": 2, "Features": 1, "Fixes": 1}
    assert out["breaking"] is True
    assert out["skipped"] == 2
    assert "- **agent**: Crash on start (#12)" in notes
    assert (
        notes.index("### Breaking changes") < notes.index("### Features") < notes.index("### Fixes")
    )


def test_release_notes_needs_changes() -> None:
    with pytest.raises(ValueError, match="changes"):
        release_notes({"version": "1.0.0", "changes": ""})


# --------------------------------------------------------------------------- responder


def test_split_prompt() -> None:
    question, context = split_prompt("Excerpts:\nA is B.\n\nQuestion: what is A?")
    assert question == "what is A?"
    assert context is not None
    assert "A is B." in context
    assert split_prompt("just a question") == ("just a question", None)
    q, ctx = split_prompt("Context information is below.\n---\nX.\n---\nQuery: why?\nAnswer: ")
    assert q == "why?"
    assert ctx is not None
    assert "X." in ctx


def test_grounded_answer_uses_the_prompt_context() -> None:
    prompt = (
        "Handbook excerpts:\nThe sky is green on Mondays. Cats sleep 16 hours a day.\n\n"
        "Question: How long do cats sleep?"
    )
    assert grounded_answer(prompt, {}, [], []) == "Cats sleep 16 hours a day."


def test_grounded_answer_falls_back_to_the_handbook_and_follows_up() -> None:
    first = grounded_answer("Which plan do I need for SAML single sign-on?", {}, [], [])
    assert "Business plan" in first
    follow = grounded_answer(
        "Is there a free trial of it?", {}, [("Which plan do I need for SAML?", first)], []
    )
    assert "trial" in follow.lower()
    assert first not in follow
    assert "could not find" in grounded_answer("zzyzx qwerty", {}, [], [])


# --------------------------------------------------------------------------- loaded into a server


def test_load_demo_creates_working_apps(server: DifyTestServer) -> None:
    apps = load_demo(server)
    assert apps.base_url == server.base_url
    assert set(apps.workflow_app_keys) == {"ticket_triage", "release_notes"}
    env = apps.env()
    assert set(env) == set(ENV_VARS)
    with DifyClient(apps.dataset_api_key, base_url=apps.base_url) as kb:
        hits = kb.retrieve(apps.dataset_id, "recycle bin pruned snapshots").records
        assert hits
    inputs = {"ticket": "Restore fails with STW-612 on agent 4.2.3", "plan": "Team"}
    with DifyClient(apps.workflow_app_keys["ticket_triage"], base_url=apps.base_url) as wf:
        run = wf.run_workflow(inputs, user="test")
    assert run.data.outputs == triage(inputs)
    with DifyClient(apps.workflow_app_keys["ticket_triage"], base_url=apps.base_url) as wf:
        failed = wf.run_workflow({"ticket": " "}, user="test")
    assert failed.data.status == "failed"
    assert failed.data.error == "ticket is required"
    with DifyClient(apps.chat_app_key, base_url=apps.base_url) as chat:
        answer = chat.send_chat_message("What does STW-402 mean?", user="test")
    assert "STW-402" in answer.answer
    assert answer.metadata.retriever_resources


def _node_outputs(
    key: str, base_url: str, inputs: dict[str, str]
) -> list[tuple[str, dict[str, object]]]:
    """(title, outputs) of every node_finished event of a streamed run."""
    with (
        DifyClient(key, base_url=base_url, user="test") as client,
        client.stream_workflow(inputs) as stream,
    ):
        return [
            (str(e.data.title), dict(e.data.outputs or {}))
            for e in stream
            if isinstance(e, NodeFinishedEvent)
        ]


def test_triage_workflow_runs_one_node_per_step(server: DifyTestServer) -> None:
    apps = load_demo(server)
    inputs = {"ticket": "Restore of snp_0badc0de fails with STW-612 on macOS", "plan": "Team"}
    nodes = _node_outputs(apps.workflow_app_keys["ticket_triage"], apps.base_url, inputs)
    titles = [title for title, _ in nodes]
    assert titles == ["Start", *(title for title, _ in TRIAGE_STEPS), "End"]
    outputs = dict(nodes[1:-1])
    # each node reports only what it adds to the workflow's variables
    assert outputs["Extract identifiers"]["error_codes"] == ["STW-612"]
    assert outputs["Extract identifiers"]["snapshot_ids"] == ["snp_0badc0de"]
    assert outputs["Extract identifiers"]["platforms"] == ["macOS"]
    assert "category" not in outputs["Extract identifiers"]
    assert set(outputs["Classify"]) == {"category", "confidence"}
    assert outputs["Classify"]["category"] == "restore"
    assert outputs["Prioritise"] == {
        "priority": "P2",
        "plan": "Team",
        "response_target": "1 business day",
    }
    assert outputs["Suggest articles"]["suggested_articles"][0] == "Troubleshooting restores"
    assert tuple(outputs["Summarise"]) == OUTPUT_KEYS
    assert nodes[-1][1] == outputs["Summarise"] == triage(inputs)


def test_release_notes_workflow_runs_one_node_per_step(server: DifyTestServer) -> None:
    apps = load_demo(server)
    inputs = {"version": "1.2.3", "changes": "fix: a\nchore: b\nfeat!: c"}
    nodes = _node_outputs(apps.workflow_app_keys["release_notes"], apps.base_url, inputs)
    assert [t for t, _ in nodes] == ["Start", *(t for t, _ in RELEASE_NOTES_STEPS), "End"]
    outputs = dict(nodes[1:-1])
    assert len(outputs["Parse changes"]["entries"]) == 2
    assert outputs["Parse changes"]["skipped"] == 1
    assert outputs["Group by kind"]["counts"] == {"Breaking changes": 1, "Fixes": 1}
    assert outputs["Group by kind"]["breaking"] is True
    assert nodes[-1][1] == outputs["Render markdown"] == release_notes(inputs)
    assert outputs["Render markdown"]["notes"].startswith("## Stowaway 1.2.3")


# --------------------------------------------------------------------------- runner


def test_target_from_env() -> None:
    assert target_from_env({}) is None
    with pytest.raises(DemoConfigError, match="DIFY_CHAT_APP_KEY"):
        target_from_env({"DIFY_BASE_URL": "http://127.0.0.1:1/v1"})
    env = {name: f"value-{name}" for name in ENV_VARS}
    env["DIFY_WORKFLOW_APP_KEY"] = "app-a, app-b"
    target = target_from_env(env)
    assert target is not None
    assert target.workflow_app_keys == ("app-a", "app-b")
    assert not target.local


def _check_output(text: str) -> None:
    for heading in (
        "1. LangChain RAG chain",
        "2. LlamaIndex query engine",
        "3. Multi-turn",
        "4. Workflow tools",
        "5. Knowledge base ingestion",
        "6. Summary",
    ):
        assert heading in text
    assert "32 documents created and indexed, 0 failed" in text
    assert "re-run: 0 created, 32 skipped (no duplicates)" in text
    assert re.search(r"\[1\] 14-restore-files\.md", text)
    ids = re.findall(r"conversation_id ([0-9a-f-]{36})", text)
    assert len(ids) == 3
    assert len(set(ids)) == 1
    assert text.count("(same)") == 2
    assert "Citations (DifyRetriever):" in text
    assert "[1] " in text
    assert "Source nodes:" in text
    for number, (title, _) in enumerate(TRIAGE_STEPS, start=2):
        assert f"node {number}: {title} (code) succeeded" in text
    assert f"node {len(TRIAGE_STEPS) + 2}: End (end) succeeded" in text
    assert "priority: P2" in text
    assert "\x1b[" not in text  # no colours when not a terminal
    assert text.rstrip().endswith("Demo finished.")


def test_run_demo_local() -> None:
    out = io.StringIO()
    assert run_demo(token_delay=0.0, stream=out, environ={}) == 0
    text = out.getvalue()
    _check_output(text)
    assert "local DifyTestServer" in text
    assert "## Stowaway 4.4.0" in text
    for number, (title, _) in enumerate(RELEASE_NOTES_STEPS, start=2):
        assert f"node {number}: {title} (code) succeeded" in text


def test_run_demo_against_a_dify_from_the_environment(server: DifyTestServer) -> None:
    apps = load_demo(server)
    env = apps.env()
    env["DIFY_WORKFLOW_APP_KEY"] = apps.workflow_app_keys["ticket_triage"]
    out = io.StringIO()
    assert run_demo(stream=out, environ=env) == 0
    text = out.getvalue()
    _check_output(text)
    assert f"Dify at {server.base_url}" in text
