"""The notebooks run top to bottom against the local server, and are committed with outputs.

``UPDATE_NOTEBOOKS=1 pytest tests/docs/test_notebooks.py`` rewrites the committed outputs
from the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_exist() -> None:
    assert {p.stem for p in NOTEBOOKS} >= {
        "langchain_quickstart",
        "llama_index_quickstart",
        "testing_with_local_server",
    }


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path) -> None:
    committed = nbformat.read(path, as_version=4)
    code_cells = [c for c in committed.cells if c.cell_type == "code"]
    assert code_cells
    assert all(c.execution_count for c in code_cells), "commit the notebook with its outputs"
    assert not [o for c in code_cells for o in c.outputs if o.output_type == "error"]

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        coalesce_streams=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError when a cell fails
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert outputs
    if os.environ.get("UPDATE_NOTEBOOKS") == "1":
        nbformat.write(notebook, path)
