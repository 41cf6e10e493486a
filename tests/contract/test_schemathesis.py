"""Schemathesis run of the 13 seed operations (corrected spec) against the local server.

For every generated case (positive and negative generation, examples, coverage and fuzzing
phases), the case is first sent without a usable key and then with the right one (cases that
schemathesis itself generates without auth, to test the security scheme, stay without). Every
answer must be below 500, and every non-2xx answer must be a Dify error body (reference §1.4).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response

from ._support import ContractEnv, stable_salt

SPEC = Path(__file__).resolve().parent.parent / "fixtures" / "openapi" / "dify-service-api.yaml"

schema = schemathesis.openapi.from_path(SPEC)

# Path ids that, for most cases, are swapped for ids that exist so the handlers past the lookup
# (body validation, rename, delete) are exercised too; the rest keep the generated value.
_REAL_ID_SHARE = 3  # 2 out of 3 cases


def _content_type(response: Response) -> str:
    return ", ".join(response.headers.get("content-type", []))


def dify_error_problems(response: Response) -> list[str]:
    """Why ``response`` is not a Dify error body (empty when it is one)."""
    problems: list[str] = []
    content_type = _content_type(response)
    if not content_type.startswith("application/json"):
        problems.append(f"Content-Type is {content_type!r}, not application/json")
    try:
        body = json.loads(response.content)
    except ValueError:
        return [*problems, f"body is not JSON: {response.content[:200]!r}"]
    if not isinstance(body, dict):
        return [*problems, f"body is not an object: {body!r}"]
    keys = set(body)
    if not {"code", "message", "status"} <= keys or not keys <= {
        "code",
        "message",
        "status",
        "params",
    }:
        problems.append(f"keys are {sorted(keys)}, not code, message, status (and params)")
    if not isinstance(body.get("code"), str) or not body.get("code"):
        problems.append(f"code is {body.get('code')!r}, not a non-empty string")
    if not isinstance(body.get("message"), str):
        problems.append(f"message is {body.get('message')!r}, not a string")
    status = body.get("status")
    if isinstance(status, bool) or status != response.status_code:
        problems.append(f"status is {status!r}, not the HTTP status {response.status_code}")
    if "params" in body and body["params"] is not None and not isinstance(body["params"], str):
        problems.append(f"params is {body['params']!r}, not a field name")
    return problems


def _describe(case: Case, response: Response) -> str:
    request = response.request
    body = request.body if isinstance(request.body, (bytes, str)) else None
    if isinstance(body, bytes):
        body = body[:300].decode("utf-8", "backslashreplace")
    return (
        f"{case.operation.label}: {request.method} {request.url}\n"
        f"  request headers: {dict(request.headers)}\n  request body: {body!r}\n"
        f"  -> {response.status_code} {_content_type(response)!r} "
        f"{response.content[:300]!r}"
    )


def assert_wire_contract(case: Case, response: Response) -> None:
    """Below 500; errors are Dify error bodies; successes are well-formed."""
    assert response.status_code < 500, f"server error\n{_describe(case, response)}"
    if response.status_code >= 300:
        problems = dify_error_problems(response)
        assert not problems, f"not a Dify error body: {problems}\n{_describe(case, response)}"
        return
    if response.status_code == 204:
        assert response.content == b"", f"204 with a body\n{_describe(case, response)}"
        return
    content_type = _content_type(response)
    if content_type.startswith("text/event-stream"):
        assert response.content.startswith((b"data: ", b"event: ")), _describe(case, response)
        return
    assert content_type.startswith("application/json"), _describe(case, response)
    assert isinstance(json.loads(response.content), dict), _describe(case, response)


def _use_real_ids(case: Case, env: ContractEnv, salt: int) -> None:
    """Swap generated path ids for existing ones in most cases (decided by ``salt``)."""
    if salt % _REAL_ID_SHARE == 0 or not case.path_parameters:
        return
    params: dict[str, Any] = case.path_parameters
    if "dataset_id" in params:
        params["dataset_id"] = env.dataset_id
    elif "workflow_run_id" in params:
        params["workflow_run_id"] = env.workflow_run_id
    elif "conversation_id" in params:
        # The conversation must belong to the case's user (absent or blank: DEFAULT-USER).
        body = case.body if isinstance(case.body, dict) else {}
        user = body.get("user")
        if user is None or (isinstance(user, str) and not user.strip()):
            user = "DEFAULT-USER"
        if isinstance(user, str) and "\x00" not in user:
            params["conversation_id"] = env.new_conversation(user)


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_operation_answers_like_dify(case: Case, contract: ContractEnv) -> None:
    """Every generated request gets a non-5xx answer; every error is a Dify error body."""
    path = case.operation.path
    salt = stable_salt(path, case.path_parameters, case.query, case.body, case.media_type)
    _use_real_ids(case, contract, salt)
    base_url = contract.server.base_url

    # Without a usable key: refused before anything else, bar routing misses (unknown path 404,
    # unsupported method 405, as Flask routes before the auth decorator runs); never a 5xx.
    generated = dict(case.headers or {})
    case.headers = {k: v for k, v in generated.items() if k.lower() != "authorization"}
    refused = case.call(base_url=base_url, headers=contract.wrong_auth(path, salt), timeout=15)
    assert_wire_contract(case, refused)
    assert refused.status_code in (401, 404, 405), _describe(case, refused)
    if refused.status_code == 401:
        assert json.loads(refused.content)["code"] == "unauthorized", _describe(case, refused)

    # With the right key.
    headers = {"Authorization": f"Bearer {contract.key_for(path)}"}
    response = case.call(base_url=base_url, headers=headers, timeout=15)
    case.validate_response(response, checks=[not_a_server_error], headers=headers)
    assert_wire_contract(case, response)


def _response(status: int, content: bytes, content_type: str = "application/json") -> Response:
    request = requests.Request("GET", "http://127.0.0.1/v1/x").prepare()
    headers = {"content-type": [content_type]} if content_type else {}
    return Response(status, headers, content, request, elapsed=0.0, verify=True)


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (_response(404, b'{"error": "nope"}'), "keys are"),
        (_response(404, b'{"code": "not_found", "message": "x", "status": 400}'), "status is"),
        (_response(400, b'{"code": "", "message": "x", "status": 400}'), "code is"),
        (_response(400, b'{"code": "a", "message": "x", "status": 400, "x": 1}'), "keys are"),
        (_response(400, b'{"code": "a", "message": null, "status": 400}'), "message is"),
        (_response(400, b'{"code": "a", "message": "x", "status": true}'), "status is"),
        (_response(404, b"Not Found", "text/plain"), "not JSON"),
        (
            _response(405, b'{"code": "a", "message": "x", "status": 405}', "text/html"),
            "Content-Type",
        ),
        (_response(400, b'["bad_request"]'), "not an object"),
    ],
)
def test_error_body_check_rejects_non_dify_bodies(response: Response, problem: str) -> None:
    """The checker used above flags each way a body can differ from Dify's."""
    assert any(problem in found for found in dify_error_problems(response))


def test_error_body_check_accepts_dify_bodies() -> None:
    """Dify's own shapes, with and without ``params``, pass."""
    plain = b'{"code": "not_found", "message": "Conversation Not Exists.", "status": 404}'
    with_params = b'{"code": "invalid_param", "message": "x", "params": "user", "status": 400}'
    assert dify_error_problems(_response(404, plain)) == []
    assert dify_error_problems(_response(400, with_params, "application/json; charset=utf-8")) == []
