"""The results file: one record per finished row, read back to resume a run.

Two formats, picked by the file suffix:

- JSONL (``.jsonl``/``.json``/anything else): one JSON object a line, appended and flushed
  as each row finishes; a later line for the same id (a retried error) supersedes an
  earlier one. Rows in flight are noted in a sidecar file (``<name>.inflight``) before
  their request is sent, with the Dify run id as soon as it is known, so a run killed
  halfway knows which rows may have reached Dify.
- SQLite (``.sqlite``/``.sqlite3``/``.db``): a ``results`` table keyed by row id, with the
  same records and states, committed per row.

A last JSONL line cut short by a kill is dropped (and the file truncated to the last full
line) when the file is opened again; any other unreadable line is a clear error.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Checkpoint", "JsonlCheckpoint", "SqliteCheckpoint", "load_results", "open_checkpoint"]

_SQLITE_SUFFIXES = frozenset({".sqlite", ".sqlite3", ".db"})


class Checkpoint(Protocol):
    """Where finished rows (and rows in flight) are recorded."""

    path: Path

    def load(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """``(finished, in_flight)``: the last final record and the last in-flight note per id."""
        ...

    def started(self, record: dict[str, Any]) -> None:
        """Note that a row's request is about to be sent (or its run id is now known).

        Records carry ``t`` (``time.time()``); a note older than the row's final record is
        from an attempt that finished.
        """
        ...

    def finished(self, record: dict[str, Any]) -> None:
        """Record a row's final result (``state`` ``ok`` or ``error``)."""
        ...

    def close(self) -> None:
        """Flush and close."""
        ...


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSONL file; a torn last line is cut off the file."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    end = raw.rfind(b"\n") + 1
    if end < len(raw):  # the last write was interrupted
        with path.open("r+b") as f:
            f.truncate(end)
        raw = raw[:end]
    records: list[dict[str, Any]] = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ValueError(f"{path}:{number}: not a JSON line; is this a results file?") from None
        if not isinstance(record, dict) or "id" not in record:
            raise ValueError(f"{path}:{number}: not a result record (no 'id')")
        records.append(record)
    return records


class JsonlCheckpoint:
    """Results as JSON lines, with a sidecar of rows in flight."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.inflight_path = self.path.with_name(self.path.name + ".inflight")
        self._out: Any = None
        self._inflight: Any = None

    def load(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        finished = {str(r["id"]): r for r in _read_jsonl(self.path) if r.get("state") != "started"}
        in_flight: dict[str, dict[str, Any]] = {}
        for r in _read_jsonl(self.inflight_path):
            in_flight.setdefault(str(r["id"]), {}).update(r)
        # A note older than the row's final record belongs to an attempt that finished.
        for row_id in [
            i
            for i, note in in_flight.items()
            if i in finished and float(note.get("t", 0)) <= float(finished[i].get("t", 0))
        ]:
            del in_flight[row_id]
        return finished, in_flight

    def _open(self) -> None:
        if self._out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = self.path.open("a", encoding="utf-8")
            self._inflight = self.inflight_path.open("a", encoding="utf-8")

    def started(self, record: dict[str, Any]) -> None:
        self._open()
        self._inflight.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._inflight.flush()

    def finished(self, record: dict[str, Any]) -> None:
        self._open()
        self._out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._out.flush()

    def close(self) -> None:
        for f in (self._out, self._inflight):
            if f is not None:
                f.close()
        self._out = self._inflight = None


class SqliteCheckpoint:
    """Results in a SQLite table ``results(id, state, record, inflight)``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS results (id TEXT PRIMARY KEY, state TEXT, "
                "record TEXT, inflight TEXT)"
            )
            self._db = db
        return self._db

    def load(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        finished: dict[str, dict[str, Any]] = {}
        in_flight: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return finished, in_flight
        for row_id, record, inflight in self._conn().execute(
            "SELECT id, record, inflight FROM results"
        ):
            if record is not None:
                finished[row_id] = json.loads(record)
            if inflight is not None:
                in_flight[row_id] = json.loads(inflight)
        return finished, in_flight

    def started(self, record: dict[str, Any]) -> None:
        db = self._conn()
        row = db.execute("SELECT inflight FROM results WHERE id = ?", (record["id"],)).fetchone()
        merged = {**(json.loads(row[0]) if row and row[0] else {}), **record}
        db.execute(
            "INSERT INTO results (id, inflight) VALUES (?, ?) "
            "ON CONFLICT(id) DO UPDATE SET inflight = excluded.inflight",
            (record["id"], json.dumps(merged, default=str)),
        )

    def finished(self, record: dict[str, Any]) -> None:
        self._conn().execute(
            "INSERT INTO results (id, state, record) VALUES (?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET state = excluded.state, record = excluded.record, "
            "inflight = NULL",
            (record["id"], record["state"], json.dumps(record, default=str)),
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def open_checkpoint(path: str | os.PathLike[str]) -> JsonlCheckpoint | SqliteCheckpoint:
    """The checkpoint for ``path``: SQLite for ``.sqlite``/``.sqlite3``/``.db``, else JSONL."""
    if Path(path).suffix.lower() in _SQLITE_SUFFIXES:
        return SqliteCheckpoint(path)
    return JsonlCheckpoint(path)


def load_results(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The final record of every finished row of a results file, by row id."""
    checkpoint = open_checkpoint(path)
    try:
        return checkpoint.load()[0]
    finally:
        checkpoint.close()
