"""The API key never leaks: repr/str, errors, logs, pickles, serializations, tracing.

The local server is made to *echo* the key back (in error bodies, ``error`` events and
malformed frames), the worst case for a client: whatever the server sends, the key must not
end up in an exception, a log line, a pickle or a serialized component.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from dify_integrations import (
    AsyncDifyClient,
    AuthenticationError,
    DifyClient,
    DifyError,
    InternalServerError,
    StreamError,
)
from dify_integrations.core.errors import StreamDecodeError

from ._subjects import ALL, CORE, Subject
from .conftest import Apps, Rig

pytestmark = [
    pytest.mark.filterwarnings("error::ResourceWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]


def secret_fragments(key: str, width: int = 8) -> list[str]:
    """The key and every ``width``-character window of its random part (after ``app-``)."""
    secret = key.split("-", 1)[1]
    return [key] + [secret[i : i + width] for i in range(len(secret) - width + 1)]


def assert_no_key(key: str, *texts: str | bytes) -> None:
    """Neither the key nor any 8-character piece of its secret part appears in ``texts``."""
    for text in texts:
        blob = text if isinstance(text, str) else text.decode("latin-1")
        leaked = [frag for frag in secret_fragments(key) if frag in blob]
        assert not leaked, f"key material {leaked[:3]} found in {blob[:300]!r}"


def exception_views(exc: BaseException) -> list[str | bytes]:
    """Every way an exception is shown or stored: str, repr, args, body, traceback, pickle."""
    views: list[str | bytes] = [
        str(exc),
        repr(exc),
        repr(exc.args),
        "".join(traceback.format_exception(exc)),  # with the chained causes
        pickle.dumps(exc),
    ]
    for name in ("message", "body", "response_headers", "frame"):
        if hasattr(exc, name):
            views.append(repr(getattr(exc, name)))
    return views


# ------------------------------------------------------------------------ errors and logs


@pytest.mark.parametrize("subject", ALL, ids=str)
@pytest.mark.parametrize(
    ("status", "expected"), [(401, AuthenticationError), (500, InternalServerError)]
)
def test_errors_and_debug_logs_never_show_the_key(
    rig: Rig,
    subject: Subject,
    status: int,
    expected: type[DifyError],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, urllib3, aiohttp, asyncio...
    call = rig.call(subject, max_retries=2)
    echo = {"code": "unauthorized", "message": f"Invalid token {call.api_key}", "status": status}
    rig.fault(subject, "status", status=429, retry_after=0, count=1)  # a retry, logged
    rig.fault(subject, "status", status=status, body=echo, count=1)
    exc = rig.fail(subject, call, expected)
    assert exc.status_code == status
    assert exc.code == "unauthorized"
    assert exc.message == "Invalid token [REDACTED]"
    assert_no_key(call.api_key, *exception_views(exc))
    assert "retrying" in caplog.text  # the DEBUG logs did cover the retry
    assert_no_key(call.api_key, caplog.text, *(repr(r.args) for r in caplog.records))
    assert rig.posts(subject) == 2


def _echo_bodies(key: str) -> dict[str, Any]:
    return {
        "json-not-dify-shaped": {"detail": f"invalid bearer token {key}"},
        "json-list": [f"invalid bearer token {key}"],
        "html-page": f"<html><body><h1>401</h1><p>Bearer {key}</p></body></html>".encode(),
        # the key straddles the 200-character cut of the message excerpt
        "text-key-at-excerpt-cut": ("x" * 180 + f" {key} trailer").encode(),
    }


@pytest.mark.parametrize(
    "shape",
    [
        "json-not-dify-shaped",
        "json-list",
        "html-page",
        "text-key-at-excerpt-cut",
    ],
)
def test_error_bodies_of_any_shape_never_carry_the_key(rig: Rig, shape: str) -> None:
    subject = CORE[0]
    call = rig.call(subject, max_retries=0)
    rig.fault(subject, "status", status=401, body=_echo_bodies(call.api_key)[shape])
    exc = rig.fail(subject, call, AuthenticationError)
    assert_no_key(call.api_key, *exception_views(exc))


def test_stream_error_event_echoing_the_key_is_redacted(rig: Rig) -> None:
    subject = CORE[0]
    call = rig.call(subject, max_retries=0)
    rig.fault(subject, "error_event", after_events=1, message=f"upstream rejected {call.api_key}")
    exc = rig.fail(subject, call, StreamError)
    assert_no_key(call.api_key, *exception_views(exc))


def test_malformed_frame_echoing_the_key_is_redacted(rig: Rig) -> None:
    subject = CORE[0]
    call = rig.call(subject, max_retries=0)
    frame = b'data: {"event": "message", "answer": "' + call.api_key.encode() + b"\n\n"
    rig.fault(subject, "malformed", after_events=1, frame=frame)
    exc = rig.fail(subject, call, StreamDecodeError)
    assert_no_key(call.api_key, *exception_views(exc))


# ------------------------------------------------------------------------ repr, str, pickle


def _components(apps: Apps) -> Iterator[tuple[str, Any]]:
    """Every public object holding a key, built without any request."""
    from llama_index.core.tools import ToolMetadata

    from dify_integrations import langchain as lc
    from dify_integrations import llama_index as li

    key, base = apps.chat_key, apps.server.base_url
    common: dict[str, Any] = {"api_key": key, "base_url": base}
    yield "DifyClient", DifyClient(key, base_url=base)
    yield "AsyncDifyClient", AsyncDifyClient(key, base_url=base)
    yield "langchain.ChatDify", lc.ChatDify(**common)
    yield "langchain.DifyLLM", lc.DifyLLM(**common)
    yield "langchain.DifyWorkflowTool", lc.DifyWorkflowTool(**common)
    yield "langchain.DifyRetriever", lc.DifyRetriever(**common, dataset_id=apps.dataset_id)
    yield "llama_index.DifyLLM", li.DifyLLM(**common, app_mode="chat")
    yield "llama_index.DifyChatEngine", li.DifyChatEngine(**common)
    yield (
        "llama_index.DifyWorkflowTool",
        li.DifyWorkflowTool(ToolMetadata(name="t", description="d"), **common),
    )
    yield "llama_index.DifyRetriever", li.DifyRetriever(apps.dataset_id, **common)


def test_repr_and_str_of_every_component_hide_the_key(apps: Apps) -> None:
    key = apps.chat_key
    for name, obj in _components(apps):
        assert_no_key(key, repr(obj), str(obj))
        api_key = getattr(obj, "api_key", None)
        if api_key is not None:
            assert isinstance(api_key, SecretStr), name
            assert_no_key(key, repr(api_key), str(api_key))
        config = getattr(obj, "config", None)
        if config is not None:
            assert_no_key(key, repr(config), str(config))
        if isinstance(obj, DifyClient):
            obj.close()


@pytest.mark.parametrize(
    "name",
    [
        "DifyClient",
        "AsyncDifyClient",
        "langchain.ChatDify",
        "langchain.DifyLLM",
        "langchain.DifyWorkflowTool",
        "langchain.DifyRetriever",
        "llama_index.DifyLLM",
        "llama_index.DifyChatEngine",
        "llama_index.DifyWorkflowTool",
        "llama_index.DifyRetriever",
    ],
)
def test_pickling_a_component_never_writes_the_key(apps: Apps, name: str) -> None:
    obj = dict(_components(apps))[name]
    try:
        data = pickle.dumps(obj)
    except (TypeError, AttributeError, pickle.PicklingError) as exc:
        # Refusing to pickle is fine (nothing is written), if the refusal does not show it.
        assert_no_key(apps.chat_key, str(exc), repr(exc))
        return
    finally:
        if isinstance(obj, DifyClient):
            obj.close()
    assert_no_key(apps.chat_key, data)


# ------------------------------------------------------------------------ LangChain


def test_langchain_serialization_and_langsmith_params_hide_the_key(apps: Apps) -> None:
    from langchain_core.load import dumpd, dumps, load

    from dify_integrations import langchain as lc

    key = apps.chat_key
    for name, obj in _components(apps):
        if not name.startswith("langchain."):
            continue
        assert_no_key(key, dumps(obj), json.dumps(dumpd(obj)), obj.model_dump_json())
        assert_no_key(key, repr(obj.model_dump()))
        if name in ("langchain.ChatDify", "langchain.DifyLLM"):
            assert_no_key(key, repr(obj._get_ls_params()), repr(obj._identifying_params))
    # the serializable models keep a reference to the secret, and load it back from there
    model = lc.ChatDify(api_key=key, base_url=apps.server.base_url, user="u")
    restored = load(
        dumpd(model),
        secrets_map={"DIFY_API_KEY": key},
        valid_namespaces=["dify_integrations"],
        allowed_objects=[lc.ChatDify],
    )
    assert restored.api_key.get_secret_value() == key


class _Recorder:
    """A LangChain callback handler that keeps a repr of every argument it sees."""

    def __init__(self) -> None:
        from langchain_core.callbacks import BaseCallbackHandler

        seen: list[str] = []

        class Handler(BaseCallbackHandler):
            def __getattribute__(self, name: str) -> Any:
                if name.startswith("on_"):

                    def record(*args: Any, **kwargs: Any) -> None:
                        seen.append(f"{name} {args!r} {kwargs!r}")

                    return record
                return super().__getattribute__(name)

        self.seen = seen
        self.handler = Handler()


def _langchain_component(name: str, call: Any, **extra: Any) -> tuple[Any, Any]:
    """A LangChain adapter for ``call`` and the input of its representative call."""
    from dify_integrations import langchain as lc

    common = {"api_key": call.api_key, "base_url": call.base_url, "user": call.user, **extra}
    if name == "langchain-ChatDify":
        return lc.ChatDify(**common, model="m"), "hello"
    if name == "langchain-DifyLLM":
        return lc.DifyLLM(**common, model="m"), "hello"
    if name == "langchain-DifyWorkflowTool":
        return lc.DifyWorkflowTool(**common), {"text": "hello"}
    return lc.DifyRetriever(**common, dataset_id=call.dataset_id), "refunds"


_STARTS = ("on_chat_model_start", "on_llm_start", "on_tool_start", "on_retriever_start")


@pytest.mark.parametrize("subject", [s for s in ALL if s.name.startswith("langchain-")], ids=str)
def test_langchain_callbacks_and_tracing_metadata_hide_the_key(rig: Rig, subject: Subject) -> None:
    call = rig.call(subject, max_retries=0)
    recorder = _Recorder()
    config: Any = {"callbacks": [recorder.handler], "metadata": {"purpose": "test"}}
    if rig.mode == "sync":
        obj, arg = _langchain_component(subject.name, call)
        obj.invoke(arg, config)
    else:

        async def go() -> None:
            async with AsyncDifyClient(call.api_key, base_url=call.base_url) as client:
                obj, arg = _langchain_component(subject.name, call, async_client=client)
                await obj.ainvoke(arg, config)

        asyncio.run(go())
    assert any(s.startswith(_STARTS) for s in recorder.seen)  # the run was traced
    if subject.name in ("langchain-ChatDify", "langchain-DifyLLM"):
        assert "'ls_provider': 'dify'" in " ".join(recorder.seen)  # LangSmith metadata seen
    assert_no_key(call.api_key, *recorder.seen)


# ------------------------------------------------------------------------ LlamaIndex


def test_llama_index_to_dict_and_payloads_hide_the_key(apps: Apps) -> None:
    from dify_integrations import llama_index as li

    key = apps.chat_key
    llm = li.DifyLLM(api_key=key, base_url=apps.server.base_url, app_mode="chat")
    assert "api_key" not in llm.to_dict()
    assert_no_key(
        key,
        repr(llm.to_dict()),
        llm.to_json(),
        repr(llm.to_payload()),
        repr(llm.model_dump()),
        llm.model_dump_json(),
        repr(llm.metadata),
    )


@pytest.mark.parametrize("subject", [s for s in ALL if s.name.startswith("llama_index-")], ids=str)
def test_llama_index_callbacks_and_instrumentation_hide_the_key(rig: Rig, subject: Subject) -> None:
    from llama_index.core.callbacks import CallbackManager, CBEventType
    from llama_index.core.callbacks.base_handler import BaseCallbackHandler
    from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.events import BaseEvent

    seen: list[str] = []

    class Events(BaseEventHandler):
        @classmethod
        def class_name(cls) -> str:
            return "KeyWatch"

        def handle(self, event: BaseEvent, **kwargs: Any) -> None:
            seen.append(repr(event.model_dump()))

    class Callbacks(BaseCallbackHandler):
        def __init__(self) -> None:
            super().__init__([], [])

        def on_event_start(
            self,
            event_type: CBEventType,
            payload: dict[str, Any] | None = None,
            event_id: str = "",
            parent_id: str = "",
            **kwargs: Any,
        ) -> str:
            seen.append(f"{event_type} {payload!r}")
            return event_id

        def on_event_end(
            self,
            event_type: CBEventType,
            payload: dict[str, Any] | None = None,
            event_id: str = "",
            **kwargs: Any,
        ) -> None:
            seen.append(f"{event_type} {payload!r}")

        def start_trace(self, trace_id: str | None = None) -> None:
            return None

        def end_trace(self, trace_id: str | None = None, trace_map: Any = None) -> None:
            return None

    dispatcher = get_dispatcher()
    handler = Events()
    dispatcher.add_event_handler(handler)
    try:
        call = rig.call(subject, max_retries=0)
        if subject.name == "llama_index-DifyLLM":
            from llama_index.core.llms import ChatMessage

            from dify_integrations.llama_index import DifyLLM

            llm = DifyLLM(
                api_key=call.api_key,
                base_url=call.base_url,
                app_mode="chat",
                callback_manager=CallbackManager([Callbacks()]),
            )
            messages = [ChatMessage(role="user", content="hello")]
            if rig.mode == "sync":
                llm.chat(messages)
                llm.close()
            else:

                async def go() -> None:
                    try:
                        await llm.achat(messages)
                    finally:
                        await llm.aclose()

                asyncio.run(go())
        else:
            subject.run(rig.mode, call)
    finally:
        dispatcher.event_handlers.remove(handler)
    if subject.name in ("llama_index-DifyLLM", "llama_index-DifyRetriever"):
        assert seen, "no event was observed"  # the engine and the tool emit none of their own
    assert_no_key(call.api_key, *seen)
