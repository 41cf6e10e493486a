"""The human-input round trip, framework-free: which form to answer and which run to follow.

Adapters report a paused run with its forms (``human_input``: ``form_token``,
``workflow_run_id``...). To resume, they submit one form and follow the run's events;
:func:`pick_form` finds the form (and the run) in what they reported, or says clearly why
it cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["pick_form"]


def pick_form(
    forms: Sequence[Mapping[str, Any]] | None,
    *,
    form_token: str | None = None,
    workflow_run_id: str | None = None,
) -> tuple[str, str]:
    """The ``(form_token, workflow_run_id)`` to answer among a paused run's forms.

    Args:
        forms: The ``human_input`` forms a paused answer carried.
        form_token: Answer this form (required when there are several).
        workflow_run_id: The run, when the forms do not name it.

    Raises:
        ValueError: No forms (the answer is not paused), several forms and no
            ``form_token``, an unknown ``form_token``, or no run id.
    """
    items = [dict(f) for f in forms or []]
    if not items:
        raise ValueError("this answer is not paused: it carries no human_input form to answer")
    if form_token is not None:
        chosen = next((f for f in items if f.get("form_token") == form_token), None)
        if chosen is None:
            raise ValueError(f"no form with form_token {form_token!r} in this answer")
    elif len(items) > 1:
        raise ValueError(f"this answer waits on {len(items)} forms: pass form_token= to pick one")
    else:
        chosen = items[0]
    token = chosen.get("form_token")
    run_id = chosen.get("workflow_run_id") or workflow_run_id
    if not token:
        raise ValueError("the form has no form_token (Dify did not deliver it to the API)")
    if not run_id:
        raise ValueError("the paused answer names no workflow_run_id to resume")
    return str(token), str(run_id)
