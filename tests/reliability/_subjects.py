"""The components under test, each with one representative call, sync and async.

A *subject* is one public component (the core client on one operation, or an adapter)
plus the call a user makes most: ``invoke``/``ainvoke`` for LangChain, ``chat``/``achat``,
``call``/``acall``, ``retrieve``/``aretrieve`` for LlamaIndex, the folding ``send_*``
methods and ``retrieve`` for the core. Every subject builds its component from the same
settings (key, base URL, user, timeouts, retries), makes the call over real HTTP to the
local server, closes what it opened, and returns the answer as plain text.

Framework imports happen inside the calls, so a broken adapter fails only its own tests.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from dify_integrations import AsyncDifyClient, DifyClient
from dify_integrations.core.config import Timeout

Mode = Literal["sync", "async"]

# ----------------------------------------------------------------------------- content

DOC_SENTENCE = "Refunds are issued within 5 business days to the original payment method."
HANDBOOK = [
    {"name": "refunds.md", "text": DOC_SENTENCE, "metadata": {"category": "billing"}},
    {
        "name": "shipping.md",
        "text": "Standard shipping takes 3 to 7 days; express shipping takes 1 to 2 days.",
        "metadata": {"category": "shipping"},
    },
]
RETRIEVE_QUERY = "how are refunds issued"

BIG_BYTES = 10 * 1024 * 1024
_BIG_PIECE_CHARS = 32 * 1024


def big_pieces() -> Iterator[str]:
    """The pieces of a 10 MB answer, with multi-byte characters that chunks may split."""
    pattern = "abcdé漢🙂 xyz\n"  # 1, 2, 3 and 4 byte characters
    body = (pattern * (_BIG_PIECE_CHARS // len(pattern) + 1))[:_BIG_PIECE_CHARS]
    sent = 0
    n = 0
    while sent < BIG_BYTES:
        piece = f"<{n:05d}>" + body
        sent += len(piece.encode("utf-8"))
        n += 1
        yield piece


BIG_ANSWER = "".join(big_pieces())


def _words(text: str) -> Iterator[str]:
    yield from re.findall(r"\S+\s*", text)


def chat_answer(query: str) -> str:
    """What the chat app answers (streamed word by word)."""
    return f"Echo: {query} and nothing else."


def workflow_answer(text: str) -> str:
    """What the workflow app outputs (streamed as text chunks, then as ``outputs.text``)."""
    return f"Workflow result for {text} in several pieces."


def completion_answer(query: str) -> str:
    """What the completion app answers."""
    return f"Completion of {query} in several words."


def echo_responder(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: list[Any]
) -> Iterator[str]:
    """The chat app: a several-event answer built from the query."""
    yield from _words(chat_answer(query))


def completion_responder(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: list[Any]
) -> Iterator[str]:
    """The completion app (``query`` is the rendered template, i.e. the prompt)."""
    yield from _words(completion_answer(query))


def workflow_handler(inputs: dict[str, Any]) -> Iterator[str]:
    """The workflow app: text chunks; the outputs default to ``{"text": <joined>}``."""
    yield from _words(workflow_answer(str(inputs.get("text", ""))))


def big_responder(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: list[Any]
) -> Iterator[str]:
    """A 10 MB answer in many pieces."""
    yield from big_pieces()


def slow_responder(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: list[Any]
) -> Iterator[str]:
    """A long answer (paced by the app's token delay), to be abandoned mid-stream."""
    for n in range(300):
        yield f"word{n} "


def big_handler(inputs: dict[str, Any]) -> Iterator[str]:
    """A workflow whose 10 MB text output streams in many pieces."""
    yield from big_pieces()


WORKFLOW_FORM = [{"text-input": {"label": "Text", "variable": "text", "required": True}}]


# ----------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class Call:
    """Everything a subject needs to build its component and make its call."""

    api_key: str
    base_url: str
    user: str
    timeout: Timeout
    max_retries: int
    query: str
    dataset_id: str


@dataclass
class Outcome:
    """What a call returned.

    Attributes:
        text: The answer (or the retrieved contents, joined).
        conversation_id: The Dify conversation, when the component reports one.
        error: An error the component *returned* instead of raising (only the LlamaIndex
            workflow tool does that, as a ``ToolOutput`` with ``is_error=True``).
    """

    text: str
    conversation_id: str | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class Family:
    """The Dify operation a subject's call maps to.

    Attributes:
        name: ``chat``, ``completion``, ``workflow`` or ``retrieve``.
        route: The route to inject faults on (an ``fnmatch`` pattern, without ``/v1``).
        creates: The POST creates a message or a workflow run (never to be sent twice).
        streams: The call streams (in-stream faults apply to it).
    """

    name: str
    route: str
    creates: bool
    streams: bool

    def matches(self, path: str) -> bool:
        """Whether a logged request path is this operation's POST."""
        if self.name == "retrieve":
            return path.startswith("/v1/datasets/") and path.endswith("/retrieve")
        return path == "/v1" + self.route

    def expected(self, query: str) -> str:
        """The answer the app gives when nothing goes wrong (retrieve: a sentence hit)."""
        if self.name == "retrieve":
            return DOC_SENTENCE
        answers = {"chat": chat_answer, "completion": completion_answer}
        return answers.get(self.name, workflow_answer)(query)


CHAT = Family("chat", "/chat-messages", creates=True, streams=True)
COMPLETION = Family("completion", "/completion-messages", creates=True, streams=True)
WORKFLOW = Family("workflow", "/workflows/run", creates=True, streams=True)
RETRIEVE = Family("retrieve", "/datasets/*/retrieve", creates=False, streams=False)


def _core_kwargs(call: Call) -> dict[str, Any]:
    return {
        "base_url": call.base_url,
        "user": call.user,
        "timeout": call.timeout,
        "max_retries": call.max_retries,
    }


def _adapter_kwargs(call: Call) -> dict[str, Any]:
    return {"api_key": call.api_key, **_core_kwargs(call)}


def _retrieved(contents: list[str]) -> Outcome:
    return Outcome("\n".join(contents))


class Subject:
    """One component and its representative call (subclasses implement both modes)."""

    name: str = ""
    family: Family = CHAT

    def __str__(self) -> str:
        return self.name

    def run(self, mode: Mode, call: Call) -> Outcome:
        """Make the call in ``mode`` (async ones on a fresh event loop)."""
        if mode == "sync":
            return self.sync(call)
        return asyncio.run(self.arun(call))

    def sync(self, call: Call) -> Outcome:
        """The sync call."""
        raise NotImplementedError

    async def arun(self, call: Call) -> Outcome:
        """The async call."""
        raise NotImplementedError


# ----------------------------------------------------------------------------- core


class CoreChat(Subject):
    name = "core-send_chat_message"
    family = CHAT

    def sync(self, call: Call) -> Outcome:
        with DifyClient(call.api_key, **_core_kwargs(call)) as client:
            r = client.send_chat_message(call.query)
        return Outcome(r.answer, r.conversation_id)

    async def arun(self, call: Call) -> Outcome:
        async with AsyncDifyClient(call.api_key, **_core_kwargs(call)) as client:
            r = await client.send_chat_message(call.query)
        return Outcome(r.answer, r.conversation_id)


class CoreCompletion(Subject):
    name = "core-send_completion"
    family = COMPLETION

    def sync(self, call: Call) -> Outcome:
        with DifyClient(call.api_key, **_core_kwargs(call)) as client:
            r = client.send_completion({"query": call.query})
        return Outcome(r.answer)

    async def arun(self, call: Call) -> Outcome:
        async with AsyncDifyClient(call.api_key, **_core_kwargs(call)) as client:
            r = await client.send_completion({"query": call.query})
        return Outcome(r.answer)


def _workflow_text(run: Any) -> str:
    assert run.data.status == "succeeded", run.data
    return str(run.data.outputs["text"])


class CoreWorkflow(Subject):
    name = "core-run_workflow"
    family = WORKFLOW

    def sync(self, call: Call) -> Outcome:
        with DifyClient(call.api_key, **_core_kwargs(call)) as client:
            return Outcome(_workflow_text(client.run_workflow({"text": call.query})))

    async def arun(self, call: Call) -> Outcome:
        async with AsyncDifyClient(call.api_key, **_core_kwargs(call)) as client:
            return Outcome(_workflow_text(await client.run_workflow({"text": call.query})))


class CoreRetrieve(Subject):
    name = "core-retrieve"
    family = RETRIEVE

    def sync(self, call: Call) -> Outcome:
        with DifyClient(call.api_key, **_core_kwargs(call)) as client:
            r = client.retrieve(call.dataset_id, call.query)
        return _retrieved([rec.segment.content for rec in r.records if rec.segment])

    async def arun(self, call: Call) -> Outcome:
        async with AsyncDifyClient(call.api_key, **_core_kwargs(call)) as client:
            r = await client.retrieve(call.dataset_id, call.query)
        return _retrieved([rec.segment.content for rec in r.records if rec.segment])


# ----------------------------------------------------------------------------- LangChain
#
# The LangChain adapters have no close()/aclose(): they build their clients from their own
# settings; the sync one's pool is closed when it is collected (urllib3), the async one's
# session when the call's event loop shuts down (see test_leaks.py).


def _lc_workflow_args() -> Any:
    from pydantic import BaseModel, Field

    class EchoArgs(BaseModel):
        text: str = Field(description="Text to process")

    return EchoArgs


class LCChat(Subject):
    name = "langchain-ChatDify"
    family = CHAT

    @staticmethod
    def _outcome(message: Any) -> Outcome:
        return Outcome(str(message.content), message.response_metadata.get("conversation_id"))

    def sync(self, call: Call) -> Outcome:
        from dify_integrations.langchain import ChatDify

        model = ChatDify(**_adapter_kwargs(call), model="reliability")
        return self._outcome(model.invoke(call.query))

    async def arun(self, call: Call) -> Outcome:
        from dify_integrations.langchain import ChatDify

        model = ChatDify(**_adapter_kwargs(call), model="reliability")
        return self._outcome(await model.ainvoke(call.query))


class LCLLM(Subject):
    name = "langchain-DifyLLM"
    family = COMPLETION

    def sync(self, call: Call) -> Outcome:
        from dify_integrations.langchain import DifyLLM

        return Outcome(DifyLLM(**_adapter_kwargs(call), model="reliability").invoke(call.query))

    async def arun(self, call: Call) -> Outcome:
        from dify_integrations.langchain import DifyLLM

        llm = DifyLLM(**_adapter_kwargs(call), model="reliability")
        return Outcome(await llm.ainvoke(call.query))


class LCTool(Subject):
    name = "langchain-DifyWorkflowTool"
    family = WORKFLOW

    @staticmethod
    def _tool(call: Call) -> Any:
        from dify_integrations.langchain import DifyWorkflowTool

        return DifyWorkflowTool(
            name="echo_workflow",
            description="Run the echo workflow.",
            args_schema=_lc_workflow_args(),
            **_adapter_kwargs(call),
        )

    def sync(self, call: Call) -> Outcome:
        return Outcome(str(self._tool(call).invoke({"text": call.query})))

    async def arun(self, call: Call) -> Outcome:
        return Outcome(str(await self._tool(call).ainvoke({"text": call.query})))


class LCRetriever(Subject):
    name = "langchain-DifyRetriever"
    family = RETRIEVE

    def sync(self, call: Call) -> Outcome:
        from dify_integrations.langchain import DifyRetriever

        retriever = DifyRetriever(**_adapter_kwargs(call), dataset_id=call.dataset_id)
        return _retrieved([d.page_content for d in retriever.invoke(call.query)])

    async def arun(self, call: Call) -> Outcome:
        from dify_integrations.langchain import DifyRetriever

        retriever = DifyRetriever(**_adapter_kwargs(call), dataset_id=call.dataset_id)
        return _retrieved([d.page_content for d in await retriever.ainvoke(call.query)])


# ----------------------------------------------------------------------------- LlamaIndex
#
# The LlamaIndex adapters build their own clients from their settings and are closed with
# their public close()/aclose().


class LILLM(Subject):
    name = "llama_index-DifyLLM"
    family = CHAT

    @staticmethod
    def _llm(call: Call) -> Any:
        from dify_integrations.llama_index import DifyLLM

        return DifyLLM(**_adapter_kwargs(call), app_mode="chat", model_name="reliability")

    @staticmethod
    def _messages(call: Call) -> Any:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role="user", content=call.query)]

    @staticmethod
    def _outcome(response: Any) -> Outcome:
        return Outcome(
            str(response.message.content), response.additional_kwargs.get("conversation_id")
        )

    def sync(self, call: Call) -> Outcome:
        llm = self._llm(call)
        try:
            return self._outcome(llm.chat(self._messages(call)))
        finally:
            llm.close()

    async def arun(self, call: Call) -> Outcome:
        llm = self._llm(call)
        try:
            return self._outcome(await llm.achat(self._messages(call)))
        finally:
            await llm.aclose()


class LIChatEngine(Subject):
    name = "llama_index-DifyChatEngine"
    family = CHAT

    @staticmethod
    def _engine(call: Call) -> Any:
        from dify_integrations.llama_index import DifyChatEngine

        return DifyChatEngine(**_adapter_kwargs(call))

    def sync(self, call: Call) -> Outcome:
        engine = self._engine(call)
        try:
            response = engine.chat(call.query)
            return Outcome(str(response.response), engine.conversation_id)
        finally:
            engine.close()

    async def arun(self, call: Call) -> Outcome:
        engine = self._engine(call)
        try:
            response = await engine.achat(call.query)
            return Outcome(str(response.response), engine.conversation_id)
        finally:
            await engine.aclose()


class LITool(Subject):
    name = "llama_index-DifyWorkflowTool"
    family = WORKFLOW

    @staticmethod
    def _tool(call: Call) -> Any:
        from llama_index.core.tools import ToolMetadata

        from dify_integrations.core.input_schema import InputField
        from dify_integrations.llama_index import DifyWorkflowTool

        return DifyWorkflowTool(
            ToolMetadata(name="echo_workflow", description="Run the echo workflow."),
            [InputField("text", "text-input", label="Text", required=True)],
            **_adapter_kwargs(call),
        )

    @staticmethod
    def _outcome(output: Any) -> Outcome:
        if output.is_error:
            assert output.raw_output is None, "an error output must not carry outputs"
            return Outcome(str(output.content), error=output.exception)
        return Outcome(str(output.content))

    def sync(self, call: Call) -> Outcome:
        tool = self._tool(call)
        try:
            return self._outcome(tool.call(text=call.query))
        finally:
            tool.close()

    async def arun(self, call: Call) -> Outcome:
        tool = self._tool(call)
        try:
            return self._outcome(await tool.acall(text=call.query))
        finally:
            await tool.aclose()


class LIRetriever(Subject):
    name = "llama_index-DifyRetriever"
    family = RETRIEVE

    @staticmethod
    def _retriever(call: Call) -> Any:
        from dify_integrations.llama_index import DifyRetriever

        kwargs = _adapter_kwargs(call)
        kwargs.pop("user")
        return DifyRetriever(call.dataset_id, **kwargs)

    def sync(self, call: Call) -> Outcome:
        retriever = self._retriever(call)
        try:
            return _retrieved([n.node.get_content() for n in retriever.retrieve(call.query)])
        finally:
            retriever.close()

    async def arun(self, call: Call) -> Outcome:
        retriever = self._retriever(call)
        try:
            nodes = await retriever.aretrieve(call.query)
            return _retrieved([n.node.get_content() for n in nodes])
        finally:
            await retriever.aclose()


CORE: list[Subject] = [CoreChat(), CoreCompletion(), CoreWorkflow(), CoreRetrieve()]
LANGCHAIN: list[Subject] = [LCChat(), LCLLM(), LCTool(), LCRetriever()]
LLAMA_INDEX: list[Subject] = [LILLM(), LIChatEngine(), LITool(), LIRetriever()]
ALL: list[Subject] = CORE + LANGCHAIN + LLAMA_INDEX
CREATING: list[Subject] = [s for s in ALL if s.family.creates]
STREAMING: list[Subject] = [s for s in ALL if s.family.streams]
IDEMPOTENT: list[Subject] = [s for s in ALL if not s.family.creates]
