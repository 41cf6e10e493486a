"""The "Ticket triage" workflow: classify a support ticket and extract its facts.

Pure functions over the ticket text, each run as one node of a workflow app on the local
server. The rules follow the Stowaway handbook (error codes, severities, SLAs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["OUTPUT_KEYS", "TRIAGE_STEPS", "triage", "triage_nodes"]

Values = dict[str, Any]
"""The workflow's variables: its inputs and the outputs of the nodes run so far."""
Outputs = dict[str, Any]
Step = Callable[[Values], Outputs]

_ERROR_CODE = re.compile(r"\bSTW-(\d{3})\b", re.IGNORECASE)
_VERSION = re.compile(r"\b(\d+\.\d+\.\d+)\b")
_SNAPSHOT = re.compile(r"\bsnp_[0-9a-f]{8}\b")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PLATFORMS = {
    "windows": "Windows",
    "macos": "macOS",
    "mac ": "macOS",
    "linux": "Linux",
    "ubuntu": "Linux",
    "debian": "Linux",
    "rhel": "Linux",
    "kubernetes": "Kubernetes",
    "postgres": "PostgreSQL",
    "mysql": "MySQL",
}

# Which category an error code points to (handbook: "Error code reference").
_CODE_CATEGORY = {
    "101": "account-access",
    "204": "billing",
    "310": "backup-failure",
    "402": "backup-failure",
    "417": "backup-failure",
    "503": "backup-failure",
    "612": "restore",
    "720": "backup-failure",
    "805": "backup-failure",
}
_CODE_ARTICLE = {
    "101": "Enrollment tokens and device limits",
    "204": "Plans and pricing",
    "310": "Backup sets and schedules",
    "402": "Troubleshooting failed backups",
    "417": "Troubleshooting failed backups",
    "503": "Error code reference",
    "612": "Troubleshooting restores",
    "720": "Installing the agent on Windows",
    "805": "Snapshots and deduplication",
}
_KEYWORDS = {
    "billing": ("invoice", "charge", "refund", "price", "plan", "billing", "vat", "card"),
    "restore": ("restore", "recover", "passphrase", "download", "rollback", "point-in-time"),
    "installation": ("install", "enroll", "msi", "pkg", "upgrade", "agent version", "helm"),
    "backup-failure": ("fail", "failed", "error", "skipped", "slow", "stuck", "timeout"),
    "security": ("ransomware", "compromised", "breach", "leak", "stolen", "phishing"),
    "account-access": ("sso", "saml", "locked out", "sign in", "2fa", "login", "token"),
}
_CATEGORY_ARTICLE = {
    "billing": "Billing, invoices and refunds",
    "restore": "Restoring files",
    "installation": "Agent updates and supported versions",
    "backup-failure": "Troubleshooting failed backups",
    "security": "Reporting a security incident",
    "account-access": "Users, roles and single sign-on",
}
_P1_MARKERS = (
    "cannot restore",
    "can't restore",
    "data loss",
    "lost data",
    "ransomware",
    "compromised",
    "breach",
    "production is down",
    "production down",
)
_P4_MARKERS = ("feature request", "would be nice", "could you add", "suggestion")
# First-response targets per plan (handbook: "Support, severities and SLAs").
_SLA = {
    "Business": {
        "P1": "1 hour, 24/7",
        "P2": "4 hours",
        "P3": "1 business day",
        "P4": "5 business days",
    },
    "Team": {
        "P1": "4 business hours",
        "P2": "1 business day",
        "P3": "1 business day",
        "P4": "5 business days",
    },
    "Starter": {
        "P1": "2 business days",
        "P2": "2 business days",
        "P3": "2 business days",
        "P4": "best effort",
    },
}


def _ticket(values: Values) -> str:
    ticket = str(values.get("ticket") or "").strip()
    if not ticket:
        raise ValueError("ticket is required")
    return ticket


def extract_identifiers(values: Values) -> Outputs:
    """Find error codes, agent versions, snapshot ids, contact emails and platforms."""
    text = _ticket(values)
    lowered = f" {text.lower()} "
    codes = sorted({m.group(1) for m in _ERROR_CODE.finditer(text)})
    return {
        "error_codes": [f"STW-{c}" for c in codes],
        "agent_versions": sorted(set(_VERSION.findall(text))),
        "snapshot_ids": sorted(set(_SNAPSHOT.findall(text))),
        "contacts": sorted(set(_EMAIL.findall(text))),
        "platforms": sorted({name for key, name in _PLATFORMS.items() if key in lowered}),
    }


def classify(values: Values) -> Outputs:
    """Score each category by keywords, with error codes counting double."""
    lowered = _ticket(values).lower()
    scores = {cat: sum(lowered.count(k) for k in words) for cat, words in _KEYWORDS.items()}
    scores["security"] *= 2  # a possible incident outweighs everything else it mentions
    for code in values["error_codes"]:
        scores[_CODE_CATEGORY.get(code[4:], "backup-failure")] += 2
    total = sum(scores.values())
    category = max(scores, key=lambda c: (scores[c], c == "backup-failure"))
    if total == 0:
        category = "general"
    return {
        "category": category,
        "confidence": round(scores.get(category, 0) / total, 2) if total else 0.0,
    }


def prioritise(values: Values) -> Outputs:
    """Pick the severity (P1-P4) and the first-response target of the customer's plan."""
    lowered = _ticket(values).lower()
    if values["category"] == "security" or any(m in lowered for m in _P1_MARKERS):
        priority = "P1"
    elif any(m in lowered for m in _P4_MARKERS):
        priority = "P4"
    elif values["category"] == "backup-failure" or values["error_codes"]:
        priority = "P2"
    else:
        priority = "P3"
    plan = values.get("plan") or "Starter"
    plan = plan if plan in _SLA else "Starter"
    return {"priority": priority, "plan": plan, "response_target": _SLA[plan][priority]}


def suggest_articles(values: Values) -> Outputs:
    """List the handbook articles an agent should read first, most specific first."""
    codes = [c[4:] for c in values["error_codes"]]
    titles = [_CODE_ARTICLE[c] for c in codes if c in _CODE_ARTICLE]
    if values["category"] in _CATEGORY_ARTICLE:
        titles.append(_CATEGORY_ARTICLE[values["category"]])
    if any(v.startswith("3.") for v in values["agent_versions"]):
        titles.append("Agent updates and supported versions")
    return {"suggested_articles": list(dict.fromkeys(titles))}


def summarise(values: Values) -> Outputs:
    """Write the one-line summary and collect the workflow's outputs (``OUTPUT_KEYS``)."""
    summary = (
        f"{values['priority']} {values['category']} ticket"
        + (f" about {', '.join(values['error_codes'])}" if values["error_codes"] else "")
        + (f" on {', '.join(values['platforms'])}" if values["platforms"] else "")
        + f"; first response due within {values['response_target']} ({values['plan']} plan)"
    )
    outputs = {key: values[key] for key in OUTPUT_KEYS if key != "summary"}
    outputs["summary"] = summary
    return outputs


OUTPUT_KEYS = (
    "category",
    "confidence",
    "priority",
    "response_target",
    "error_codes",
    "agent_versions",
    "snapshot_ids",
    "platforms",
    "suggested_articles",
    "summary",
)
"""The workflow's outputs, in order."""

TRIAGE_STEPS: list[tuple[str, Step]] = [
    ("Extract identifiers", extract_identifiers),
    ("Classify", classify),
    ("Prioritise", prioritise),
    ("Suggest articles", suggest_articles),
    ("Summarise", summarise),
]
"""The nodes of the workflow, in order: (title, function from the values to its outputs).

Each function gets the workflow inputs merged with the outputs of the nodes before it
(as a Dify workflow's variables) and returns only what it adds; the last one returns the
workflow outputs.
"""


def triage_nodes() -> list[dict[str, Any]]:
    """The ``nodes`` of the "Ticket Triage" app for ``DifyTestServer.create_workflow_app``."""
    return [{"title": title, "node_type": "code", "run": step} for title, step in TRIAGE_STEPS]


def triage(inputs: dict[str, Any]) -> dict[str, Any]:
    """Run every step over the workflow inputs, as the workflow app does, and return its outputs.

    Args:
        inputs: ``ticket`` (required text) and ``plan`` (optional: Starter, Team, Business).

    Returns:
        The workflow outputs (category, priority, extracted facts, suggested articles).

    Raises:
        ValueError: The ticket is empty.
    """
    values: Values = dict(inputs)
    outputs: Outputs = {}
    for _, step in TRIAGE_STEPS:
        outputs = step(values)
        values.update(outputs)
    return outputs
