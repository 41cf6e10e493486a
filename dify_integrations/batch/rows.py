"""Batch input: rows from an iterable, a pandas DataFrame or a JSONL file, with their ids."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Row", "RowId", "load_rows", "plain_value", "row_fingerprint"]

RowId = str | Callable[[Mapping[str, Any]], Any] | None
"""How a row's id is found: a field name, a callable on the row, or ``None`` (its position)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One input row.

    Attributes:
        index: Position in the input (0-based).
        id: The row's id as a string (the checkpoint key).
        data: The row itself.
        fingerprint: Hash of the row's content, to notice an id reused for other content.
    """

    index: int
    id: str
    data: Mapping[str, Any]
    fingerprint: str


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: NaN or infinity cannot be sent to Dify")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]")


def row_fingerprint(data: Mapping[str, Any]) -> str:
    """A short, stable hash of a row's JSON content."""
    raw = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def _records(source: Any) -> Iterable[Any]:
    if isinstance(source, str | os.PathLike):
        return _jsonl(Path(source))
    to_dict = getattr(source, "to_dict", None)
    if callable(to_dict) and hasattr(source, "columns"):  # a pandas DataFrame
        records: list[dict[str, Any]] = to_dict(orient="records")
        return [{str(k): plain_value(v) for k, v in r.items()} for r in records]
    if isinstance(source, Mapping | bytes):
        raise TypeError(
            "rows must be an iterable of mappings, a pandas DataFrame or a JSONL path, "
            f"not {type(source).__name__}"
        )
    return source  # type: ignore[no-any-return]


def plain_value(value: Any) -> Any:
    """A numpy scalars and pandas missing values as plain Python (NaN stays NaN: refused later)."""
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__.startswith("numpy"):
        return item()
    return value


def _jsonl(path: Path) -> list[Any]:
    if not path.is_file():
        raise FileNotFoundError(f"input file not found: {path}")
    out: list[Any] = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not a JSON line ({exc})") from None
    return out


def load_rows(source: Any, id_field: RowId = "id") -> list[Row]:
    """Read every row and check it before anything is sent.

    Args:
        source: An iterable of mappings, a pandas DataFrame, or a path to a JSONL file (one
            JSON object a line).
        id_field: The field holding each row's id, a callable computing it, or ``None`` to
            use the row's position (only stable while the input keeps its order).

    Returns:
        The rows, in input order.

    Raises:
        ValueError: A row that is not a mapping, a missing or duplicate id, NaN values.
        TypeError: ``source`` is not rows.
    """
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(_records(source)):
        if not isinstance(record, Mapping):
            raise ValueError(f"row {index}: expected a mapping, got {type(record).__name__}")
        if id_field is None:
            raw_id: Any = index
        elif callable(id_field):
            raw_id = id_field(record)
        else:
            if id_field not in record:
                raise ValueError(f"row {index}: no {id_field!r} field (the row id)")
            raw_id = record[id_field]
        if raw_id is None or isinstance(raw_id, bool) or (isinstance(raw_id, str) and not raw_id):
            raise ValueError(f"row {index}: empty row id")
        if isinstance(raw_id, float) and not math.isfinite(raw_id):
            raise ValueError(f"row {index}: the row id is NaN")
        row_id = str(raw_id)
        if row_id in seen:
            raise ValueError(f"row {index}: duplicate row id {row_id!r} (also row {seen[row_id]})")
        seen[row_id] = index
        _check_finite(dict(record), f"row {row_id!r}")
        rows.append(Row(index, row_id, record, row_fingerprint(record)))
    return rows
