"""Run the benchmarks: `python -m benchmarks [NAME ...] [--quick] [--full-soak] [--out FILE] [--charts DIR]`.

With no NAME every benchmark runs, in order. NAMEs: core, adapters, concurrency, streaming,
connections, memory, soak.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback

for _var in ("LANGSMITH_TRACING_V2", "LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING"):
    os.environ[_var] = "false"

from benchmarks import MODULES, runner  # noqa: E402
from benchmarks._harness import BenchServer, Context, Table, machine_summary  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the chosen benchmarks, print every table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(MODULES))
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    parser.add_argument(
        "--full-soak", action="store_true", help="soak at full size (10,000 + 2,000 calls)"
    )
    parser.add_argument("--out", help="also write the tables as Markdown to this file")
    parser.add_argument(
        "--charts",
        metavar="DIR",
        help="also write SVG charts of the headline figures (and figures.json) into DIR",
    )
    args = parser.parse_args(argv)
    names = args.names or list(MODULES)
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        parser.error(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(MODULES)}"
        )

    print(machine_summary(), flush=True)
    failed: list[str] = []
    tables: list[Table] = []
    start = time.perf_counter()
    with BenchServer() as server:
        ctx = Context(server=server, quick=args.quick, full_soak=args.full_soak)
        for name in names:
            t0 = time.perf_counter()
            print(f"\n## {name}\n", flush=True)
            try:
                for table in runner(name)(ctx):
                    tables.append(table)
                    print(table.render(), flush=True)
            except Exception:
                failed.append(name)
                traceback.print_exc()
            print(f"({name}: {time.perf_counter() - t0:.1f} s)", flush=True)
    total = time.perf_counter() - start
    if args.charts:
        from benchmarks._charts import write_charts

        note = " — quick run: sizes too small to mean anything" if args.quick else ""
        for path in write_charts(ctx.figures, args.charts, note=note):
            print(f"wrote {path}", flush=True)
    print(f"\nTotal: {total:.1f} s on {platform.node() or 'this machine'}", flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(machine_summary() + "\n\n")
            fh.write("\n".join(t.render() for t in tables))
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
