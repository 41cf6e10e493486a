"""Fixtures of the contract run: one local server with a chat, a completion and a workflow
app and a knowledge base with documents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from dify_integrations.testing import DifyTestServer

from ._support import DOCUMENTS, FORM, ContractEnv

# Operations (schemathesis labels) with a known server bug, marked xfail(strict=False) so
# the run stays green while the fix is routed. Empty when the server has no known bug.
KNOWN_BUGS: dict[str, str] = {}


@pytest.fixture(scope="session")
def contract_server() -> Iterator[DifyTestServer]:
    """One local server for the contract run."""
    with DifyTestServer(token_delay=0.0) as server:
        yield server


@pytest.fixture(scope="session")
def contract(contract_server: DifyTestServer) -> ContractEnv:
    """Apps, a knowledge base with documents and a finished workflow run."""
    server = contract_server
    dataset = server.create_dataset("Handbook", DOCUMENTS, description="Policies")
    chat = server.create_chat_app("Support", dataset_ids=[dataset.id], user_input_form=FORM)
    completion = server.create_completion_app(
        "Writer", template="About {{topic}}: {{query}}", user_input_form=FORM
    )
    workflow = server.create_workflow_app(
        "Echo",
        handler=lambda inputs: {"text": f"topic={inputs.get('topic', '')}"},
        user_input_form=FORM,
    )
    run = requests.post(
        f"{server.base_url}/workflows/run",
        json={"inputs": {"topic": "x"}, "user": "contract", "response_mode": "blocking"},
        headers={"Authorization": f"Bearer {workflow.api_key}"},
        timeout=10,
    )
    run.raise_for_status()
    return ContractEnv(
        server=server,
        chat_key=chat.api_key,
        completion_key=completion.api_key,
        workflow_key=workflow.api_key,
        dataset_key=server.dataset_api_key,
        dataset_id=dataset.id,
        workflow_run_id=run.json()["workflow_run_id"],
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the operations of ``KNOWN_BUGS`` xfail (not strict)."""
    for item in items:
        label = getattr(item, "operation_label", None)
        if label in KNOWN_BUGS:
            item.add_marker(pytest.mark.xfail(reason=f"BUG: {KNOWN_BUGS[label]}", strict=False))
