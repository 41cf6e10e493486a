"""Every adapter travels to another process without its key, and works there."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from dify_integrations.core.pickling import KeySource, key_from
from dify_integrations.testing import DifyTestServer

ROOT = Path(__file__).resolve().parents[2]
REFUNDS = "Refunds are issued within 5 business days to the original payment method."


@dataclass
class Keys:
    base_url: str
    chat: str
    completion: str
    workflow: str
    dataset: str
    dataset_id: str


@pytest.fixture(scope="module")
def keys() -> Iterator[Keys]:
    with DifyTestServer() as server:
        ds = server.create_dataset("Handbook", documents=[{"name": "r.md", "text": REFUNDS}])
        yield Keys(
            base_url=server.base_url,
            chat=server.create_chat_app("Echo", responder=lambda q, *_: f"echo: {q}").api_key,
            completion=server.create_completion_app("W", template="About {{query}}").api_key,
            workflow=server.create_workflow_app(
                "Double",
                lambda v: {"text": str(int(v["n"]) * 2)},
                user_input_form=[{"number": {"variable": "n", "label": "n", "required": True}}],
            ).api_key,
            dataset=server.dataset_api_key,
            dataset_id=ds.id,
        )


def _adapters(k: Keys) -> list[tuple[str, str, Any, str]]:
    """(name, call kind, adapter, key it holds); built with the key, told where to re-read it."""
    from dify_integrations import langchain as lc
    from dify_integrations import llama_index as li

    url = k.base_url
    return [
        ("ChatDify", "lc_chat", lc.ChatDify(api_key=k.chat, base_url=url), k.chat),
        ("lc.DifyLLM", "lc_llm", lc.DifyLLM(api_key=k.completion, base_url=url), k.completion),
        (
            "lc.DifyWorkflowTool",
            "lc_tool",
            lc.DifyWorkflowTool.from_app(api_key=k.workflow, base_url=url),
            k.workflow,
        ),
        (
            "lc.DifyRetriever",
            "lc_retriever",
            lc.DifyRetriever(dataset_id=k.dataset_id, api_key=k.dataset, base_url=url),
            k.dataset,
        ),
        ("li.DifyLLM", "li_llm", li.DifyLLM(api_key=k.chat, base_url=url), k.chat),
        (
            "li.DifyWorkflowTool",
            "li_tool",
            li.DifyWorkflowTool.from_app(api_key=k.workflow, base_url=url),
            k.workflow,
        ),
        (
            "li.DifyRetriever",
            "li_retriever",
            li.DifyRetriever(dataset_id=k.dataset_id, api_key=k.dataset, base_url=url),
            k.dataset,
        ),
    ]


EXPECTED = {
    "lc_chat": "echo: hello",
    "lc_llm": None,  # checked below: mentions the query
    "lc_tool": "6",
    "lc_retriever": [REFUNDS],
    "li_llm": "echo: hello",
    "li_tool": "6",
    "li_retriever": [REFUNDS],
}


def _run_worker(items: list[tuple[str, str, bytes]], env: dict[str, str], tmp: Path) -> Any:
    path = tmp / "pickles.bin"
    path.write_bytes(cloudpickle.dumps(items))
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "batch" / "_worker.py"), str(path)],
        env={**base, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _check(name: str, kind: str, answer: Any) -> None:
    assert not (isinstance(answer, dict) and "error" in answer), (name, answer)
    if kind == "lc_llm":
        assert "cats" in answer
    else:
        assert answer == EXPECTED[kind], (name, answer)


def test_cloudpickle_to_a_fresh_process_with_named_env_vars(keys: Keys, tmp_path: Path):
    env_of = {keys.chat: "CHAT_KEY", keys.completion: "COMP_KEY", keys.workflow: "WF_KEY",
              keys.dataset: "KB_KEY"}  # fmt: skip
    items = []
    for name, kind, adapter, key in _adapters(keys):
        key_from(adapter, env=env_of[key])
        blob = cloudpickle.dumps(adapter)
        assert key.encode() not in blob, name
        assert pickle.dumps(adapter) is not None
        items.append((name, kind, blob))
    answers = _run_worker(items, {v: k for k, v in env_of.items()}, tmp_path)
    assert set(answers) == {name for name, _, _ in items}
    for name, kind, _ in items:
        _check(name, kind, answers[name])


def test_default_variables_and_a_secret_provider(keys: Keys, tmp_path: Path):
    items = []
    for name, kind, adapter, key in _adapters(keys):
        if kind == "lc_chat":
            key_from(adapter, provider="tests.batch._worker:provided_key")
        items.append((name, kind, pickle.dumps(adapter)))
        assert key.encode() not in items[-1][2]
    env = {"DIFY_API_KEY": keys.chat, "DIFY_DATASET_API_KEY": keys.dataset,
           "PROVIDED_KEY": keys.chat}  # fmt: skip
    answers = _run_worker(items, env, tmp_path)
    # The chat apps and retrievers find their keys; the others hold another app's key
    # (DIFY_API_KEY is the chat app's), which the server refuses: the error says so.
    for name, kind, _ in items:
        if kind in ("lc_llm", "lc_tool", "li_tool"):
            assert answers[name]["error"] in ("BadRequestError", "ToolException"), answers[name]
        else:
            _check(name, kind, answers[name])


def test_missing_key_is_a_clear_error_that_names_the_variable(keys: Keys, tmp_path: Path):
    items = []
    for name, kind, adapter, _ in _adapters(keys):
        key_from(adapter, env="NOT_SET_ANYWHERE")
        items.append((name, kind, cloudpickle.dumps(adapter)))
    answers = _run_worker(items, {}, tmp_path)
    for name, _, _ in items:
        assert answers[name]["error"] == "ValueError", answers[name]
        assert "NOT_SET_ANYWHERE" in answers[name]["message"]


def test_providers_must_be_importable_by_name():
    secret = "app-closure-secret"
    with pytest.raises(ValueError, match="importable"):
        KeySource.of(provider=lambda: secret)
    with pytest.raises(ValueError, match="environment variable name"):
        KeySource.of(env="NOT A NAME")
    assert KeySource.of(provider=os.getcwd).provider == "posix:getcwd"
