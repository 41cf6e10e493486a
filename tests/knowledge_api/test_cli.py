"""``dify-integrations knowledge-api``: the printed settings, a request, and its errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from dify_integrations.cli import main

ROOT = Path(__file__).resolve().parents[2]
KEY = "cli-test-key-0123456789"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_")}
    env.update(extra)
    return env


def test_serves_the_example_and_prints_difys_form() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dify_integrations.cli", "knowledge-api",
         "dify_integrations.knowledge_api.example:build", "--port", "0", "--quiet"],
        cwd=ROOT, env=_env(DIFY_KNOWLEDGE_API_KEY=KEY), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "External Knowledge ID:  release-notes" in line:
                break
        text = "".join(lines)
        endpoint = re.search(r"API Endpoint:\s+(\S+)", text)
        assert endpoint, text
        assert "External Knowledge ID:  handbook" in text
        assert "$DIFY_KNOWLEDGE_API_KEY" in text
        assert KEY not in text
        body = json.dumps(
            {"knowledge_id": "release-notes", "query": "immutable snapshots",
             "retrieval_setting": {"top_k": 1, "score_threshold": 0.0}}
        ).encode()  # fmt: skip
        request = urllib.request.Request(
            endpoint.group(1) + "/retrieval",
            data=body,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as resp:
            records = json.load(resp)["records"]
        assert [r["title"] for r in records] == ["Release 4.2"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert KEY not in err


def test_missing_key_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DIFY_KNOWLEDGE_API_KEY", raising=False)
    code = main(["knowledge-api", "tests.knowledge_api._targets:RETRIEVERS", "--port", "0"])
    assert code == 2
    assert "set DIFY_KNOWLEDGE_API_KEY" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_colon", "module:attribute"),
        ("tests.knowledge_api._targets:MISSING", "no attribute"),
        ("tests.knowledge_api._targets:EMPTY", "non-empty mapping"),
        ("tests.knowledge_api._no_such_module:X", "No module"),
    ],
)
def test_bad_targets(target: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["knowledge-api", target]) == 2
    assert message in capsys.readouterr().err


def test_factory_targets_are_called() -> None:
    from dify_integrations.knowledge_api import load_retrievers

    assert set(load_retrievers("tests.knowledge_api._targets:factory")) == {"f"}
    assert set(load_retrievers("tests.knowledge_api._targets:RETRIEVERS")) == {"kb"}
