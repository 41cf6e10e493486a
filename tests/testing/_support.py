"""Helpers for the local server's tests: plain ``requests`` over loopback (never the
project's own client, so the server is checked independently)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from dify_integrations.testing import DifyTestServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dify"

HANDBOOK = [
    {
        "name": "returns-policy.md",
        "text": (
            "Items can be returned within 30 days of delivery if unused and in original "
            "packaging.\n\nRefunds are issued to the original payment method within 5 "
            "business days."
        ),
        "metadata": {"department": "support", "language": "en", "year": 2024},
    },
    {
        "name": "shipping.md",
        "text": (
            "Standard shipping takes 3 to 5 business days.\n\nWe ship to Norway, Switzerland "
            "and every country of the European Union."
        ),
        "metadata": {"department": "logistics", "language": "en", "year": 2025},
    },
    {
        "name": "warranty.md",
        "text": "Every device has a two year warranty covering manufacturing defects.",
        "metadata": {"department": "support", "language": "de", "year": 2023},
    },
]


def fixture_json(name: str) -> Any:
    """A JSON fixture."""
    return json.loads((FIXTURES / name).read_text("utf-8"))


def parse_sse(raw: bytes) -> list[tuple[str, dict[str, Any] | None]]:
    """Frames of an SSE body: ``("ping", None)`` or ``(event name, payload)``."""
    frames: list[tuple[str, dict[str, Any] | None]] = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        if not block.strip():
            continue
        lines = block.decode("utf-8").split("\n")
        data = [line[len("data: ") :] for line in lines if line.startswith("data: ")]
        if data:
            payload = json.loads("\n".join(data))
            frames.append((payload["event"], payload))
        else:
            event = next(line[len("event: ") :] for line in lines if line.startswith("event: "))
            frames.append((event, None))
    return frames


def fixture_stream(name: str) -> list[tuple[str, dict[str, Any] | None]]:
    """Frames of an ``.sse`` fixture."""
    return parse_sse((FIXTURES / name).read_bytes())


def collapse(names: list[str], *, drop_pings: bool = True) -> list[str]:
    """Event names with pings removed and consecutive repeats collapsed."""
    out: list[str] = []
    for name in names:
        if drop_pings and name == "ping":
            continue
        if not out or out[-1] != name:
            out.append(name)
    return out


#: Objects whose keys are data (user metadata, run inputs/outputs), not protocol.
FREE_FORM = frozenset(
    {
        "doc_metadata",
        "inputs",
        "outputs",
        "tool_labels",
        "process_data",
        "execution_metadata",
        "extras",
    }
)


def assert_same_shape(actual: Any, expected: Any, path: str = "$") -> None:
    """Same keys (in order) and nesting, compatible scalar types; ``null`` matches anything."""
    if expected is None or actual is None:
        return
    if path.rsplit(".", 1)[-1] in FREE_FORM:
        assert type(actual) is type(expected) or isinstance(actual, dict | str), (
            f"{path}: {actual!r}"
        )
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected object, got {type(actual).__name__}"
        assert list(actual) == list(expected), f"{path}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            assert_same_shape(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected array"
        if expected and actual:
            assert_same_shape(actual[0], expected[0], f"{path}[0]")
    elif isinstance(expected, bool):
        assert isinstance(actual, bool), f"{path}: expected bool, got {actual!r}"
    elif isinstance(expected, int | float):
        assert isinstance(actual, int | float), f"{path}: {actual!r}"
        assert not isinstance(actual, bool), f"{path}: {actual!r}"
    else:
        assert type(actual) is type(expected), (
            f"{path}: {type(actual).__name__} != {type(expected).__name__}"
        )


class Api:
    """Tiny ``requests`` helper bound to the server and a key."""

    def __init__(self, server: DifyTestServer, key: str) -> None:
        self.base = server.base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, timeout=30, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.delete(self.base + path, timeout=30, **kwargs)

    def stream(self, path: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
        """POST a streaming request and parse the whole body."""
        resp = self.post(path, json={**body, "response_mode": "streaming"})
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        return parse_sse(resp.content)


def iter_frames(resp: requests.Response) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Frames of a streaming ``requests`` response as they arrive."""
    buffer = b""
    for chunk in resp.iter_content(chunk_size=None):
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            yield from parse_sse(block + b"\n\n")
