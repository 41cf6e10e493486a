"""DifyLLM (completion apps) over real HTTP, sync and async."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumps

from dify_integrations import AuthenticationError, StreamError
from dify_integrations.langchain import DifyLLM


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def expected(query: str, tone: str) -> str:
    """The completion app's template (see conftest) rendered."""
    return f"Tagline for {query} in a {tone} tone"


class TokenRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)


async def test_invoke_puts_prompt_into_input_key(apps: Any, mode: str) -> None:
    llm = DifyLLM(api_key=apps.completion_key, base_url=apps.base_url, inputs={"tone": "bold"})
    recorder = TokenRecorder()
    config = {"callbacks": [recorder]}
    if mode == "sync":
        text = llm.invoke("a bakery", config=config)
    else:
        text = await llm.ainvoke("a bakery", config=config)
    assert text == expected("a bakery", "bold")
    assert len(recorder.tokens) > 2
    assert "".join(recorder.tokens) == text
    request = [r for r in apps.server.request_log if r.path.endswith("/completion-messages")][-1]
    assert request.body["inputs"] == {"tone": "bold", "query": "a bakery"}


async def test_stream_and_per_call_inputs(apps: Any, mode: str) -> None:
    llm = DifyLLM(api_key=apps.completion_key, base_url=apps.base_url)
    if mode == "sync":
        chunks = list(llm.stream("a gym", inputs={"tone": "calm"}))
    else:
        chunks = [c async for c in llm.astream("a gym", inputs={"tone": "calm"})]
    assert len(chunks) > 2
    assert "".join(chunks) == expected("a gym", "calm")


async def test_generate_metadata(apps: Any, mode: str) -> None:
    llm = DifyLLM(api_key=apps.completion_key, base_url=apps.base_url, inputs={"tone": "dry"})
    prompts = ["a bank", "a zoo"]
    result = llm.generate(prompts) if mode == "sync" else await llm.agenerate(prompts)
    assert [g[0].text for g in result.generations] == [expected(p, "dry") for p in prompts]
    info = result.generations[0][0].generation_info
    assert info is not None
    assert info["model_name"] == "Tagline Writer"
    assert isinstance(info["message_id"], str)
    assert isinstance(info["task_id"], str)
    assert info["usage"]["currency"] == "USD"
    usage = info["usage_metadata"]
    assert usage["input_tokens"] == info["usage"]["prompt_tokens"]
    assert result.llm_output is not None
    assert result.llm_output["token_usage"]["total_tokens"] == sum(
        g[0].generation_info["usage_metadata"]["total_tokens"] for g in result.generations
    )


async def test_stop_sequence_stops_completion_task(slow_apps: Any, mode: str) -> None:
    llm = DifyLLM(api_key=slow_apps.completion_key, base_url=slow_apps.base_url)
    start = len(slow_apps.server.request_log)
    if mode == "sync":
        text = llm.invoke("x", stop=["STOP"])
    else:
        text = await llm.ainvoke("x", stop=["STOP"])
    assert text.strip() == " ".join(f"word{i}" for i in range(6))
    stops = [
        r
        for r in slow_apps.server.request_log[start:]
        if r.path.endswith("/stop") and "completion-messages" in r.path
    ]
    assert len(stops) == 1


async def call(llm: DifyLLM, prompt: str, mode: str, **kwargs: Any) -> str:
    if mode == "sync":
        return llm.invoke(prompt, **kwargs)
    return await llm.ainvoke(prompt, **kwargs)


async def test_errors(apps: Any, mode: str) -> None:
    bad = DifyLLM(api_key="app-wrong", base_url=apps.base_url)
    with pytest.raises(AuthenticationError):
        await call(bad, "x", mode)
    llm = DifyLLM(api_key=apps.completion_key, base_url=apps.base_url, max_retries=0)
    apps.server.inject_fault(route="/completion-messages", kind="error_event", after_events=1)
    with pytest.raises(StreamError):
        await call(llm, "x", mode, inputs={"tone": "a"})


def test_secrets_and_ls_params() -> None:
    llm = DifyLLM(api_key="app-hidden-llm", base_url="http://127.0.0.1:9/v1", model="Writer")
    assert "app-hidden-llm" not in repr(llm)
    assert "app-hidden-llm" not in dumps(llm)
    params = llm._get_ls_params(stop=["x"])
    assert params["ls_provider"] == "dify"
    assert params["ls_model_name"] == "Writer"
    assert params["ls_model_type"] == "llm"
    assert params["ls_stop"] == ["x"]


def test_empty_prompt_fails_before_request(apps: Any) -> None:
    llm = DifyLLM(api_key=apps.completion_key, base_url=apps.base_url)
    start = len(apps.server.request_log)
    with pytest.raises(ValueError, match="prompt"):
        llm.invoke("  ")
    assert len(apps.server.request_log) == start
