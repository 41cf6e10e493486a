"""Auth and key kinds, compared with the bodies of ``error_examples.json``."""

from __future__ import annotations

from typing import Any

import requests

from dify_integrations.testing import App, Dataset, DifyTestServer

from ._support import fixture_json


def _example(scenario_prefix: str) -> dict[str, Any]:
    for example in fixture_json("error_examples.json"):
        if example["scenario"].startswith(scenario_prefix):
            return dict(example)
    raise AssertionError(scenario_prefix)


def _check(resp: requests.Response, example: dict[str, Any]) -> None:
    assert resp.status_code == example["http_status"]
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == example["body"]
    assert list(resp.json()) == list(example["body"])
    for name, value in (example.get("headers") or {}).items():
        assert resp.headers[name] == value


def test_missing_header(server: DifyTestServer, chat_app: App) -> None:
    resp = requests.get(f"{server.base_url}/parameters", timeout=10)
    _check(resp, _example("No Authorization header"))


def test_header_without_space(server: DifyTestServer, chat_app: App) -> None:
    resp = requests.get(
        f"{server.base_url}/parameters", headers={"Authorization": chat_app.api_key}, timeout=10
    )
    _check(resp, _example("No Authorization header"))


def test_wrong_scheme(server: DifyTestServer, chat_app: App) -> None:
    headers = {"Authorization": f"Basic {chat_app.api_key}"}
    resp = requests.get(f"{server.base_url}/parameters", headers=headers, timeout=10)
    _check(resp, _example("Authorization scheme other than Bearer"))


def test_scheme_is_case_insensitive(server: DifyTestServer, chat_app: App) -> None:
    headers = {"Authorization": f"bEaReR {chat_app.api_key}"}
    assert (
        requests.get(f"{server.base_url}/parameters", headers=headers, timeout=10).status_code
        == 200
    )


def test_unknown_key(server: DifyTestServer) -> None:
    headers = {"Authorization": "Bearer app-doesnotexist"}
    resp = requests.get(f"{server.base_url}/info", headers=headers, timeout=10)
    _check(resp, _example("Unknown key"))


def test_app_key_on_datasets(server: DifyTestServer, chat_app: App, handbook: Dataset) -> None:
    headers = {"Authorization": f"Bearer {chat_app.api_key}"}
    resp = requests.get(f"{server.base_url}/datasets", headers=headers, timeout=10)
    _check(resp, _example("Unknown key"))
    resp = requests.post(
        f"{server.base_url}/datasets/{handbook.id}/retrieve",
        headers=headers,
        json={"query": "x"},
        timeout=10,
    )
    _check(resp, _example("Unknown key"))


def test_dataset_key_on_app_routes(server: DifyTestServer) -> None:
    headers = {"Authorization": f"Bearer {server.dataset_api_key}"}
    for method, path in (
        ("GET", "/parameters"),
        ("POST", "/chat-messages"),
        ("POST", "/workflows/run"),
    ):
        resp = requests.request(
            method, server.base_url + path, headers=headers, json={"user": "u"}, timeout=10
        )
        _check(resp, _example("Unknown key"))


def test_disabled_app_is_forbidden(server: DifyTestServer) -> None:
    app = server.create_chat_app("Disabled")
    app.enable_api = False
    resp = requests.get(
        f"{server.base_url}/info", headers={"Authorization": f"Bearer {app.api_key}"}, timeout=10
    )
    _check(resp, _example("App API access switched off"))


def test_index_needs_no_auth(server: DifyTestServer) -> None:
    resp = requests.get(f"{server.base_url}/", timeout=10)
    assert resp.status_code == 200
    assert list(resp.json()) == list(fixture_json("index.json"))
    assert resp.json()["welcome"] == "Dify OpenAPI"


def test_unknown_route_and_seed_stop_path(server: DifyTestServer, chat_app: App) -> None:
    headers = {"Authorization": f"Bearer {chat_app.api_key}"}
    example = next(
        e for e in fixture_json("error_examples.json") if e["scenario"].startswith("Path segment")
    )
    for path in ("/workflows/some-task/stop", "/nope", "/conversations/not-a-uuid/name"):
        resp = requests.post(
            server.base_url + path, headers=headers, json={"user": "u"}, timeout=10
        )
        _check(resp, example)


def test_wrong_method(server: DifyTestServer, chat_app: App) -> None:
    resp = requests.get(
        f"{server.base_url}/chat-messages",
        headers={"Authorization": f"Bearer {chat_app.api_key}"},
        timeout=10,
    )
    assert resp.status_code == 405
    assert resp.json()["code"] == "method_not_allowed"
