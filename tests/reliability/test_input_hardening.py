"""Bad input is refused with a clear `ValueError` before any request (issue 12, items 13-19).

Each test makes the bad call against the session's `DifyTestServer` and checks both the
error and that nothing reached the server: no request in its log during the call.
Covered: API keys with whitespace/control characters (item 13), ambiguous base URLs
(item 15), ids that are not canonical UUIDs (item 17), hostile upload parts (item 18) and
NaN/infinity in ``inputs`` (item 19), each sync and async.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dify_integrations import AsyncDifyClient, DifyClient
from dify_integrations.testing import DifyTestServer
from dify_integrations.testing._settings import MB, UploadLimits

from ._subjects import Mode
from .conftest import Apps

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

TASK = "1A2B3C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D"
BAD_IDS = [
    "..",
    ".",
    "{1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d}",
    "urn:uuid:1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "1a2b3c4d_5e6f_4a7b_8c9d_0e1f2a3b4c5d",
    "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d\r\n",
    " 1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    "1a2b3c4d5e6f4a7b8c9d0e1f2a3b4c5d",
    "../../datasets",
]


def run(mode: Mode, apps: Apps, key: str, call: Callable[[Any], Any]) -> Any:
    """``call(client)`` with a sync or async client of the session server.

    ``call`` returns the result (sync) or an awaitable (async).
    """
    kwargs: dict[str, Any] = {"base_url": apps.server.base_url, "user": "u", "max_retries": 0}
    if mode == "sync":
        with DifyClient(key, **kwargs) as client:
            return call(client)

    async def go() -> Any:
        async with AsyncDifyClient(key, **kwargs) as client:
            return await call(client)

    return asyncio.run(go())


def refused(mode: Mode, apps: Apps, key: str, call: Callable[[Any], Any]) -> ValueError:
    """The call raises `ValueError` and no request reaches the server."""
    before = len(apps.server.request_log)
    with pytest.raises(ValueError, match=r".") as info:
        run(mode, apps, key, call)
    assert len(apps.server.request_log) == before, "a request was sent"
    return info.value


# ------------------------------------------------------------------------ item 13: key

BAD_KEYS = [
    "app-abc123\r\nX-Injected: yes",
    "app-abc123\n",
    "\tapp-abc123",
    "app-abc 123",
    "app-abc\x00123",
    "app-abc\x7f123",
    "app-abcé123",
    " ",
]


def _assert_clean(exc: BaseException, key: str) -> None:
    fragments = [key.strip()] + [key[i : i + 6] for i in range(4, max(5, len(key) - 5))]
    shown = f"{exc}{exc!r}{exc.args!r}"
    leaked = [f for f in fragments if f.strip() and f in shown]
    assert not leaked, f"the key shows in the error: {shown!r}"
    assert exc.__cause__ is None
    assert exc.__context__ is None


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
@pytest.mark.parametrize("cls", [DifyClient, AsyncDifyClient], ids=lambda c: c.__name__)
def test_a_key_with_whitespace_or_control_characters_is_refused_at_construction(
    cls: type[DifyClient] | type[AsyncDifyClient], key: str
) -> None:
    with pytest.raises(ValueError, match="api_key") as info:
        cls(key, base_url="http://127.0.0.1:9/v1")
    _assert_clean(info.value, key)


@pytest.mark.parametrize("key", BAD_KEYS[:3], ids=repr)
def test_a_bad_key_from_the_environment_is_refused_too(
    monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    monkeypatch.setenv("DIFY_API_KEY", key)
    with pytest.raises(ValueError, match="api_key") as info:
        DifyClient(base_url="http://127.0.0.1:9/v1")
    _assert_clean(info.value, key)


@pytest.mark.parametrize("key", BAD_KEYS[:2], ids=repr)
def test_adapters_refuse_a_bad_key_at_construction_without_a_validation_error(key: str) -> None:
    """A pydantic ValidationError would keep the key in ``errors()`` and its pickle."""
    from dify_integrations.langchain import ChatDify, DifyRetriever
    from dify_integrations.llama_index import DifyLLM

    builders: list[Callable[[], Any]] = [
        lambda: ChatDify(api_key=key),
        lambda: DifyRetriever(api_key=key, dataset_id=TASK.lower()),
        lambda: DifyLLM(api_key=key),
    ]
    for build in builders:
        with pytest.raises(ValueError, match="api_key") as info:
            build()
        assert type(info.value) is ValueError
        _assert_clean(info.value, key)


# ------------------------------------------------------------------------ item 15: base_url

BAD_URLS = {
    "backslash-userinfo": "http://REMOTE\\@127.0.0.1/v1",
    "backslash-path": "http://127.0.0.1:5001\\v1",
    "userinfo": "http://127.0.0.1@example.invalid/v1",
    "user-password": "https://alice:hunter2@api.dify.ai/v1",
    "fragment": "http://127.0.0.1:5001/v1#/chat",
    "query": "http://127.0.0.1:5001/v1?x=1",
    "space": "http://127.0.0.1:5001/v 1",
    "newline": "http://127.0.0.1:5001/v1\r\nX: y",
    "percent-host": "http://127.0.0.1%2fexample.invalid/v1",
    "bad-port": "http://127.0.0.1:99999/v1",
    "no-scheme": "127.0.0.1:5001/v1",
}


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
@pytest.mark.parametrize("cls", [DifyClient, AsyncDifyClient], ids=lambda c: c.__name__)
def test_an_ambiguous_base_url_is_refused(
    cls: type[DifyClient] | type[AsyncDifyClient], url: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused, not merely warned about
        with pytest.raises(ValueError, match="base_url") as info:
            cls("app-abc123", base_url=url)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url", [BAD_URLS["backslash-userinfo"], BAD_URLS["fragment"], BAD_URLS["user-password"]]
)
def test_adapters_refuse_an_ambiguous_base_url(url: str) -> None:
    """A plain `ValueError` without the password (a pydantic error would quote the URL)."""
    from dify_integrations.langchain import ChatDify
    from dify_integrations.llama_index import DifyLLM

    for build in (ChatDify, DifyLLM):
        with pytest.raises(ValueError, match="base_url") as info:
            build(api_key="app-abc123", base_url=url)
        assert type(info.value) is ValueError
        assert "hunter2" not in f"{info.value}{info.value!r}"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:5001/v1/", "HTTP://LOCALHOST:5001/v1", "http://[::1]:5001/v1"],
)
def test_plain_loopback_urls_are_accepted_without_a_warning(url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DifyClient("app-abc123", base_url=url).close()


def test_plain_http_to_a_remote_host_still_warns() -> None:
    with pytest.warns(UserWarning, match="plain http"):
        DifyClient("app-abc123", base_url="http://example.invalid/v1").close()


# ------------------------------------------------------------------------ item 17: ids

ID_CALLS: dict[str, Callable[[str], Callable[[Any], Any]]] = {
    "stop_chat_message": lambda i: lambda c: c.stop_chat_message(i),
    "stop_completion": lambda i: lambda c: c.stop_completion(i),
    "stop_workflow": lambda i: lambda c: c.stop_workflow(i),
    "get_workflow_run": lambda i: lambda c: c.get_workflow_run(i),
    "delete_conversation": lambda i: lambda c: c.delete_conversation(i),
    "list_messages": lambda i: lambda c: c.list_messages(i),
    "send_chat_message": lambda i: lambda c: c.send_chat_message("hi", conversation_id=i),
    "stream_workflow_events": lambda i: lambda c: c.stream_workflow_events(i),
}


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
@pytest.mark.parametrize("operation", ID_CALLS, ids=str)
def test_an_id_that_is_not_a_canonical_uuid_is_refused_before_any_request(
    apps: Apps, mode: Mode, operation: str, bad: str
) -> None:
    error = refused(mode, apps, apps.chat_key, ID_CALLS[operation](bad))
    assert "UUID" in str(error)
    assert bad.strip() not in str(error) or bad in (".", "..")


def test_retrieve_refuses_a_dataset_id_that_is_not_a_uuid(apps: Apps, mode: Mode) -> None:
    error = refused(mode, apps, apps.dataset_key, lambda c: c.retrieve("..", "refunds"))
    assert "dataset_id" in str(error)


@pytest.mark.parametrize("operation", ["stop_chat_message", "stop_workflow"])
def test_a_valid_id_is_sent_in_its_canonical_form(apps: Apps, mode: Mode, operation: str) -> None:
    key = apps.chat_key if operation == "stop_chat_message" else apps.workflow_key
    before = len(apps.server.request_log)
    run(mode, apps, key, ID_CALLS[operation](TASK))
    sent = [r.path for r in apps.server.request_log[before:]]
    assert sent
    assert all(TASK.lower() in path for path in sent), sent


# ------------------------------------------------------------------------ item 18: uploads

HOSTILE_UPLOADS: dict[str, dict[str, Any]] = {
    "mime-crlf": {
        "file": b"hello",
        "filename": "a.txt",
        "mime_type": 'text/plain\r\nContent-Disposition: form-data; name="user"',
    },
    "mime-lf": {"file": b"hello", "filename": "a.txt", "mime_type": "text/plain\nX: y"},
    "mime-nul": {"file": b"hello", "filename": "a.txt", "mime_type": "text/plain\x00"},
    "mime-not-a-type": {"file": b"hello", "filename": "a.txt", "mime_type": "plain text"},
    "name-nul": {"file": b"hello", "filename": "a.txt\x00.png"},
    "name-crlf": {"file": b"hello", "filename": "a\r\n.txt"},
    "name-separator": {"file": b"hello", "filename": "../a.txt"},
}


@pytest.mark.parametrize("case", HOSTILE_UPLOADS.values(), ids=HOSTILE_UPLOADS.keys())
def test_hostile_upload_parts_are_refused_before_any_request(
    apps: Apps, mode: Mode, case: dict[str, Any]
) -> None:
    refused(mode, apps, apps.chat_key, lambda c: c.upload_file(**case))


def test_a_media_type_with_parameters_is_still_accepted(apps: Apps, mode: Mode) -> None:
    uploaded = run(
        mode,
        apps,
        apps.chat_key,
        lambda c: c.upload_file(b"hello", filename="a.txt", mime_type="text/plain; charset=utf-8"),
    )
    assert uploaded.id


_DEVICE_UPLOAD = """
import asyncio, resource, sys
from dify_integrations import AsyncDifyClient, DifyClient
from dify_integrations.testing import DifyTestServer
from dify_integrations.testing._settings import MB, UploadLimits
# A client that read the device would stop at this bound with MemoryError, not take the
# machine's memory (the test runs on a shared machine).
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
mode, how, key, url = sys.argv[1:]
def call(client):
    if how == "path":
        return client.upload_file("/dev/zero")
    return client.upload_file(open("/dev/zero", "rb"), filename="z.bin")
try:
    if mode == "sync":
        with DifyClient(key, base_url=url, user="u", max_retries=0) as client:
            call(client)
    else:
        async def go():
            async with AsyncDifyClient(key, base_url=url, user="u", max_retries=0) as client:
                await call(client)
        asyncio.run(go())
except ValueError as exc:
    print("ValueError:", exc)
except MemoryError:
    print("MemoryError")
"""


@pytest.mark.skipif(
    not os.path.exists("/dev/zero") or sys.platform != "linux", reason="needs /dev/zero, rlimit"
)
@pytest.mark.parametrize("how", ["path", "file object"])
def test_a_device_is_refused_not_read_until_memory_runs_out(
    apps: Apps, mode: Mode, how: str
) -> None:
    before = len(apps.server.request_log)
    done = subprocess.run(
        [sys.executable, "-c", _DEVICE_UPLOAD, mode, how, apps.chat_key, apps.server.base_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.startswith("ValueError:"), done.stdout + done.stderr[-2000:]
    assert "regular file" in done.stdout
    assert len(apps.server.request_log) == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking_on_it(apps: Apps, mode: Mode, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # A client that opened the FIFO would block until a writer came: unblock it after the
    # fact (the test then fails on the missing error rather than hanging).
    unblock = threading.Timer(20.0, lambda: _open_writer(fifo))
    unblock.start()
    try:
        error = refused(mode, apps, apps.chat_key, lambda c: c.upload_file(fifo))
    finally:
        unblock.cancel()
    assert "regular file" in str(error)


def _open_writer(fifo: Path) -> None:
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.close(fd)


# ------------------------------------------------------------------------ item 19: NaN

NON_FINITE = {
    "nan": {"x": float("nan")},
    "inf": {"x": float("inf")},
    "nested": {"x": {"y": [1.0, float("-inf")]}},
}
INPUT_CALLS: dict[str, Callable[[dict[str, Any]], Callable[[Any], Any]]] = {
    "send_chat_message": lambda inputs: lambda c: c.send_chat_message("hi", inputs=inputs),
    "stream_chat_message": lambda inputs: lambda c: c.stream_chat_message("hi", inputs=inputs),
    "send_completion": lambda inputs: lambda c: c.send_completion(inputs, query="q"),
    "run_workflow": lambda inputs: lambda c: c.run_workflow(inputs),
}


@pytest.mark.parametrize("inputs", NON_FINITE.values(), ids=NON_FINITE.keys())
@pytest.mark.parametrize("operation", INPUT_CALLS, ids=str)
def test_nan_or_infinity_in_inputs_is_refused_before_any_request(
    apps: Apps, mode: Mode, operation: str, inputs: dict[str, Any]
) -> None:
    error = refused(mode, apps, apps.chat_key, INPUT_CALLS[operation](inputs))
    assert "inputs[" in str(error)
    assert "JSON" in str(error)


# ------------------------------------------------------------------------ item 18: size limits


@pytest.fixture(scope="module")
def limited() -> Iterator[DifyTestServer]:
    """A server whose apps accept 1 MB files, 2 MB images (reported by /parameters)."""
    limits = UploadLimits(other=1 * MB, image=2 * MB)
    with DifyTestServer(upload_limits=limits) as server:
        yield server


def _upload(mode: Mode, server: DifyTestServer, key: str, files: list[tuple[bytes, str]]) -> Any:
    """Upload ``files`` (content, name) in turn with one client; the results or the error."""
    kwargs: dict[str, Any] = {"base_url": server.base_url, "user": "u", "max_retries": 0}
    if mode == "sync":
        with DifyClient(key, **kwargs) as client:
            return [client.upload_file(data, filename=name) for data, name in files]

    async def go() -> Any:
        async with AsyncDifyClient(key, **kwargs) as client:
            return [await client.upload_file(data, filename=name) for data, name in files]

    return asyncio.run(go())


def test_a_file_over_the_apps_size_limit_is_refused_before_it_is_sent(
    limited: DifyTestServer, mode: Mode, tmp_path: Path
) -> None:
    key = limited.create_chat_app("Limited").api_key
    before = len(limited.request_log)
    image = b"\x89PNG" + b"x" * (MB + MB // 2)  # 1.5 MB: under the image limit
    uploaded = _upload(mode, limited, key, [(image, "photo.png"), (b"small", "note.txt")])
    assert [u.name for u in uploaded] == ["photo.png", "note.txt"]
    with pytest.raises(ValueError, match=r"larger than this Dify app accepts.*file_size_limit"):
        _upload(mode, limited, key, [(b"x" * (MB + MB // 2), "notes.txt")])
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (MB + 1))
    with pytest.raises(ValueError, match="larger than this Dify app accepts"):
        _upload(mode, limited, key, [(big.read_bytes(), big.name)])
    routes = [(r.method, r.route) for r in limited.request_log[before:]]
    # Each client asked /parameters once; only the two files under the limits were sent.
    assert routes.count(("POST", "/files/upload")) == 2
    assert routes.count(("GET", "/parameters")) == 3


def test_a_path_over_the_limit_is_refused_before_it_is_read(limited: DifyTestServer) -> None:
    from dify_integrations.core import operations as ops

    params = {"file_size_limit": 1}
    with pytest.raises(ValueError, match="larger than this Dify app accepts"):
        # /dev/zero would never end; a sparse 2 GB file is refused from its size alone.
        ops.upload_file(_sparse(2 << 30), system_parameters=params)


def _sparse(size: int) -> Path:
    import tempfile

    handle = tempfile.NamedTemporaryFile(suffix=".bin", delete=False)  # noqa: SIM115
    with handle:
        handle.truncate(size)
    return Path(handle.name)
