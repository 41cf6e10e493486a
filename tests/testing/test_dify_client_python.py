"""dify-client-python (a third-party Dify client) runs every operation it supports against
DifyTestServer, sync and async, and every one works.

Its operations: chat, completion and workflow runs (blocking and streaming), their stop
calls, message feedback, suggested questions, file upload, audio to text and text to audio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

dify_client = pytest.importorskip("dify_client")
models = dify_client.models

from dify_integrations.testing import DifyTestServer  # noqa: E402

pytestmark = pytest.mark.timeout(120)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
USER = "third-party"


def _slow(*_: Any) -> Iterator[str]:
    for n in range(200):
        yield f"w{n} "


@pytest.fixture(scope="module")
def keys(server: DifyTestServer) -> dict[str, str]:
    chat = server.create_chat_app(
        "3p chat", responder=lambda q, i, h, f: f"Echo {q}", suggested_questions_after_answer=True
    )
    slow_chat = server.create_chat_app("3p slow chat", responder=_slow, token_delay=0.02)
    comp = server.create_completion_app("3p writer", template="Summary of {{query}}")
    slow_comp = server.create_completion_app(
        "3p slow writer", template="x", responder=_slow, token_delay=0.02
    )
    wf = server.create_workflow_app("3p workflow", handler=lambda v: {"text": "done"})
    slow_wf = server.create_workflow_app("3p slow workflow", handler=_slow, token_delay=0.02)
    return {
        "chat": chat.api_key,
        "slow_chat": slow_chat.api_key,
        "comp": comp.api_key,
        "slow_comp": slow_comp.api_key,
        "wf": wf.api_key,
        "slow_wf": slow_wf.api_key,
    }


def _client(server: DifyTestServer, key: str) -> Any:
    return dify_client.Client(api_key=key, api_base=server.base_url)


def _aclient(server: DifyTestServer, key: str) -> Any:
    return dify_client.AsyncClient(api_key=key, api_base=server.base_url)


BLOCKING = models.ResponseMode.BLOCKING
STREAMING = models.ResponseMode.STREAMING


def test_sync_client_every_operation(server: DifyTestServer, keys: dict[str, str]) -> None:
    chat = _client(server, keys["chat"])
    reply = chat.chat_messages(models.ChatRequest(query="hello", response_mode=BLOCKING, user=USER))
    assert reply.answer == "Echo hello"
    events = list(
        chat.chat_messages(models.ChatRequest(query="again", response_mode=STREAMING, user=USER))
    )
    assert "".join(getattr(e, "answer", "") or "" for e in events) == "Echo again"
    assert events[-1].event == "message_end"

    feedback = chat.feedback_messages(
        reply.message_id, models.FeedbackRequest(rating=models.Rating.LIKE, user=USER)
    )
    assert feedback.result == "success"
    suggested = chat.suggest_messages(reply.message_id, models.ChatSuggestRequest(user=USER))
    assert len(suggested.data) == 3

    uploaded = chat.upload_files(("pic.png", PNG, "image/png"), models.UploadFileRequest(user=USER))
    assert uploaded.name == "pic.png"
    assert uploaded.size == len(PNG)

    speech = chat.text_to_audio(models.TextToAudioRequest(text="Hi there", user=USER))
    assert isinstance(speech, bytes)
    text = chat.audio_to_text(
        ("hi.mp3", speech, "audio/mpeg"), models.AudioToTextRequest(user=USER)
    )
    assert text.text == "Hi there"

    comp = _client(server, keys["comp"])
    done = comp.completion_messages(
        models.CompletionRequest(inputs={"query": "tea"}, response_mode=BLOCKING, user=USER)
    )
    assert done.answer == "Summary of tea"
    streamed = list(
        comp.completion_messages(
            models.CompletionRequest(inputs={"query": "tea"}, response_mode=STREAMING, user=USER)
        )
    )
    assert streamed[-1].event == "message_end"

    wf = _client(server, keys["wf"])
    run = wf.run_workflows(models.WorkflowsRunRequest(inputs={}, response_mode=BLOCKING, user=USER))
    assert run.data.status == "succeeded"
    assert run.data.outputs == {"text": "done"}
    wf_events = list(
        wf.run_workflows(models.WorkflowsRunRequest(inputs={}, response_mode=STREAMING, user=USER))
    )
    assert wf_events[-1].event == "workflow_finished"

    for key, start, stop, request in (
        (
            "slow_chat",
            "chat_messages",
            "stop_chat_messages",
            models.ChatRequest(query="q", response_mode=STREAMING, user=USER),
        ),
        (
            "slow_comp",
            "completion_messages",
            "stop_completion_messages",
            models.CompletionRequest(inputs={"query": "q"}, response_mode=STREAMING, user=USER),
        ),
        (
            "slow_wf",
            "run_workflows",
            "stop_workflows",
            models.WorkflowsRunRequest(inputs={}, response_mode=STREAMING, user=USER),
        ),
    ):
        client = _client(server, keys[key])
        stream = getattr(client, start)(request)
        first = next(iter(stream))
        stopped = getattr(client, stop)(first.task_id, models.StopRequest(user=USER))
        assert stopped.result == "success"
        rest = list(stream)
        assert rest  # the stream then ends the Dify way
        assert server.stop_calls(first.task_id) == 1


def test_async_client_every_operation(server: DifyTestServer, keys: dict[str, str]) -> None:
    import httpx
    from dify_client import _clientx

    async def go() -> None:
        chat = _aclient(server, keys["chat"])
        reply = await chat.achat_messages(
            models.ChatRequest(query="hello", response_mode=BLOCKING, user=USER)
        )
        assert reply.answer == "Echo hello"
        events = [
            e
            async for e in await chat.achat_messages(
                models.ChatRequest(query="again", response_mode=STREAMING, user=USER)
            )
        ]
        assert events[-1].event == "message_end"
        feedback = await chat.afeedback_messages(
            reply.message_id, models.FeedbackRequest(rating=models.Rating.DISLIKE, user=USER)
        )
        assert feedback.result == "success"
        suggested = await chat.asuggest_messages(
            reply.message_id, models.ChatSuggestRequest(user=USER)
        )
        assert len(suggested.data) == 3
        uploaded = await chat.aupload_files(
            ("pic.png", PNG, "image/png"), models.UploadFileRequest(user=USER)
        )
        assert uploaded.size == len(PNG)
        speech = await chat.atext_to_audio(models.TextToAudioRequest(text="Hi", user=USER))
        text = await chat.aaudio_to_text(
            ("hi.mp3", speech, "audio/mpeg"), models.AudioToTextRequest(user=USER)
        )
        assert text.text == "Hi"

        comp = _aclient(server, keys["comp"])
        done = await comp.acompletion_messages(
            models.CompletionRequest(inputs={"query": "tea"}, response_mode=BLOCKING, user=USER)
        )
        assert done.answer == "Summary of tea"
        wf = _aclient(server, keys["wf"])
        run = await wf.arun_workflows(
            models.WorkflowsRunRequest(inputs={}, response_mode=BLOCKING, user=USER)
        )
        assert run.data.status == "succeeded"
        wf_events = [
            e
            async for e in await wf.arun_workflows(
                models.WorkflowsRunRequest(inputs={}, response_mode=STREAMING, user=USER)
            )
        ]
        assert wf_events[-1].event == "workflow_finished"

        slow = _aclient(server, keys["slow_chat"])
        stream = await slow.achat_messages(
            models.ChatRequest(query="q", response_mode=STREAMING, user=USER)
        )
        first = await stream.__anext__()
        stopped = await slow.astop_chat_messages(first.task_id, models.StopRequest(user=USER))
        assert stopped.result == "success"
        async for _ in stream:
            pass
        assert server.stop_calls(first.task_id) == 1
        slow_wf = _aclient(server, keys["slow_wf"])
        stream = await slow_wf.arun_workflows(
            models.WorkflowsRunRequest(inputs={}, response_mode=STREAMING, user=USER)
        )
        first = await stream.__anext__()
        stopped = await slow_wf.astop_workflows(first.task_id, models.StopRequest(user=USER))
        assert stopped.result == "success"
        async for _ in stream:
            pass
        slow_comp = _aclient(server, keys["slow_comp"])
        stream = await slow_comp.acompletion_messages(
            models.CompletionRequest(inputs={"query": "q"}, response_mode=STREAMING, user=USER)
        )
        first = await stream.__anext__()
        stopped = await slow_comp.astop_completion_messages(
            first.task_id, models.StopRequest(user=USER)
        )
        assert stopped.result == "success"
        async for _ in stream:
            pass

    async def with_fresh_client() -> None:
        # dify-client-python keeps one module-level httpx.AsyncClient bound to the loop that
        # first used it (and the benchmark smoke test closes it): give this loop its own.
        _clientx._async_httpx_client = httpx.AsyncClient()
        try:
            await go()
        finally:
            await _clientx._async_httpx_client.aclose()

    asyncio.run(with_fresh_client())
