"""Every python snippet of README.md and docs/*.md runs on its own, in a fresh interpreter.

A reader copies one block into a new Python session and runs it; so does this test. A block
either imports and builds everything it uses, or it relies only on its page's *setup block*:
the page's first python block, marked with an HTML comment ``<!-- setup -->`` right above it
(invisible on the site) and announced in the page's text. Each other block then runs as a
reader would run it: the setup block, then that block, in one fresh ``python`` process.

Blocks in other languages (shell commands) are not run. A python block directly preceded by
``<!-- no-test -->`` is skipped (for a fragment that cannot run on its own; no page uses it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_BLOCK = re.compile(
    r"(?:<!-- (?P<marker>no-test|setup) -->\s*\n)?^```python[^\n]*\n(?P<code>.*?)^```\s*$",
    re.MULTILINE | re.DOTALL,
)
#: Blocks run at the same time (each in its own interpreter); the machine has few cores.
WORKERS = int(os.environ.get("DOCS_SNIPPET_WORKERS", "2"))


@dataclass(frozen=True)
class Block:
    """One python block of a page: where it starts, its code, and its marker."""

    line: int
    code: str
    marker: str | None = None


def python_blocks(text: str) -> list[Block]:
    """Every python block of `text` not marked ``<!-- no-test -->``, in page order."""
    return [
        Block(text.count("\n", 0, m.start("code")) + 1, m.group("code"), m.group("marker"))
        for m in _BLOCK.finditer(text)
        if m.group("marker") != "no-test"
    ]


def programs(text: str) -> list[tuple[int, str]]:
    """(line, program) a reader runs for each block: the setup block, then the block."""
    blocks = python_blocks(text)
    setup = [b for b in blocks if b.marker == "setup"]
    if setup and setup[0] is not blocks[0]:
        raise AssertionError(f"the setup block (line {setup[0].line}) must be the page's first")
    if len(setup) > 1:
        raise AssertionError("a page has at most one setup block")
    if not setup:
        return [(b.line, b.code) for b in blocks]
    first = setup[0]
    return [(first.line, first.code)] + [(b.line, first.code + "\n" + b.code) for b in blocks[1:]]


def run_alone(program: str, origin: str) -> subprocess.CompletedProcess[str]:
    """Run `program` in a fresh interpreter, as ``python -c`` in the repository root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_")}
    env.update(
        LANGSMITH_TRACING_V2="false", LANGCHAIN_TRACING_V2="false", LANGSMITH_TRACING="false"
    )
    return subprocess.run(
        [sys.executable, "-c", f"# {origin}\n{program}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_pages_are_found() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "getting-started.md", "langchain.md", "llama-index.md"} <= names
    assert sum(len(python_blocks(p.read_text(encoding="utf-8"))) for p in PAGES) >= 30


def test_block_extraction() -> None:
    text = (
        "x\n<!-- setup -->\n```python\na = 1\n```\n<!-- no-test -->\n```python\nb = 2\n```\n"
        "```bash\nls\n```\n```python\nc = a\n```\n"
    )
    assert python_blocks(text) == [Block(4, "a = 1\n", "setup"), Block(14, "c = a\n")]
    assert programs(text) == [(4, "a = 1\n"), (14, "a = 1\n\nc = a\n")]
    assert programs("```python\na = 1\n```\n```python\nb = 2\n```\n") == [
        (2, "a = 1\n"),
        (5, "b = 2\n"),
    ]


def test_a_block_that_needs_an_earlier_one_fails() -> None:
    """The check this file relies on: a name from another block is not there."""
    result = run_alone("print(llm)", "test")
    assert result.returncode != 0
    assert "NameError" in result.stderr


def test_the_public_site_has_no_internal_pages() -> None:
    assert not (ROOT / "docs" / "contracts.md").exists()
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "contracts" not in nav
    assert "Internals" not in nav


RUNNABLE = [p for p in PAGES if python_blocks(p.read_text(encoding="utf-8"))]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_each_block_runs_alone(page: Path) -> None:
    rel = page.relative_to(ROOT)
    runs = programs(page.read_text(encoding="utf-8"))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(lambda run: run_alone(run[1], f"{rel}:{run[0]}"), runs))
    failures = [
        f"{rel}:{line}\n{result.stderr[-3000:]}"
        for (line, _), result in zip(runs, results, strict=True)
        if result.returncode != 0
    ]
    assert not failures, "\n\n".join(failures)
    assert any(r.stdout.strip() for r in results), "the snippets printed nothing"
