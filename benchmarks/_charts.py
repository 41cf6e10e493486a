"""Charts of a benchmark run, as small standalone SVG files (no plotting library needed).

`python -m benchmarks --charts DIR` (what `make bench` runs) writes, from the figures the
benchmarks recorded with `Context.record`:

- `overhead.svg`: wall time per blocking chat call, sync and async: the bare HTTP floor,
  our client, and `dify-client-python` (the fastest existing Dify client);
- `concurrency.svg`: wall time of 200 concurrent calls to an app that takes 250 ms;
- `first_token.svg`: server flush -> chunk in the caller's hands (median);
- `figures.json`: the numbers behind them.

Bars are coloured by kind: the floor (grey), ours (blue), the other client (orange).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

__all__ = ["Bar", "render", "write_charts"]

COLORS = {"floor": "#8d8d8d", "ours": "#3f51b5", "theirs": "#f08c00"}
WIDTH = 780
LABEL_W = 330
ROW_H = 26
BAR_H = 16
TOP = 58


@dataclass(frozen=True)
class Bar:
    """One bar: its label, value (already in the chart's unit) and kind."""

    label: str
    value: float
    kind: str


def _kind(label: str) -> str:
    if "(floor)" in label:
        return "floor"
    if "(ours)" in label:
        return "ours"
    return "theirs"


def _fmt(value: float, unit: str) -> str:
    digits = 0 if value >= 100 else 1 if value >= 10 else 2
    return f"{value:,.{digits}f} {unit}"


def render(
    title: str, subtitle: str, unit: str, groups: Sequence[tuple[str, Sequence[Bar]]]
) -> str:
    """An SVG bar chart: one horizontal bar per figure, in titled groups."""
    bars = [b for _, group in groups for b in group]
    top = max((b.value for b in bars), default=1.0) or 1.0
    scale = (WIDTH - LABEL_W - 110) / top
    rows: list[str] = []
    y = TOP
    for heading, group in groups:
        if heading:
            rows.append(f'<text x="12" y="{y + 14}" class="group">{escape(heading)}</text>')
            y += ROW_H
        for bar in group:
            w = max(1.0, bar.value * scale)
            rows.append(
                f'<text x="{LABEL_W - 8}" y="{y + 13}" class="label">{escape(bar.label)}</text>'
                f'<rect x="{LABEL_W}" y="{y + 1}" width="{w:.1f}" height="{BAR_H}" rx="2" '
                f'fill="{COLORS[bar.kind]}"><title>{escape(bar.label)}: '
                f"{escape(_fmt(bar.value, unit))}</title></rect>"
                f'<text x="{LABEL_W + w + 6:.1f}" y="{y + 13}" class="value">'
                f"{escape(_fmt(bar.value, unit))}</text>"
            )
            y += ROW_H
        y += 6
    legend_y = y + 8
    legend = []
    x = 12
    for kind, text in (
        ("floor", "bare HTTP floor"),
        ("ours", "dify-integrations"),
        ("theirs", "dify-client-python"),
    ):
        legend.append(
            f'<rect x="{x}" y="{legend_y}" width="12" height="12" rx="2" fill="{COLORS[kind]}"/>'
            f'<text x="{x + 18}" y="{legend_y + 11}" class="legend">{text}</text>'
        )
        x += 170
    height = legend_y + 28
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        "<style>text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
        "font-size:13px;fill:#222}.title{font-size:16px;font-weight:600}"
        ".sub{font-size:12px;fill:#555}.group{font-weight:600}.label{text-anchor:end}"
        ".value{fill:#333}.legend{font-size:12px}</style>"
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>'
        f'<text x="12" y="24" class="title">{escape(title)}</text>'
        f'<text x="12" y="44" class="sub">{escape(subtitle)}</text>'
        + "".join(rows)
        + "".join(legend)
        + "</svg>\n"
    )


def _bars(figures: Mapping[str, float], factor: float) -> list[Bar]:
    return [Bar(label, value * factor, _kind(label)) for label, value in figures.items()]


def write_charts(
    figures: Mapping[str, Mapping[str, float]], out_dir: str | Path, *, note: str = ""
) -> list[Path]:
    """Write the charts (and `figures.json`) for the figures that were measured."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    lower = " (lower is better)"

    def save(name: str, svg: str) -> None:
        path = out / name
        path.write_text(svg, encoding="utf-8")
        written.append(path)

    groups = [
        (heading, _bars(figures[key], 1e6))
        for key, heading in (("overhead_sync", "sync"), ("overhead_async", "async"))
        if figures.get(key)
    ]
    if groups:
        save(
            "overhead.svg",
            render(
                "Per-call overhead: one blocking chat call to a local app",
                f"median wall time per call, µs{lower}{note}",
                "µs",
                groups,
            ),
        )
    if figures.get("concurrency"):
        save(
            "concurrency.svg",
            render(
                "200 concurrent calls, the app takes 250 ms per answer",
                f"median wall time of the whole burst, ms{lower}{note}",
                "ms",
                [("", _bars(figures["concurrency"], 1e3))],
            ),
        )
    if figures.get("first_token"):
        save(
            "first_token.svg",
            render(
                "Time to token: server flush -> chunk in the caller's hands",
                f"median over every streamed piece, ms{lower}{note}",
                "ms",
                [("", _bars(figures["first_token"], 1e3))],
            ),
        )
    data = out / "figures.json"
    data.write_text(
        json.dumps({k: dict(v) for k, v in figures.items()}, indent=2, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    written.append(data)
    return written
