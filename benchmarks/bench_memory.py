"""Benchmark 6: peak memory while streaming a large answer.

Each measurement runs in a fresh process (`benchmarks._memory_probe`): warm up with a small
stream, note the RSS, stream an answer of 5 MB and of 50 MB dropping every chunk on
arrival, read the peak RSS. Target: `ChatDify.stream`'s peak growth does not grow with the
answer size. The bare SSE loop, the core client and a no-I/O LangChain model streaming the
same pieces show where any growth comes from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from benchmarks._harness import Context, Table, mib, verdict

NAME = "memory"
PIECE = 16 * 1024
PATHS = {
    "bare": "bare requests SSE loop (pieces dropped)",
    "core": "DifyClient.stream_chat_message",
    "langchain": "LangChain ChatDify.stream",
    "langchain-fake": "LangChain BaseChatModel.stream, no-I/O model (framework alone)",
    "llama_index": "LlamaIndex DifyLLM.stream_chat",
}


def probe(ctx: Context, path: str, nbytes: int) -> dict[str, Any]:
    """Run one measurement in a fresh process and return its JSON result."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks._memory_probe",
            path,
            str(nbytes),
            str(PIECE),
            ctx.server.base_url,
            ctx.server.key("firehose"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe {path} {nbytes} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run(ctx: Context) -> list[Table]:
    """Run benchmark 6."""
    small, large = ctx.pick(5_000_000, 200_000), ctx.pick(50_000_000, 400_000)
    table = Table(
        f"6. Peak RSS growth while streaming a {small / 1e6:g} MB and a {large / 1e6:g} MB answer",
        [
            "path",
            f"growth, {small / 1e6:g} MB",
            f"growth, {large / 1e6:g} MB",
            "growth ratio",
            f"time, {large / 1e6:g} MB",
            "target",
            "result",
        ],
    )
    paths = PATHS if not ctx.quick else {k: PATHS[k] for k in ("bare", "langchain")}
    for path, label in paths.items():
        a = probe(ctx, path, small)
        b = probe(ctx, path, large)
        grow_a = max(0, a["peak_after"] - a["rss_before"])
        grow_b = max(0, b["peak_after"] - b["rss_before"])
        # "does not grow with the answer size": the extra growth for 10x the answer stays
        # under a tenth of the extra answer bytes
        flat = grow_b - grow_a < (large - small) / 10
        is_target = path == "langchain"
        table.add(
            label,
            mib(grow_a),
            mib(grow_b),
            f"{grow_b / grow_a:.1f}x" if grow_a >= 2**20 else "n/a",
            f"{b['seconds']:.1f} s",
            "flat" if is_target else "reference",
            verdict(flat) if is_target else ("flat" if flat else "grows"),
        )
    table.note(
        f"growth = peak RSS (VmHWM, reset just before the stream) - RSS before it, fresh process per "
        f"cell, {PIECE // 1024} KiB per event; 'flat' = the extra growth for the larger "
        "answer is under a tenth of the extra answer bytes"
    )
    return [table]
