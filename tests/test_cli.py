"""The ``dify-integrations`` command line: demo, serve, and its failure modes."""

from __future__ import annotations

import io
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time

import pytest

from dify_integrations import DifyClient, __version__
from dify_integrations.cli import main
from dify_integrations.demo import ENV_VARS, load_demo, serve
from dify_integrations.testing import DifyTestServer


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for name in ENV_VARS:
        assert name in help_text


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_demo_with_unreachable_dify(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base_url = f"http://127.0.0.1:{_closed_port()}/v1"
    for name in ENV_VARS:
        clean_env.setenv(name, "app-x")
    clean_env.setenv("DIFY_BASE_URL", base_url)
    assert main(["demo"]) == 3
    out = capsys.readouterr()
    errors = _error_lines(out.out)
    assert len(errors) == 1
    assert errors[0].startswith(f"error: cannot reach Dify at {base_url}")
    assert "Traceback" not in out.out + out.err


def test_demo_with_a_wrong_key(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with DifyTestServer() as server:
        for name, value in load_demo(server).env().items():
            clean_env.setenv(name, value)
        clean_env.setenv("DIFY_CHAT_APP_KEY", "app-not-a-real-key")
        assert main(["demo"]) == 4
    out = capsys.readouterr()
    errors = _error_lines(out.out)
    assert len(errors) == 1
    assert "rejected DIFY_CHAT_APP_KEY" in errors[0]
    assert "401" in errors[0]
    assert "app-not-a-real-key" not in out.out
    assert "Traceback" not in out.out + out.err


def test_demo_with_incomplete_settings(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("DIFY_BASE_URL", "https://dify.example/v1")
    clean_env.setenv("DIFY_CHAT_APP_KEY", "app-x")
    assert main(["demo"]) == 2
    errors = _error_lines(capsys.readouterr().out)
    assert len(errors) == 1
    assert "DIFY_DATASET_ID" in errors[0]
    assert "DIFY_CHAT_APP_KEY" not in errors[0]


def test_serve_prints_working_settings() -> None:
    out = io.StringIO()
    stop = threading.Event()
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(serve(stream=out, stop=stop)))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while "Press Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        env = dict(re.findall(r"^export (\w+)=(\S+)$", out.getvalue(), re.MULTILINE))
        assert set(env) == {*ENV_VARS, "DIFY_API_KEY"}
        chat = DifyClient(env["DIFY_CHAT_APP_KEY"], base_url=env["DIFY_BASE_URL"])
        with chat:
            assert chat.get_info().name == "Stowaway Support"
    finally:
        stop.set()
        thread.join(timeout=30)
    assert codes == [0]


@pytest.mark.slow
def test_console_script_runs_the_demo_end_to_end() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_")}
    env["NO_COLOR"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "dify_integrations.cli", "demo", "--token-delay", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Demo finished." in proc.stdout
    assert "Summary" in proc.stdout


def test_serve_output_makes_the_adapters_work_in_that_shell() -> None:
    """The export lines of ``serve``, applied to a fresh shell, make no-argument adapters work."""
    out = io.StringIO()
    stop = threading.Event()
    thread = threading.Thread(target=lambda: serve(stream=out, stop=stop))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while "Press Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        exports = re.findall(r"^export \w+=\S+$", out.getvalue(), re.MULTILINE)
        assert any(line.startswith("export DIFY_API_KEY=") for line in exports)
        script = (
            "from dify_integrations.langchain import ChatDify, DifyRetriever\n"
            "import os\n"
            "print(ChatDify().invoke('What does error STW-402 mean?').content)\n"
            "docs = DifyRetriever(dataset_id=os.environ['DIFY_DATASET_ID'], k=1).invoke('trial')\n"
            "print(docs[0].metadata['document_name'])\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_")}
        shell = "\n".join([*exports, f"{sys.executable} -c {shlex.quote(script)}"])
        proc = subprocess.run(
            ["bash", "-c", shell],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        stop.set()
        thread.join(timeout=30)
    assert proc.returncode == 0, proc.stderr
    answer, document = proc.stdout.strip().splitlines()
    assert "STW-402" in answer
    assert document.endswith(".md")


def test_local_server_module_help_describes_its_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dify_integrations.testing.__main__ import main as testing_main

    with pytest.raises(SystemExit) as exit_info:
        testing_main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    explained = {
        "--host": "address to bind",
        "--port": "port to listen on",
        "--ping-interval": "keep-alive",
        "--token-delay": "pause before each streamed piece",
    }
    flat = " ".join(text.split())
    for option, words in explained.items():
        assert option in text
        assert words in flat, option
    assert "JSON line" in flat
