"""The "Release notes" workflow: turn a list of commit subjects into release notes.

Understands conventional-commit subjects (``feat(restore): ... (#123)``, ``fix: ...``,
``feat!: ...``, ``BREAKING CHANGE: ...``, ``security: ...``, ``perf: ...``); lines of other
kinds (``chore``, ``docs``, ``test``, ``ci``, merges) are left out of the notes and counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["RELEASE_NOTES_STEPS", "release_notes"]

State = dict[str, Any]

_SUBJECT = re.compile(
    r"^(?:[-*]\s*)?(?P<kind>[a-zA-Z ]+?)(?:\((?P<scope>[^)]+)\))?(?P<bang>!)?:\s*(?P<text>.+)$"
)
_ISSUE = re.compile(r"\s*\(#(\d+)\)\s*$")
_SECTIONS = {
    "breaking": "Breaking changes",
    "security": "Security",
    "feat": "Features",
    "perf": "Performance",
    "fix": "Fixes",
}


def parse_changes(state: State) -> State:
    """Split the input into entries with kind, scope, text and issue number."""
    entries: list[dict[str, Any]] = []
    skipped = 0
    for raw in str(state["changes"]).splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _SUBJECT.match(line)
        if match is None:
            skipped += 1
            continue
        kind = match["kind"].strip().lower()
        if kind == "breaking change" or match["bang"]:
            kind = "breaking"
        if kind not in _SECTIONS:
            skipped += 1
            continue
        text = match["text"].strip()
        issue = _ISSUE.search(text)
        entries.append(
            {
                "kind": kind,
                "scope": match["scope"],
                "text": _ISSUE.sub("", text),
                "issue": int(issue.group(1)) if issue else None,
            }
        )
    return {**state, "entries": entries, "skipped": skipped}


def group_entries(state: State) -> State:
    """Group entries by section, in the order readers care about."""
    groups: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _SECTIONS}
    for entry in state["entries"]:
        groups[entry["kind"]].append(entry)
    for items in groups.values():
        items.sort(key=lambda e: (e["scope"] or "", e["text"].lower()))
    counts = {_SECTIONS[k]: len(v) for k, v in groups.items() if v}
    return {**state, "groups": groups, "counts": counts}


def render_markdown(state: State) -> State:
    """Write the markdown notes."""
    lines = [f"## Stowaway {state['version']}".rstrip(), ""]
    for kind, title in _SECTIONS.items():
        items = state["groups"][kind]
        if not items:
            continue
        lines.append(f"### {title}")
        for e in items:
            text = e["text"][0].upper() + e["text"][1:]
            scope = f"**{e['scope']}**: " if e["scope"] else ""
            issue = f" (#{e['issue']})" if e["issue"] is not None else ""
            lines.append(f"- {scope}{text}{issue}")
        lines.append("")
    if not state["entries"]:
        lines.append("No user-facing changes.")
    return {**state, "notes": "\n".join(lines).rstrip() + "\n"}


RELEASE_NOTES_STEPS: list[tuple[str, Callable[[State], State]]] = [
    ("Parse changes", parse_changes),
    ("Group by kind", group_entries),
    ("Render markdown", render_markdown),
]
"""The nodes of the workflow, in order: (title, function from state to state)."""


def release_notes(inputs: dict[str, Any]) -> dict[str, Any]:
    """Run every step over the workflow inputs and return the outputs.

    Args:
        inputs: ``version`` (text) and ``changes`` (one commit subject per line).

    Returns:
        ``notes`` (markdown), ``counts`` (entries per section), ``breaking`` (bool) and
        ``skipped`` (lines left out).
    """
    changes = str(inputs.get("changes") or "")
    if not changes.strip():
        raise ValueError("changes is required")
    state: State = {"version": str(inputs.get("version") or "").strip(), "changes": changes}
    for _, step in RELEASE_NOTES_STEPS:
        state = step(state)
    return {
        "notes": state["notes"],
        "counts": state["counts"],
        "breaking": bool(state["groups"]["breaking"]),
        "skipped": state["skipped"],
    }
