"""One memory measurement, in a fresh process (run by `bench_memory`).

`python -m benchmarks._memory_probe PATH NBYTES PIECE BASE_URL KEY` streams an answer of
NBYTES bytes (PIECE bytes per event) through PATH, dropping every chunk as soon as it
arrives, and prints one JSON line: the RSS just before the stream (after a warm-up stream
and `gc.collect()`, with the peak reset to it), the peak RSS (`VmHWM`) after it, the
chunks seen and the seconds.

PATH: `bare` (requests SSE loop), `core` (`DifyClient.stream_chat_message`), `langchain`
(`ChatDify.stream`), `langchain-fake` (a no-I/O `BaseChatModel` whose `_stream` yields the
same pieces: what LangChain itself keeps), `llama_index`
(`DifyLLM.stream_chat`).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

for _var in ("LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING"):
    os.environ[_var] = "false"

from benchmarks._harness import peak_rss_bytes, reset_peak_rss  # noqa: E402

USER = "bench-user"
WARMUP_BYTES = 65536


def _drain(items: Iterable[Any]) -> int:
    count = 0
    for _ in items:
        count += 1
    return count


def _paths(base_url: str, key: str, piece: int) -> dict[str, Callable[[int], int]]:
    def query(nbytes: int) -> str:
        return f"bytes {nbytes} {piece}"

    def bare(nbytes: int) -> int:
        import requests

        from benchmarks import _bare

        seen = 0

        def on_piece(_: str) -> None:
            nonlocal seen
            seen += 1

        with requests.Session() as session:
            body = _bare.chat_body(query(nbytes), USER, streaming=True)
            _bare.stream_answer(
                session, f"{base_url}/chat-messages", key, body, on_piece, keep=False
            )
        return seen

    def core(nbytes: int) -> int:
        from dify_integrations import DifyClient

        with (
            DifyClient(key, base_url=base_url, user=USER) as client,
            client.stream_chat_message(query(nbytes)) as stream,
        ):
            return _drain(stream)

    def langchain(nbytes: int) -> int:
        from dify_integrations.langchain import ChatDify

        chat = ChatDify(api_key=key, base_url=base_url, user=USER)
        return _drain(chat.stream(query(nbytes)))

    def llama_index(nbytes: int) -> int:
        from llama_index.core.base.llms.types import ChatMessage

        from dify_integrations.llama_index import DifyLLM

        llm = DifyLLM(api_key=key, base_url=base_url, user=USER)
        return _drain(llm.stream_chat([ChatMessage(role="user", content=query(nbytes))]))

    return {"bare": bare, "core": core, "langchain": langchain, "llama_index": llama_index}


def _fake_langchain(nbytes: int, piece: int) -> Callable[[], int]:
    """`BaseChatModel.stream` of a no-I/O model yielding the same pieces (framework alone)."""
    from benchmarks._fakes import PieceChatModel

    model = PieceChatModel(count=nbytes // piece, size=piece)

    def stream() -> int:
        return _drain(model.stream("go"))

    return stream


def main(argv: list[str]) -> None:
    """Measure one path at one size; print the JSON line."""
    import psutil  # type: ignore[import-untyped]

    path, nbytes, piece, base_url, key = argv[0], int(argv[1]), int(argv[2]), argv[3], argv[4]
    if path == "langchain-fake":
        _fake_langchain(WARMUP_BYTES, piece)()
        run = _fake_langchain(nbytes, piece)
    else:
        fn = _paths(base_url, key, piece)[path]
        fn(WARMUP_BYTES)

        def run() -> int:
            return fn(nbytes)

    gc.collect()
    reset = reset_peak_rss()
    rss_before = psutil.Process().memory_info().rss
    peak_before = peak_rss_bytes()
    start = time.perf_counter()
    chunks = run()
    seconds = time.perf_counter() - start
    peak_after = peak_rss_bytes()
    print(
        json.dumps(
            {
                "path": path,
                "bytes": nbytes,
                "rss_before": rss_before,
                "peak_before": peak_before,
                "peak_after": peak_after,
                "peak_reset": reset,
                "chunks": chunks,
                "seconds": seconds,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
