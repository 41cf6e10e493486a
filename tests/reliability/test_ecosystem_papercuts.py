"""Ecosystem papercuts (issue 12, items 22-23): tools and token counting.

- ``ChatDify.bind_tools`` and LangChain's ``create_agent(ChatDify, tools=...)`` fail with
  a `NotImplementedError` that says why (a Dify app runs its own tools) and what to use.
- ``get_num_tokens``/``get_num_tokens_from_messages`` and ``trim_messages`` with the model
  as token counter work offline with ``transformers`` unavailable: they use the documented
  estimate of `dify_integrations.core.tokens`.
"""

from __future__ import annotations

import sys

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, trim_messages
from langchain_core.tools import tool

from dify_integrations.core.tokens import MESSAGE_OVERHEAD, estimate_tokens
from dify_integrations.langchain import ChatDify
from dify_integrations.langchain import DifyLLM as LangChainDifyLLM

BASE_URL = "http://127.0.0.1:9/v1"  # never reached: nothing here makes a request


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _says_why_and_what_instead(message: str) -> None:
    assert "runs its own tools" in message
    assert "agent-chat app" in message
    assert "DifyWorkflowTool" in message


def test_bind_tools_says_why_and_what_to_use_instead() -> None:
    model = ChatDify(api_key="app-abc123", base_url=BASE_URL)
    with pytest.raises(NotImplementedError) as info:
        model.bind_tools([add])
    _says_why_and_what_instead(str(info.value))


def test_create_agent_with_tools_fails_with_the_same_explanation() -> None:
    agents = pytest.importorskip("langchain.agents")
    model = ChatDify(api_key="app-abc123", base_url=BASE_URL)
    agent = agents.create_agent(model, tools=[add])  # binds the tools on the first call
    with pytest.raises(NotImplementedError) as info:
        agent.invoke({"messages": [HumanMessage("what is 2 + 3?")]})
    _says_why_and_what_instead(str(info.value))


@pytest.fixture
def no_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import transformers`` fails, as on an install without it (and offline)."""
    monkeypatch.setitem(sys.modules, "transformers", None)


@pytest.mark.usefixtures("no_transformers")
@pytest.mark.parametrize("cls", [ChatDify, LangChainDifyLLM], ids=lambda c: c.__name__)
def test_get_num_tokens_works_without_transformers(cls: type) -> None:
    model = cls(api_key="app-abc123", base_url=BASE_URL)
    text = "Refunds are issued within 5 business days to the original payment method."
    assert model.get_num_tokens(text) == estimate_tokens(text)
    assert 0 < model.get_num_tokens(text) < len(text)
    assert model.get_num_tokens("") == 0
    with pytest.raises(NotImplementedError, match="estimate"):
        model.get_token_ids(text)


@pytest.mark.usefixtures("no_transformers")
def test_trim_messages_with_the_model_as_token_counter() -> None:
    model = ChatDify(api_key="app-abc123", base_url=BASE_URL)
    history = [SystemMessage("You answer questions about Stowaway backups.")]
    for i in range(20):
        history += [HumanMessage(f"question number {i} about snapshots"), AIMessage(f"answer {i}")]
    history.append(HumanMessage("and the last question?"))
    budget = 60
    kept = trim_messages(
        history,
        max_tokens=budget,
        token_counter=model,
        strategy="last",
        include_system=True,
        start_on="human",
    )
    assert kept[0] == history[0]
    assert kept[-1] == history[-1]
    assert 2 < len(kept) < len(history)
    assert model.get_num_tokens_from_messages(kept) <= budget
    one = model.get_num_tokens_from_messages([history[-1]])
    assert one == estimate_tokens("human: and the last question?") + MESSAGE_OVERHEAD


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        # cl100k_base counts 15 / 16 / 15 tokens for these (measured once, offline, with
        # llama-index-core's bundled tiktoken file); the estimate must stay within +-40%.
        ("Refunds are issued within 5 business days to the original payment method.", 9, 21),
        ("退款将在5个工作日内退回原支付方式。", 10, 22),
        ('{"query": "hello", "inputs": {"a": 1}}', 9, 21),
    ],
)
def test_the_estimate_is_in_the_range_of_a_real_tokenizer(text: str, low: int, high: int) -> None:
    assert low <= estimate_tokens(text) <= high
