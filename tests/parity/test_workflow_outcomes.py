"""Every workflow run status gives the same outcome through both frameworks' tools.

A small server written for this test answers ``/workflows/run`` with a canned stream that
ends in the status under test (``DifyTestServer`` cannot produce every status on demand);
both ``DifyWorkflowTool`` s call it over loopback HTTP, sync and async.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from langchain_core.tools import ToolException

from dify_integrations.langchain import DifyWorkflowTool as LCTool
from dify_integrations.llama_index import DifyWorkflowTool as LITool

RUN = "0b3c8a1e-1f6e-4c9a-8d55-3b2f4f5e6a7b"
TASK = "7d1c0a2e-4c8e-4f51-9d55-3b2f4f5e6a7c"
KEY = "app-outcomes-test-key"


def _frame(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def _finished(status: str, outputs: dict[str, Any] | None, error: str | None) -> dict[str, Any]:
    return {
        "event": "workflow_finished",
        "task_id": TASK,
        "workflow_run_id": RUN,
        "data": {
            "id": RUN,
            "status": status,
            "outputs": outputs,
            "error": error,
            "elapsed_time": 0.5,
            "total_tokens": 7,
            "total_steps": 3,
        },
    }


STREAMS: dict[str, list[dict[str, Any]]] = {
    "succeeded": [_finished("succeeded", {"text": "done"}, None)],
    "partial-succeeded": [_finished("partial-succeeded", {"text": "partly done"}, None)],
    "failed": [_finished("failed", {}, "division by zero in node Code")],
    "stopped": [_finished("stopped", {}, "Workflow execution stopped by user.")],
    "paused": [
        {
            "event": "workflow_paused",
            "task_id": TASK,
            "workflow_run_id": RUN,
            "data": {"id": RUN, "status": "paused", "outputs": {}},
        }
    ],
    "unknown": [_finished("exploded", {}, None)],
    "error-event": [
        {"event": "error", "task_id": TASK, "status": 500, "code": "internal", "message": "boom"}
    ],
}


@dataclass(frozen=True)
class Expected:
    is_error: bool
    content: str


EXPECTED: dict[str, Expected] = {
    "succeeded": Expected(False, "done"),
    "partial-succeeded": Expected(False, "partly done"),
    "failed": Expected(True, "division by zero in node Code"),
    "stopped": Expected(True, "Workflow execution stopped by user."),
    "paused": Expected(False, f"The Dify workflow run {RUN} is paused"),
    "unknown": Expected(True, "unknown status 'exploded'"),
    "error-event": Expected(True, "boom"),
}


class _Server:
    """The workflow app: ``/info``, ``/parameters`` and ``/workflows/run`` (by ``inputs.case``)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _info(self, request: web.Request) -> web.Response:
        return web.json_response({"name": "Outcomes", "description": "", "mode": "workflow"})

    async def _parameters(self, request: web.Request) -> web.Response:
        form = [{"text-input": {"label": "Case", "variable": "case", "required": True}}]
        return web.json_response({"user_input_form": form})

    async def _run(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        events = STREAMS[body["inputs"]["case"]]
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        started = {"event": "workflow_started", "task_id": TASK, "workflow_run_id": RUN}
        await response.write(_frame({**started, "data": {"id": RUN}}))
        for event in events:
            await response.write(_frame(event))
        await response.write_eof()
        return response

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/info", self._info)
        app.router.add_get("/v1/parameters", self._parameters)
        app.router.add_post("/v1/workflows/run", self._run)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self.runner.addresses[0][1])

    def __enter__(self) -> _Server:
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with _Server() as server:
        yield f"http://127.0.0.1:{server.port}/v1"


async def _langchain(base_url: str, case: str, mode: str) -> tuple[bool, str, dict[str, Any]]:
    tool = LCTool.from_app(api_key=KEY, base_url=base_url)
    call = {"type": "tool_call", "id": "1", "name": tool.name, "args": {"case": case}}
    try:
        message = tool.invoke(call) if mode == "sync" else await tool.ainvoke(call)
    except ToolException as exc:
        return True, str(exc), {}
    return False, str(message.content), dict(message.artifact)


async def _llama_index(base_url: str, case: str, mode: str) -> tuple[bool, str, Any]:
    tool = LITool.from_app(api_key=KEY, base_url=base_url)
    output = tool.call(case=case) if mode == "sync" else await tool.acall(case=case)
    return bool(output.is_error), str(output.content), output.raw_output


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", list(STREAMS))
async def test_each_status_gives_the_same_outcome_in_both_frameworks(
    base_url: str, case: str, mode: str
) -> None:
    expected = EXPECTED[case]
    lc_error, lc_content, artifact = await _langchain(base_url, case, mode)
    li_error, li_content, raw_output = await _llama_index(base_url, case, mode)
    assert (lc_error, li_error) == (expected.is_error, expected.is_error)
    assert lc_content == li_content
    assert expected.content in lc_content
    if not expected.is_error:
        assert artifact["status"] == (case if case != "unknown" else "exploded")
        if case == "paused":
            # A paused run's record (forms included) is what resume_with_input takes back.
            assert raw_output == artifact
        else:
            assert artifact["outputs"] == raw_output
        assert artifact["workflow_run_id"] == RUN
