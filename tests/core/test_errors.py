"""Mapping of Dify error bodies, HTML bodies and stream errors to exceptions."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

import dify_integrations as di
from dify_integrations.core.errors import error_from_event, error_from_response

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dify"


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


EXAMPLES: list[dict[str, Any]] = load_json("error_examples.json")

EXPECTED_CLASS = {
    400: di.BadRequestError,
    401: di.AuthenticationError,
    403: di.PermissionDeniedError,
    404: di.NotFoundError,
    413: di.RequestTooLargeError,
    415: di.UnsupportedMediaTypeError,
    429: di.RateLimitError,
    500: di.InternalServerError,
}

# Codes of current Dify with an exception of their own (each under its status's class).
CODE_CLASS = {
    "conversation_completed": di.ConversationCompletedError,
    "agent_not_published": di.AgentNotPublishedError,
    "app_not_found": di.AppAccessDeniedError,
    "app_abnormal_status": di.AppAccessDeniedError,
    "app_api_disabled": di.AppAccessDeniedError,
    "workspace_not_found": di.AppAccessDeniedError,
    "workspace_archived": di.AppAccessDeniedError,
    "human_input_form_submitted": di.HumanInputFormClosedError,
    "human_input_form_expired": di.HumanInputFormClosedError,
}


@pytest.mark.parametrize(
    ("status", "code", "cls", "base"),
    [
        (400, "conversation_completed", di.ConversationCompletedError, di.BadRequestError),
        (400, "agent_not_published", di.AgentNotPublishedError, di.BadRequestError),
        (403, "app_api_disabled", di.AppAccessDeniedError, di.PermissionDeniedError),
        (403, "workspace_archived", di.AppAccessDeniedError, di.PermissionDeniedError),
        (412, "human_input_form_expired", di.HumanInputFormClosedError, di.APIStatusError),
        (412, "human_input_form_submitted", di.HumanInputFormClosedError, di.APIStatusError),
    ],
)
def test_current_dify_codes_have_catchable_classes(
    status: int, code: str, cls: type[Exception], base: type[Exception]
) -> None:
    raw = json.dumps({"code": code, "message": "m", "status": status}).encode()
    err = error_from_response(status, {}, raw)
    assert type(err) is cls
    assert isinstance(err, base)
    assert err.code == code
    assert type(pickle.loads(pickle.dumps(err))) is cls
    with pytest.raises(cls):
        raise err


def test_code_class_only_under_its_own_status() -> None:
    # A code that arrives with another status keeps the status's class: never a guess.
    raw = json.dumps({"code": "conversation_completed", "message": "m"}).encode()
    assert type(error_from_response(500, {}, raw)) is di.InternalServerError
    assert type(error_from_response(418, {}, raw)) is di.APIStatusError


@pytest.mark.parametrize("case", EXAMPLES, ids=[e["scenario"][:50] for e in EXAMPLES])
def test_every_error_example_maps_to_class_and_code(case: dict[str, Any]) -> None:
    raw = json.dumps(case["body"]).encode()
    err = error_from_response(case["http_status"], case.get("headers") or {}, raw)
    expected = CODE_CLASS.get(case["body"]["code"], EXPECTED_CLASS[case["http_status"]])
    assert type(err) is expected
    assert isinstance(err, EXPECTED_CLASS[case["http_status"]])
    assert isinstance(err, di.APIStatusError)
    assert isinstance(err, di.DifyError)
    assert err.status_code == case["http_status"]
    assert err.code == case["body"]["code"]
    assert err.message == case["body"]["message"]
    assert err.body == case["body"]
    for name, value in (case.get("headers") or {}).items():
        assert err.response_headers[name.lower()] == value
    assert case["body"]["code"] in str(err)


def test_html_gateway_body_gives_short_tag_free_excerpt() -> None:
    html = (
        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
        b"</h1></center><hr><center>nginx</center>" + b"<p>padding</p>" * 200 + b"</body></html>"
    )
    err = error_from_response(502, {"Content-Type": "text/html"}, html)
    assert isinstance(err, di.InternalServerError)
    assert err.code == "bad_gateway"
    assert "502 Bad Gateway" in err.message
    assert "<" not in err.message
    assert len(err.message) < 300


def test_empty_and_unexpected_json_bodies() -> None:
    empty = error_from_response(503, {}, b"")
    assert isinstance(empty, di.InternalServerError)
    assert empty.code == "service_unavailable"
    odd = error_from_response(418, {}, b"[1, 2]")
    assert type(odd) is di.APIStatusError
    assert odd.code == "http_418"
    assert "unexpected JSON" in odd.message


def test_key_is_scrubbed_from_errors() -> None:
    key = "app-SECRETKEY123"
    body = json.dumps({"code": "unauthorized", "message": f"bad token {key}", "status": 401})
    err = error_from_response(401, {}, body.encode(), secret=key)
    for text in (str(err), repr(err), err.message, json.dumps(err.body)):
        assert key not in text
    html = error_from_response(500, {}, f"<p>echo {key}</p>".encode(), secret=key)
    assert key not in str(html)
    assert key not in str(html.body)


def test_key_is_scrubbed_from_bodies_of_any_shape_and_before_any_cut() -> None:
    key = "app-SECRETKEY123"
    odd = error_from_response(
        401, {"X-Echo": key}, json.dumps({"detail": [key]}).encode(), secret=key
    )
    assert odd.body == {"detail": ["[REDACTED]"]}
    assert odd.response_headers == {"x-echo": "[REDACTED]"}
    listed = error_from_response(401, {}, json.dumps([f"bad {key}"]).encode(), secret=key)
    assert listed.body == ["bad [REDACTED]"]
    assert key not in listed.message
    # the key straddles the 200-character excerpt: not even its prefix survives
    cut = error_from_response(502, {}, ("x" * 190 + f" {key} tail").encode(), secret=key)
    assert "app-SEC" not in cut.message
    assert key not in str(cut.body)
    event = error_from_event({"event": "error", "message": f"echo {key}"}, secret=key)
    assert event.message == "echo [REDACTED]"


def test_stream_error_from_event() -> None:
    err = error_from_event(
        {"event": "error", "code": "completion_request_error", "status": 400, "message": "boom"}
    )
    assert isinstance(err, di.StreamError)
    assert (err.code, err.status, err.message) == ("completion_request_error", 400, "boom")
    assert "completion_request_error" in str(err)


ERRORS = [
    di.DifyError("plain"),
    di.BadRequestError(
        "bad", status_code=400, code="invalid_param", body={"a": 1}, response_headers={"X": "y"}
    ),
    di.RateLimitError("slow", status_code=429, code="rate_limit_error"),
    di.InternalServerError("oops", status_code=503),
    di.APIConnectionError("down", request_sent=False),
    di.APITimeoutError("late", request_sent=True),
    di.StreamError("mid", code="internal_server_error", status=500),
    di.StreamDecodeError("bad frame", frame="data: {"),
]


@pytest.mark.parametrize("err", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_pickle_round_trip(err: di.DifyError) -> None:
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is type(err)
    assert str(clone) == str(err)
    assert clone.__dict__ == err.__dict__


def test_error_tree() -> None:
    assert issubclass(di.APITimeoutError, di.APIConnectionError)
    for cls in EXPECTED_CLASS.values():
        assert issubclass(cls, di.APIStatusError)
    for cls in (di.APIStatusError, di.APIConnectionError, di.StreamError, di.StreamDecodeError):
        assert issubclass(cls, di.DifyError)
