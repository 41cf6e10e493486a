"""Schemathesis run of the operations of Dify's 2026-07 spec that DifyTestServer serves
beyond the seed: feedback, app feedbacks, suggested questions, conversation variables,
audio, ``/site``, workflow logs, pinned workflow runs, human-input forms and a run's
resumed events.

The same contract as the seed run: with no usable key a request is refused (401, or a
routing 404/405); with the right key no answer is a 5xx and every error is a Dify error body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error

from dify_integrations.testing import DifyTestServer

from ._support import stable_salt
from .test_schemathesis import _describe, assert_wire_contract

SPEC = (
    Path(__file__).resolve().parent.parent
    / "fixtures"
    / "openapi"
    / "dify-service-api-2026-07.json"
)

#: (method, path) of the spec's operations that the server serves beyond the seed.
SERVED = [
    ("POST", "/messages/{message_id}/feedbacks"),
    ("GET", "/app/feedbacks"),
    ("GET", "/messages/{message_id}/suggested"),
    ("GET", "/conversations/{conversation_id}/variables"),
    ("PUT", "/conversations/{conversation_id}/variables/{variable_id}"),
    ("POST", "/audio-to-text"),
    ("POST", "/text-to-audio"),
    ("GET", "/site"),
    ("GET", "/workflows/logs"),
    ("POST", "/workflows/{workflow_id}/run"),
    ("GET", "/form/human_input/{form_token}"),
    ("POST", "/form/human_input/{form_token}"),
    ("GET", "/workflow/{workflow_run_id}/events"),
]

schema = schemathesis.openapi.from_path(SPEC).include(
    lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in SERVED
)

_REAL_ID_SHARE = 3
FORM = {
    "title": "Check",
    "form_content": "Go on?",
    "inputs": [{"type": "paragraph", "output_variable_name": "comment"}],
    "actions": [{"id": "go", "title": "Go"}],
}


def test_every_served_operation_is_in_the_spec() -> None:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    listed = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert set(SERVED) <= listed


@dataclass
class CurrentEnv:
    """Apps for the run: a chatflow with conversation variables, a workflow that pauses."""

    server: DifyTestServer
    chat_key: str
    workflow_key: str
    workflow_id: str
    variable_id: str

    def key_for(self, path: str) -> str:
        if path.startswith(("/workflows", "/workflow/", "/form/")):
            return self.workflow_key
        return self.chat_key

    def message(self, user: str) -> tuple[str, str]:
        """A new message of ``user``: (message id, conversation id)."""
        response = requests.post(
            f"{self.server.base_url}/chat-messages",
            json={"inputs": {}, "query": "hello", "user": user, "response_mode": "blocking"},
            headers={"Authorization": f"Bearer {self.chat_key}"},
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        return body["message_id"], body["conversation_id"]

    def paused_run(self, user: str) -> tuple[str, str]:
        """A run paused on its form: (form token, run id)."""
        response = requests.post(
            f"{self.server.base_url}/workflows/run",
            json={"inputs": {}, "user": user, "response_mode": "blocking"},
            headers={"Authorization": f"Bearer {self.workflow_key}"},
            timeout=10,
        )
        response.raise_for_status()
        run_id = response.json()["workflow_run_id"]
        with self.server.workspace.lock:
            token = next(
                f.token for f in self.server.workspace.forms.values() if f.run_id == run_id
            )
        return token, run_id


@pytest.fixture(scope="module")
def current() -> Iterator[CurrentEnv]:
    with DifyTestServer(token_delay=0.0) as server:
        chat = server.create_chat_app(
            "Vars",
            mode="advanced-chat",
            responder=lambda q, i, h, f: "ok",
            conversation_variables=[{"name": "topic", "value_type": "string", "value": ""}],
        )
        chat.suggested_questions_after_answer = True
        workflow = server.create_workflow_app(
            "Waits",
            handler=lambda v: {"text": "done"},
            nodes=[{"node_type": "human-input", **FORM}, {}],
        )
        yield CurrentEnv(
            server=server,
            chat_key=chat.api_key,
            workflow_key=workflow.api_key,
            workflow_id=workflow.workflow_id,
            variable_id=chat.conversation_variables[0]["id"],
        )


def _user_of(case: Case) -> str:
    body = case.body if isinstance(case.body, dict) else {}
    user = body.get("user")
    if user is None:
        user = (case.query or {}).get("user")
    if not isinstance(user, str) or not user.strip() or "\x00" in user:
        return "DEFAULT-USER"
    return user


def _use_real_ids(case: Case, env: CurrentEnv, salt: int) -> None:
    """Swap generated path ids for existing ones in most cases (decided by ``salt``)."""
    params: dict[str, Any] = case.path_parameters or {}
    if salt % _REAL_ID_SHARE == 0 or not params:
        return
    user = _user_of(case)
    if "message_id" in params:
        params["message_id"] = env.message(user)[0]
    if "conversation_id" in params:
        params["conversation_id"] = env.message(user)[1]
    if "variable_id" in params:
        params["variable_id"] = env.variable_id
    if "workflow_id" in params:
        params["workflow_id"] = env.workflow_id
    if "form_token" in params:
        params["form_token"] = env.paused_run(user)[0]
    if "workflow_run_id" in params:
        # A run whose form was answered: its resumed events stream at once.
        token, run_id = env.paused_run(user)
        requests.post(
            f"{env.server.base_url}/form/human_input/{token}",
            json={"inputs": {}, "action": "go", "user": user},
            headers={"Authorization": f"Bearer {env.workflow_key}"},
            timeout=10,
        ).raise_for_status()
        params["workflow_run_id"] = run_id


@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_current_operation_answers_like_dify(case: Case, current: CurrentEnv) -> None:
    """Every generated request gets a non-5xx answer; every error is a Dify error body."""
    path = case.operation.path
    salt = stable_salt(path, case.path_parameters, case.query, case.body, case.media_type)
    _use_real_ids(case, current, salt)
    base_url = current.server.base_url
    generated = dict(case.headers or {})
    case.headers = {k: v for k, v in generated.items() if k.lower() != "authorization"}
    refused = case.call(base_url=base_url, headers={"Authorization": "Bearer app-nope"}, timeout=15)
    assert_wire_contract(case, refused)
    assert refused.status_code in (401, 404, 405), _describe(case, refused)

    headers = {"Authorization": f"Bearer {current.key_for(path)}"}
    response = case.call(base_url=base_url, headers=headers, timeout=15)
    case.validate_response(response, checks=[not_a_server_error], headers=headers)
    if response.headers.get("content-type", [""])[0].startswith("audio/"):
        assert response.status_code == 200, _describe(case, response)
        return
    assert_wire_contract(case, response)
