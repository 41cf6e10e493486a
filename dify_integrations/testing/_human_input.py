"""Human Input nodes of current Dify: forms that pause a run until a person answers.

A run that reaches a Human Input node streams ``human_input_required`` and
``workflow_paused``, and its response ends there. The run itself goes on living: its
events are pumped by a `RunChannel` in the background, and the generator waits on the
`PendingForm` until ``POST /form/human_input/{token}`` submits it (or it expires). Then
``GET /workflow/{run_id}/events`` streams the next leg: ``workflow_started`` (``reason:
resumption``), ``human_input_form_filled`` and the rest of the run.

A Human Input node spec (``create_chat_app(human_input=...)`` or a workflow node with
``"node_type": "human-input"``)::

    {"title": "Approve", "form_content": "Approve {{#sys.query#}}?",
     "inputs": [{"type": "paragraph", "output_variable_name": "comment"}],
     "actions": [{"id": "approve", "title": "Approve"}, {"id": "reject", "title": "Reject"}],
     "timeout": 3600}

The submitted ``inputs`` (and ``__action_id``) are merged into the run's values, so later
nodes (and a chatflow's responder, through its ``inputs``) see them.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import DifyHTTPError

DEFAULT_TIMEOUT = 3600.0
ACTION_KEY = "__action_id"
_SPEC_KEYS = frozenset(
    {"title", "node_type", "node_id", "form_content", "inputs", "actions", "timeout"}
)


def check_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a Human Input node spec and fill its defaults.

    Raises:
        ValueError: Unknown keys, no actions, or a non-positive timeout.
    """
    out = dict(spec)
    unknown = set(out) - _SPEC_KEYS
    if unknown:
        raise ValueError(f"human input node: unknown keys {sorted(unknown)}")
    actions = list(out.get("actions") or [{"id": "submit", "title": "Submit"}])
    for action in actions:
        if not isinstance(action, Mapping) or not action.get("id"):
            raise ValueError("human input node: every action needs an 'id'")
    out["actions"] = [
        {"id": str(a["id"]), "title": str(a.get("title", a["id"])), "button_style": "default"}
        for a in actions
    ]
    out["inputs"] = [dict(i) for i in out.get("inputs") or []]
    timeout = float(out.get("timeout", DEFAULT_TIMEOUT))
    if timeout <= 0:
        raise ValueError("human input node: timeout must be positive")
    out["timeout"] = timeout
    out.setdefault("title", "Human Input")
    out.setdefault("form_content", "Please review and continue.")
    out["node_type"] = "human-input"
    return out


@dataclass(eq=False)
class PendingForm:
    """A form a paused run waits on; submitted at most once."""

    token: str
    form_id: str
    app_id: str
    run_id: str
    user: str
    node_id: str
    node_title: str
    form_content: str
    inputs: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    expiration_time: int
    deadline: float
    submitted: dict[str, Any] | None = None
    timed_out: bool = False
    _future: asyncio.Future[dict[str, Any]] | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls, spec: Mapping[str, Any], *, app_id: str, run_id: str, user: str, node_id: str
    ) -> PendingForm:
        """A new form for ``spec`` (call on the server's event loop)."""
        timeout = float(spec["timeout"])
        form = cls(
            token=secrets.token_urlsafe(16),
            form_id=secrets.token_hex(8),
            app_id=app_id,
            run_id=run_id,
            user=user,
            node_id=node_id,
            node_title=str(spec["title"]),
            form_content=str(spec["form_content"]),
            inputs=list(spec["inputs"]),
            actions=list(spec["actions"]),
            expiration_time=int(time.time() + timeout),
            deadline=time.monotonic() + timeout,
        )
        form._future = asyncio.get_running_loop().create_future()
        return form

    @property
    def expired(self) -> bool:
        """Whether the form can no longer be submitted."""
        return self.timed_out or (self.submitted is None and time.monotonic() > self.deadline)

    def required_event_data(self) -> dict[str, Any]:
        """``data`` of ``human_input_required``."""
        return {
            "form_id": self.form_id,
            "node_id": self.node_id,
            "node_title": self.node_title,
            "form_content": self.form_content,
            "inputs": self.inputs,
            "actions": self.actions,
            "display_in_ui": True,
            "form_token": self.token,
            "resolved_default_values": self.default_values(),
            "expiration_time": self.expiration_time,
        }

    def default_values(self) -> dict[str, str]:
        """Constant defaults of paragraph inputs, by output variable name."""
        values: dict[str, str] = {}
        for item in self.inputs:
            default = item.get("default")
            if isinstance(default, Mapping) and default.get("type") == "constant":
                values[str(item.get("output_variable_name"))] = str(default.get("value", ""))
        return values

    def definition(self) -> dict[str, Any]:
        """Body of ``GET /form/human_input/{token}``."""
        return {
            "form_content": self.form_content,
            "inputs": self.inputs,
            "resolved_default_values": self.default_values(),
            "user_actions": self.actions,
            "expiration_time": self.expiration_time,
        }

    def check_open(self) -> None:
        """412 when the form was already submitted or has expired."""
        if self.submitted is not None:
            raise DifyHTTPError(412, "human_input_form_submitted", "Form already submitted.")
        if self.expired:
            raise DifyHTTPError(412, "human_input_form_expired", "Form has expired.")

    def submit(self, inputs: Mapping[str, Any], action: str) -> None:
        """Record the answer and wake the waiting run (once)."""
        self.check_open()
        if action not in {a["id"] for a in self.actions}:
            raise DifyHTTPError(400, "invalid_form_data", f"Invalid action: {action}")
        names = {str(i.get("output_variable_name")) for i in self.inputs}
        unknown = set(inputs) - names
        if unknown:
            raise DifyHTTPError(
                400, "invalid_form_data", f"Unknown form inputs: {', '.join(sorted(unknown))}"
            )
        self.submitted = {"inputs": dict(inputs), "action": action}
        if self._future is not None and not self._future.done():
            self._future.set_result(self.submitted)

    async def wait(self) -> dict[str, Any] | None:
        """The submission, or ``None`` when the form expired first."""
        assert self._future is not None
        remaining = max(0.0, self.deadline - time.monotonic())
        try:
            return await asyncio.wait_for(asyncio.shield(self._future), remaining)
        except TimeoutError:
            self.timed_out = True
            return None

    def action_text(self) -> str:
        """Title of the submitted action."""
        assert self.submitted is not None
        action = self.submitted["action"]
        return str(next((a["title"] for a in self.actions if a["id"] == action), action))


class RunChannel:
    """Pumps a run's events in the background, so the run outlives the response that paused.

    Each response reads one leg: the events up to the next ``workflow_paused``, or to the
    end of the run.
    """

    def __init__(self, gen: Any, events: AsyncIterator[dict[str, Any]]) -> None:
        self.gen = gen
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.finished = False
        self._reading = False
        self._task = asyncio.ensure_future(self._pump(events))

    async def _pump(self, events: AsyncIterator[dict[str, Any]]) -> None:
        try:
            async for event in events:
                await self._queue.put(event)
        finally:
            self._queue.put_nowait(None)
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    @property
    def busy(self) -> bool:
        """Whether a response is reading a leg now."""
        return self._reading

    async def leg(self, *, stop_at_pause: bool = True) -> AsyncIterator[dict[str, Any]]:
        """The events up to the next pause (unless ``stop_at_pause`` is false) or the end."""
        self._reading = True
        try:
            while not self.finished:
                event = await self._queue.get()
                if event is None:
                    self.finished = True
                    return
                yield event
                if stop_at_pause and event.get("event") == "workflow_paused":
                    return
        finally:
            self._reading = False

    def cancel(self) -> None:
        """Stop pumping (server shutdown)."""
        self._task.cancel()


@dataclass
class Outcome:
    """What a Human Input node came to: the submission, or ``None`` after a timeout."""

    submission: dict[str, Any] | None = None


TIMEOUT_ERROR = "Human input form timed out."


async def pause_for_input(
    gen: Any, spec: Mapping[str, Any], node: Any, steps: int, outcome: Outcome
) -> AsyncIterator[dict[str, Any]]:
    """Events of a Human Input node: pause, wait for the form, resume (or time out).

    Args:
        gen: The run's ``Generation``.
        spec: The checked node spec (`check_spec`).
        node: The node execution (``gen.node(...)``).
        steps: Steps so far (reported by ``workflow_paused``).
        outcome: Filled with the submission when the form was submitted.
    """
    ws = gen.ws
    run = gen.run
    form = PendingForm.create(
        spec, app_id=gen.app.id, run_id=run.id, user=gen.user, node_id=node.node_id
    )
    with ws.lock:
        ws.forms[form.token] = form
        run.status = "paused"
    yield gen.node_started(node)
    yield gen.workflow_event("human_input_required", form.required_event_data())
    yield gen.workflow_event(
        "workflow_paused",
        {
            "workflow_run_id": run.id,
            "paused_nodes": [node.node_id],
            "outputs": {},
            "reasons": [
                {"TYPE": "human_input_required", "form_token": form.token, "node_id": node.node_id}
            ],
            "status": "paused",
            "created_at": run.created_at,
            "elapsed_time": round(gen.elapsed(), 6),
            "total_tokens": 0,
            "total_steps": steps,
        },
    )
    submission = await form.wait()
    with ws.lock:
        run.status = "running"
    resumed = gen.workflow_started()
    resumed["data"]["reason"] = "resumption"
    yield resumed
    if submission is None:
        yield gen.workflow_event(
            "human_input_form_timeout",
            {
                "node_id": node.node_id,
                "node_title": form.node_title,
                "expiration_time": form.expiration_time,
            },
        )
        yield gen.node_finished(node, None, None, "failed", TIMEOUT_ERROR)
        return
    yield gen.workflow_event(
        "human_input_form_filled",
        {
            "node_id": node.node_id,
            "node_title": form.node_title,
            "rendered_content": form.form_content,
            "action_id": submission["action"],
            "action_text": form.action_text(),
        },
    )
    outputs = {**submission["inputs"], ACTION_KEY: submission["action"]}
    yield gen.node_finished(node, None, outputs)
    outcome.submission = submission
