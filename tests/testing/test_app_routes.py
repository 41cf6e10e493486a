"""``/parameters``, ``/info``, ``/meta``, ``/site`` and the command-line entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import requests

from dify_integrations.testing import DifyTestServer

from ._support import Api, assert_same_shape, fixture_json


def test_parameters_shape(server: DifyTestServer) -> None:
    form = [
        {
            "select": {
                "label": "Customer tier",
                "variable": "customer_tier",
                "required": False,
                "options": ["standard", "gold"],
                "default": "standard",
            }
        },
        {
            "text-input": {
                "label": "Order number",
                "variable": "order_no",
                "required": False,
                "max_length": 48,
                "default": "",
            }
        },
    ]
    app = server.create_chat_app(
        "Params", user_input_form=form, opening_statement="Hi!", suggested_questions=["What?"]
    )
    body = Api(server, app.api_key).get("/parameters").json()
    assert_same_shape(body, fixture_json("parameters.json"))
    assert body["user_input_form"] == fixture_json("parameters.json")["user_input_form"]
    assert body["opening_statement"] == "Hi!"
    assert body["suggested_questions"] == ["What?"]


def test_flat_form_is_normalised(server: DifyTestServer) -> None:
    app = server.create_workflow_app(
        "Flat",
        lambda inputs: {},
        user_input_form=[
            {"type": "paragraph", "variable": "text", "required": True},
            {"type": "number", "variable": "n"},
        ],
    )
    form = Api(server, app.api_key).get("/parameters").json()["user_input_form"]
    assert list(form[0]) == ["paragraph"]
    assert form[0]["paragraph"]["label"] == "text"
    assert form[0]["paragraph"]["required"] is True
    assert list(form[1]) == ["number"]


def test_info_and_meta(server: DifyTestServer) -> None:
    app = server.create_chat_app(
        "Info app", mode="advanced-chat", description="Answers order questions", tags=["support"]
    )
    api = Api(server, app.api_key)
    info = api.get("/info").json()
    assert_same_shape(info, fixture_json("info.json"))
    assert (info["name"], info["mode"], info["tags"]) == ("Info app", "advanced-chat", ["support"])
    meta = api.get("/meta").json()
    assert list(meta) == list(fixture_json("meta.json"))
    assert isinstance(meta["tool_icons"], dict)
    assert api.get("/site").json()["title"] == "Info app"


def test_module_entry_point_prints_keys() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dify_integrations.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["base_url"].startswith("http://127.0.0.1:")
        assert info["base_url"].endswith("/v1")
        assert info["dataset_api_key"].startswith("dataset-")
        assert set(info["apps"]) == {
            "chat",
            "agent-chat",
            "advanced-chat",
            "completion",
            "workflow",
        }
        resp = requests.post(
            info["base_url"] + "/chat-messages",
            headers={"Authorization": f"Bearer {info['apps']['chat']}"},
            json={"query": "How long is the free trial?", "inputs": {}, "user": "u"},
            timeout=10,
        )
        assert resp.status_code == 200
        assert "14 days" in resp.json()["answer"]  # from the demo handbook
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
