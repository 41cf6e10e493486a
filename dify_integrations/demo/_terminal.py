"""Plain-ANSI terminal output for the demo: headings, colours, a spinner and tables.

Colours and the spinner are used only when the stream is a terminal and ``NO_COLOR`` is
not set, so piped output (CI logs, tests) stays plain text.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TextIO

__all__ = ["Terminal"]

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}
_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class _Spinner:
    """Shows ``label`` with an animated frame and elapsed seconds until stopped."""

    def __init__(self, term: Terminal, label: str) -> None:
        self._term = term
        self._label = label
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-spinner", daemon=True)
        self._start = time.perf_counter()

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(0.1):
            elapsed = time.perf_counter() - self._start
            frame = self._term.style(_FRAMES[i % len(_FRAMES)], "cyan")
            self._term.write(
                f"\r{frame} {self._label} {self._term.style(f'{elapsed:4.1f}s', 'dim')}"
            )
            i += 1

    def __enter__(self) -> _Spinner:
        if self._term.is_tty:
            self._thread.start()
        else:
            self._term.line(self._term.style(f"… {self._label}", "dim"))
        return self

    def stop(self) -> None:
        """Stop and erase the spinner (idempotent); output can follow on the same line."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
            self._term.write("\r\033[2K")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Terminal:
    """Writes demo output to a text stream.

    Args:
        stream: Where to write (default ``sys.stdout``).
        color: Force colours on or off; default: on for a terminal unless ``NO_COLOR`` is set.
    """

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.is_tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.color = (self.is_tty and "NO_COLOR" not in os.environ) if color is None else color
        self._lock = threading.Lock()

    def style(self, text: str, *styles: str) -> str:
        """Wrap ``text`` in ANSI codes for ``styles`` (no-op without colours)."""
        if not self.color or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\033[{codes}m{text}\033[0m"

    def write(self, text: str) -> None:
        """Write ``text`` and flush at once (streamed tokens appear as they arrive)."""
        with self._lock:
            self.stream.write(text)
            self.stream.flush()

    def line(self, text: str = "") -> None:
        """Write one line."""
        self.write(text + "\n")

    def heading(self, number: int, title: str) -> None:
        """A step heading such as ``[2/5] LlamaIndex query engine``."""
        self.line()
        self.line(
            self.style(f"━━ {number}. {title} ", "bold", "blue")
            + self.style("━" * max(0, 60 - len(title)), "blue")
        )

    def kv(self, key: str, value: str) -> None:
        """An indented ``key: value`` line."""
        self.line(f"   {self.style(key + ':', 'dim')} {value}")

    @contextmanager
    def progress(self, label: str) -> Iterator[_Spinner]:
        """Show a spinner with elapsed time while the body runs (or until ``.stop()``)."""
        with _Spinner(self, label) as spinner:
            yield spinner

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """A plain aligned table."""
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        self.line("   " + self.style(fmt.format(*headers), "bold"))
        self.line("   " + "  ".join("─" * w for w in widths))
        for row in rows:
            self.line("   " + fmt.format(*row))
