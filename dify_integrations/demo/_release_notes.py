"""The "Release notes" workflow: turn a list of commit subjects into release notes.

Understands conventional-commit subjects (``feat(restore): ... (#123)``, ``fix: ...``,
``feat!: ...``, ``BREAKING CHANGE: ...``, ``security: ...``, ``perf: ...``); lines of other
kinds (``chore``, ``docs``, ``test``, ``ci``, merges) are left out of the notes and counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["RELEASE_NOTES_STEPS", "release_notes", "release_notes_nodes"]

Values = dict[str, Any]
"""The workflow's variables: its inputs and the outputs of the nodes run so far."""
Outputs = dict[str, Any]
Step = Callable[[Values], Outputs]

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


def parse_changes(values: Values) -> Outputs:
    """Split the input into entries with kind, scope, text and issue number."""
    changes = str(values.get("changes") or "")
    if not changes.strip():
        raise ValueError("changes is required")
    entries: list[dict[str, Any]] = []
    skipped = 0
    for raw in changes.splitlines():
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
    return {"entries": entries, "skipped": skipped}


def group_entries(values: Values) -> Outputs:
    """Group entries by section, in the order readers care about, and count them."""
    groups: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _SECTIONS}
    for entry in values["entries"]:
        groups[entry["kind"]].append(entry)
    for items in groups.values():
        items.sort(key=lambda e: (e["scope"] or "", e["text"].lower()))
    counts = {_SECTIONS[k]: len(v) for k, v in groups.items() if v}
    return {"groups": groups, "counts": counts, "breaking": bool(groups["breaking"])}


def render_markdown(values: Values) -> Outputs:
    """Write the markdown notes and collect the workflow's outputs."""
    lines = [f"## Stowaway {str(values.get('version') or '').strip()}".rstrip(), ""]
    for kind, title in _SECTIONS.items():
        items = values["groups"][kind]
        if not items:
            continue
        lines.append(f"### {title}")
        for e in items:
            text = e["text"][0].upper() + e["text"][1:]
            scope = f"**{e['scope']}**: " if e["scope"] else ""
            issue = f" (#{e['issue']})" if e["issue"] is not None else ""
            lines.append(f"- {scope}{text}{issue}")
        lines.append("")
    if not values["entries"]:
        lines.append("No user-facing changes.")
    return {
        "notes": "\n".join(lines).rstrip() + "\n",
        "counts": values["counts"],
        "breaking": values["breaking"],
        "skipped": values["skipped"],
    }


RELEASE_NOTES_STEPS: list[tuple[str, Step]] = [
    ("Parse changes", parse_changes),
    ("Group by kind", group_entries),
    ("Render markdown", render_markdown),
]
"""The nodes of the workflow, in order: (title, function from the values to its outputs).

Each function gets the workflow inputs merged with the outputs of the nodes before it and
returns only what it adds; the last one returns the workflow outputs.
"""


def release_notes_nodes() -> list[dict[str, Any]]:
    """The ``nodes`` of the "Release Notes" app for ``DifyTestServer.create_workflow_app``."""
    return [
        {"title": title, "node_type": "code", "run": step} for title, step in RELEASE_NOTES_STEPS
    ]


def release_notes(inputs: dict[str, Any]) -> dict[str, Any]:
    """Run every step over the workflow inputs, as the workflow app does, and return its outputs.

    Args:
        inputs: ``version`` (text) and ``changes`` (one commit subject per line).

    Returns:
        ``notes`` (markdown), ``counts`` (entries per section), ``breaking`` (bool) and
        ``skipped`` (lines left out).

    Raises:
        ValueError: ``changes`` is empty.
    """
    values: Values = dict(inputs)
    outputs: Outputs = {}
    for _, step in RELEASE_NOTES_STEPS:
        outputs = step(values)
        values.update(outputs)
    return outputs
