"""The "Ticket triage" workflow: classify a support ticket and extract its facts.

Pure functions over the ticket text, run as the nodes of a workflow app on the local
server. The rules follow the Stowaway handbook (error codes, severities, SLAs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["TRIAGE_STEPS", "triage"]

State = dict[str, Any]

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


def extract_entities(state: State) -> State:
    """Find error codes, agent versions, snapshot ids, emails and platforms."""
    text: str = state["ticket"]
    lowered = f" {text.lower()} "
    codes = sorted({m.group(1) for m in _ERROR_CODE.finditer(text)})
    return {
        **state,
        "error_codes": [f"STW-{c}" for c in codes],
        "agent_versions": sorted(set(_VERSION.findall(text))),
        "snapshot_ids": sorted(set(_SNAPSHOT.findall(text))),
        "contacts": sorted(set(_EMAIL.findall(text))),
        "platforms": sorted({name for key, name in _PLATFORMS.items() if key in lowered}),
    }


def classify(state: State) -> State:
    """Score each category by keywords, with error codes counting double."""
    lowered = state["ticket"].lower()
    scores = {cat: sum(lowered.count(k) for k in words) for cat, words in _KEYWORDS.items()}
    scores["security"] *= 2  # a possible incident outweighs everything else it mentions
    for code in state["error_codes"]:
        scores[_CODE_CATEGORY.get(code[4:], "backup-failure")] += 2
    total = sum(scores.values())
    category = max(scores, key=lambda c: (scores[c], c == "backup-failure"))
    if total == 0:
        category = "general"
    return {
        **state,
        "category": category,
        "confidence": round(scores.get(category, 0) / total, 2) if total else 0.0,
    }


def prioritise(state: State) -> State:
    """Pick the severity (P1-P4) and the first-response target of the customer's plan."""
    lowered = state["ticket"].lower()
    if state["category"] == "security" or any(m in lowered for m in _P1_MARKERS):
        priority = "P1"
    elif any(m in lowered for m in _P4_MARKERS):
        priority = "P4"
    elif state["category"] == "backup-failure" or state["error_codes"]:
        priority = "P2"
    else:
        priority = "P3"
    plan = state.get("plan") or "Starter"
    plan = plan if plan in _SLA else "Starter"
    return {**state, "priority": priority, "plan": plan, "response_target": _SLA[plan][priority]}


def suggest_articles(state: State) -> State:
    """List the handbook articles an agent should read first, most specific first."""
    titles = [_CODE_ARTICLE[c[4:]] for c in state["error_codes"] if c[4:] in _CODE_ARTICLE]
    if state["category"] in _CATEGORY_ARTICLE:
        titles.append(_CATEGORY_ARTICLE[state["category"]])
    if any(v.startswith("3.") for v in state["agent_versions"]):
        titles.append("Agent updates and supported versions")
    seen: list[str] = []
    for title in titles:
        if title not in seen:
            seen.append(title)
    summary = (
        f"{state['priority']} {state['category']} ticket"
        + (f" about {', '.join(state['error_codes'])}" if state["error_codes"] else "")
        + (f" on {', '.join(state['platforms'])}" if state["platforms"] else "")
        + f"; first response due within {state['response_target']} ({state['plan']} plan)"
    )
    return {**state, "suggested_articles": seen, "summary": summary}


TRIAGE_STEPS: list[tuple[str, Callable[[State], State]]] = [
    ("Extract entities", extract_entities),
    ("Classify", classify),
    ("Prioritise", prioritise),
    ("Suggest articles", suggest_articles),
]
"""The nodes of the workflow, in order: (title, function from state to state)."""

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


def triage(inputs: dict[str, Any]) -> dict[str, Any]:
    """Run every step over the workflow inputs and return the outputs.

    Args:
        inputs: ``ticket`` (required text) and ``plan`` (optional: Starter, Team, Business).

    Returns:
        The workflow outputs (category, priority, extracted facts, suggested articles).
    """
    ticket = str(inputs.get("ticket") or "").strip()
    if not ticket:
        raise ValueError("ticket is required")
    state: State = {"ticket": ticket, "plan": inputs.get("plan")}
    for _, step in TRIAGE_STEPS:
        state = step(state)
    return {key: state[key] for key in OUTPUT_KEYS}
