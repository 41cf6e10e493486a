"""Every python snippet of README.md and docs/*.md runs against the local server.

Convention (documented in docs/getting-started.md and the README): the ```python blocks of
one page run top to bottom in one namespace, like a notebook; a page's first block starts
a ``DifyTestServer``. Blocks in other languages (shell commands) are not run. A python
block directly preceded by ``<!-- no-test -->`` would be skipped; no page uses it.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from dify_integrations.testing import DifyTestServer

ROOT = Path(__file__).resolve().parents[2]
# docs/contracts.md holds interface sketches (signatures, not programs) between the
# package's parts; it is internal and its blocks are not meant to run.
NOT_RUNNABLE = {ROOT / "docs" / "contracts.md"}
PAGES = [
    p for p in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))] if p not in NOT_RUNNABLE
]
_BLOCK = re.compile(
    r"(?P<marker><!-- no-test -->\s*\n)?^```python[^\n]*\n(?P<code>.*?)^```\s*$",
    re.MULTILINE | re.DOTALL,
)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, code) of every python block that is not marked ``<!-- no-test -->``."""
    return [
        (text.count("\n", 0, m.start("code")) + 1, m.group("code"))
        for m in _BLOCK.finditer(text)
        if not m.group("marker")
    ]


def test_pages_are_found() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "getting-started.md", "langchain.md", "llama-index.md"} <= names
    assert sum(len(python_blocks(p.read_text(encoding="utf-8"))) for p in PAGES) >= 30


def test_block_extraction() -> None:
    text = "x\n```python\na = 1\n```\n<!-- no-test -->\n```python\nb = 2\n```\n```bash\nls\n```\n"
    assert python_blocks(text) == [(3, "a = 1\n")]


RUNNABLE = [p for p in PAGES if python_blocks(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_page_snippets_run(page: Path) -> None:
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    output = io.StringIO()
    try:
        for line, code in blocks:
            compiled = compile(code, f"{page.relative_to(ROOT)}:{line}", "exec")
            with contextlib.redirect_stdout(output):
                exec(compiled, namespace)
    finally:
        for value in list(namespace.values()):
            if isinstance(value, DifyTestServer):
                value.stop()
    assert output.getvalue().strip(), "the snippets printed nothing"
