"""Shared harness: the local server in its own process, interleaved timing, tables.

Every benchmark talks HTTP over loopback to one `dify_integrations.testing.DifyTestServer`
running in a *separate* process (started by `BenchServer`, built by `benchmarks._server_main`),
so the server's CPU time never counts against the client being measured.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------------------------


class BenchServer:
    """A `DifyTestServer` workspace served from a child process.

    The child prints one JSON line (`base_url`, app keys, dataset ids, pid) and serves until
    it is terminated. Use as a context manager.

    Args:
        args: Extra command-line arguments for `benchmarks._server_main`.
        startup_timeout: Seconds to wait for the JSON line.
    """

    #: The module run as the server process (a subclass may serve another workspace).
    module = "benchmarks._server_main"

    def __init__(self, *args: str, startup_timeout: float = 60.0) -> None:
        self._args = list(args)
        self._timeout = startup_timeout
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: Any = None
        self.info: dict[str, Any] = {}

    @property
    def base_url(self) -> str:
        """The server's base URL, ending in `/v1`."""
        return str(self.info["base_url"])

    @property
    def pid(self) -> int:
        """The server process id."""
        assert self._proc is not None
        return self._proc.pid

    def key(self, app: str) -> str:
        """The API key of the app named `app` in the workspace."""
        return str(self.info["apps"][app])

    def __enter__(self) -> BenchServer:
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", self.module, *self._args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
            cwd=_project_root(),
        )
        line = _readline_with_timeout(self._proc, self._timeout)
        if not line:
            self._stderr.seek(0)
            err = self._stderr.read()[-4000:]
            self.__exit__(None, None, None)
            raise RuntimeError(f"benchmark server did not start:\n{err}")
        self.info = json.loads(line)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _project_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _readline_with_timeout(proc: subprocess.Popen[str], timeout: float) -> str:
    result: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        result.append(proc.stdout.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""


# --------------------------------------------------------------------------------------------
# Run settings shared by every benchmark
# --------------------------------------------------------------------------------------------


@dataclass
class Context:
    """What a benchmark gets: the server and how hard to work.

    Attributes:
        server: The running benchmark server.
        quick: Tiny sizes, for the smoke test: rows are produced, numbers mean nothing.
        full_soak: Run the soak at its full size (10,000 + 2,000 calls).
    """

    server: BenchServer
    quick: bool = False
    full_soak: bool = False
    figures: dict[str, dict[str, float]] = field(default_factory=dict)

    def pick(self, full: int, quick: int) -> int:
        """`quick` in quick mode, else `full`."""
        return quick if self.quick else full

    def record(self, chart: str, label: str, value: float) -> None:
        """Keep one measured figure for the charts (`benchmarks._charts`)."""
        self.figures.setdefault(chart, {})[label] = value


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def time_batch(fn: Callable[[], object], calls: int) -> tuple[float, float]:
    """(wall, CPU) seconds per call of `fn`, averaged over `calls` back-to-back calls.

    CPU is `time.process_time()` of this process (all its threads): the client's own cost,
    which the server process and other load on the machine barely touch.
    """
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - wall0) / calls, (time.process_time() - cpu0) / calls


async def atime_batch(fn: Callable[[], Awaitable[object]], calls: int) -> tuple[float, float]:
    """Async `time_batch`: (wall, CPU) seconds per awaited call, sequential."""
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(calls):
        await fn()
    return (time.perf_counter() - wall0) / calls, (time.process_time() - cpu0) / calls


def _orders(names: Sequence[str], rounds: int) -> Iterable[list[str]]:
    """Rotate the variant order every round so drift hits each variant equally."""
    n = len(names)
    for r in range(rounds):
        shift = r % n
        order = list(names[shift:]) + list(names[:shift])
        yield order if (r // n) % 2 == 0 else order[::-1]


@dataclass
class Samples:
    """Per-call seconds of each variant, one sample per round: wall clock and client CPU."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]

    def median(self, name: str, *, cpu: bool = False) -> float:
        """Median over rounds of `name`'s per-call time."""
        return median((self.cpu if cpu else self.wall)[name])

    def ratio(self, name: str, base: str, *, cpu: bool = False) -> float:
        """Median over rounds of `name / base`, both measured in the same round."""
        return paired_ratio(self.cpu if cpu else self.wall, name, base)

    @property
    def rounds(self) -> int:
        """Number of rounds."""
        return len(next(iter(self.wall.values())))


def interleaved(
    variants: Mapping[str, Callable[[], object]], *, rounds: int, calls: int, warmup: int = 20
) -> Samples:
    """Per-call times of each variant, one sample per round, variants interleaved.

    Every round times `calls` calls of each variant, in an order rotated from round to round.
    """
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    out = Samples({name: [] for name in variants}, {name: [] for name in variants})
    for order in _orders(list(variants), rounds):
        for name in order:
            wall, cpu = time_batch(variants[name], calls)
            out.wall[name].append(wall)
            out.cpu[name].append(cpu)
    return out


async def ainterleaved(
    variants: Mapping[str, Callable[[], Awaitable[object]]],
    *,
    rounds: int,
    calls: int,
    warmup: int = 20,
) -> Samples:
    """Async `interleaved`: per-call times of each coroutine factory, interleaved."""
    for fn in variants.values():
        for _ in range(warmup):
            await fn()
    out = Samples({name: [] for name in variants}, {name: [] for name in variants})
    for order in _orders(list(variants), rounds):
        for name in order:
            wall, cpu = await atime_batch(variants[name], calls)
            out.wall[name].append(wall)
            out.cpu[name].append(cpu)
    return out


def median(values: Sequence[float]) -> float:
    """The median of `values`."""
    return float(statistics.median(values))


def paired_ratio(samples: Mapping[str, Sequence[float]], name: str, base: str) -> float:
    """Median over rounds of `name / base` measured in the same round."""
    return median([a / b for a, b in zip(samples[name], samples[base], strict=True)])


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) of `values`, nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def us(seconds: float) -> str:
    """Seconds as microseconds, e.g. `412 µs`."""
    return f"{seconds * 1e6:,.0f} µs"


def ms(seconds: float, digits: int = 1) -> str:
    """Seconds as milliseconds."""
    return f"{seconds * 1e3:,.{digits}f} ms"


def ratio(value: float) -> str:
    """A ratio, e.g. `1.04x`."""
    return f"{value:.2f}x"


def verdict(ok: bool) -> str:
    """`met` or `MISSED`."""
    return "met" if ok else "MISSED"


def mib(nbytes: float) -> str:
    """Bytes as MiB."""
    return f"{nbytes / 2**20:,.1f} MiB"


@dataclass
class Table:
    """One benchmark result table, printed as Markdown (pasteable into the docs).

    Attributes:
        title: Heading printed above the table.
        columns: Column names.
        rows: Cell text, one list per row.
        notes: Lines printed under the table.
    """

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        """Append a row."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append([str(c) for c in cells])

    def note(self, text: str) -> None:
        """Append a note line."""
        self.notes.append(text)

    def render(self) -> str:
        """The table as Markdown."""
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

        out = [f"### {self.title}", "", line(self.columns)]
        out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        out.extend(line(row) for row in self.rows)
        if self.notes:
            out.append("")
            out.extend(f"- {n}" for n in self.notes)
        return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------
# Process resources
# --------------------------------------------------------------------------------------------


def rss_bytes() -> int:
    """Resident set size of this process."""
    import psutil  # type: ignore[import-untyped]

    return int(psutil.Process().memory_info().rss)


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (`VmHWM`) to its current RSS; `False` if unsupported.

    Linux >= 4.0: writing `5` to `/proc/self/clear_refs`. (`ru_maxrss` cannot be used in a
    child process: Linux carries it over from the parent across `fork` + `exec`.)
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (`VmHWM`, else `ru_maxrss`)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def open_fds() -> int:
    """Number of open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


# --------------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------------

_PACKAGES = (
    "dify-integrations",
    "requests",
    "aiohttp",
    "httpx",
    "dify-client-python",
    "langchain-core",
    "llama-index-core",
    "pydantic",
)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the figures depend on."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine_summary() -> str:
    """One paragraph: CPU, cores, memory, OS, Python and package versions."""
    import platform

    import psutil

    versions = ", ".join(f"{k} {v}" for k, v in package_versions().items())
    return (
        f"Machine: {cpu_model()}, {os.cpu_count()} logical cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}; "
        f"Python {platform.python_version()} ({platform.python_implementation()}); {versions}"
    )
