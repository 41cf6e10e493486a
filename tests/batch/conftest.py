"""A local server with one workflow, one chat and one completion app for the batch tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from dify_integrations.testing import DifyTestServer


async def _echo(values: dict[str, Any]) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"text": f"echo {values.get('n')}", "n": values.get("n")}


@pytest.fixture
def server() -> Iterator[DifyTestServer]:
    with DifyTestServer() as srv:
        srv.settings.finish_on_disconnect = True  # as Dify: a dropped client does not end a run
        yield srv


@pytest.fixture
def workflow_key(server: DifyTestServer) -> str:
    app = server.create_workflow_app(
        "Echo", _echo, user_input_form=[{"number": {"variable": "n", "label": "n"}}]
    )
    return app.api_key


def runs_started(server: DifyTestServer) -> Counter[Any]:
    """How many workflow runs the server started per row number ``n``."""
    with server.workspace.lock:
        return Counter(run.inputs.get("n") for run in server.workspace.runs.values())
