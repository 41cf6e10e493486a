"""``dify-integrations demo``: the guided tour, step by step, live in the terminal."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO, TypeVar
from uuid import UUID

from dify_integrations.core.client import DifyClient
from dify_integrations.core.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    DifyError,
    PermissionDeniedError,
)
from dify_integrations.demo._ingest import knowledge_ingest
from dify_integrations.demo._terminal import Terminal

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

_T = TypeVar("_T", bound="BaseTool")

__all__ = ["ENV_VARS", "DemoConfigError", "DemoTarget", "run_demo", "target_from_env"]

USER = "demo-user"

ENV_VARS = (
    "DIFY_BASE_URL",
    "DIFY_CHAT_APP_KEY",
    "DIFY_COMPLETION_APP_KEY",
    "DIFY_WORKFLOW_APP_KEY",
    "DIFY_DATASET_API_KEY",
    "DIFY_DATASET_ID",
)
"""The variables that point the demo at a real Dify (all required once DIFY_BASE_URL is set)."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_UNREACHABLE = 3
EXIT_UNAUTHORIZED = 4

RAG_QUESTION = "Can I get back a snapshot that the retention policy pruned?"
QUERY_ENGINE_QUESTION = "Which plans include SAML single sign-on and the audit log?"
CONVERSATION = (
    "Which plan do I need for SAML single sign-on?",
    "Is there a free trial of it?",
    "What happens when the trial ends?",
)
TICKET = (
    "Since Monday the nightly backup of our Windows file server FS-02 fails with STW-720 "
    "and, on the retry, STW-402. The agent is 4.3.1. We are on the Business plan; please "
    "advise, our auditors need a restorable snapshot by Friday. -- ops@northwind.example"
)
CHANGES = """\
feat(restore): restore straight to S3-compatible object storage (#812)
fix(agent): no more STW-417 after an NTP time step (#799)
fix(console): snapshot browser kept the old passphrase after a change (#804)
perf(scan): 2x faster change detection on NTFS volumes
security: webhook secrets can be rotated without downtime (#805)
chore: bump zstd to 1.5.7
feat!: agents 3.x can no longer upload snapshots"""

RAG_PROMPT = (
    "Answer the question using only the handbook excerpts below.\n\n"
    "Handbook excerpts:\n{context}\n\nQuestion: {question}"
)


class DemoConfigError(Exception):
    """The environment names a Dify but not every variable the demo needs."""


@dataclass(frozen=True)
class DemoTarget:
    """The Dify the demo talks to.

    Attributes:
        base_url: Service API root.
        chat_app_key: Key of a chat (or chatflow / agent-chat) app.
        completion_app_key: Key of a completion app whose prompt variable is ``query``.
        workflow_app_keys: Keys of workflow apps, used as the agent's tool list.
        dataset_api_key: Knowledge API key.
        dataset_id: The knowledge base the retrievers search.
        local: Whether this is the embedded local server.
    """

    base_url: str
    chat_app_key: str
    completion_app_key: str
    workflow_app_keys: tuple[str, ...]
    dataset_api_key: str
    dataset_id: str
    local: bool = False


def target_from_env(environ: Mapping[str, str] | None = None) -> DemoTarget | None:
    """Read the demo's target from ``DIFY_*`` variables.

    Args:
        environ: The environment (default ``os.environ``).

    Returns:
        ``None`` when ``DIFY_BASE_URL`` is not set (the demo then uses the local server).

    Raises:
        DemoConfigError: ``DIFY_BASE_URL`` is set but another variable is missing.
    """
    env = os.environ if environ is None else environ
    if not env.get("DIFY_BASE_URL", "").strip():
        return None
    missing = [name for name in ENV_VARS if not env.get(name, "").strip()]
    if missing:
        raise DemoConfigError(
            f"DIFY_BASE_URL is set, so the demo runs against that Dify, but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set (unset DIFY_BASE_URL to use the "
            "local server)"
        )
    return DemoTarget(
        base_url=env["DIFY_BASE_URL"].strip(),
        chat_app_key=env["DIFY_CHAT_APP_KEY"].strip(),
        completion_app_key=env["DIFY_COMPLETION_APP_KEY"].strip(),
        workflow_app_keys=tuple(
            k.strip() for k in env["DIFY_WORKFLOW_APP_KEY"].split(",") if k.strip()
        ),
        dataset_api_key=env["DIFY_DATASET_API_KEY"].strip(),
        dataset_id=env["DIFY_DATASET_ID"].strip(),
    )


@dataclass
class StepResult:
    """One row of the summary table."""

    name: str
    outcome: str
    tokens: int | None
    seconds: float


@dataclass
class _Demo:
    target: DemoTarget
    term: Terminal
    results: list[StepResult] = field(default_factory=list)

    # ------------------------------------------------------------------ helpers

    def _label(self, key: str) -> str:
        names = {
            self.target.chat_app_key: "DIFY_CHAT_APP_KEY",
            self.target.completion_app_key: "DIFY_COMPLETION_APP_KEY",
            self.target.dataset_api_key: "DIFY_DATASET_API_KEY",
        }
        names.update({k: "DIFY_WORKFLOW_APP_KEY" for k in self.target.workflow_app_keys})
        return names.get(key, "the key")

    def _usage_line(self, tokens: int | None, seconds: float, extra: str = "") -> None:
        parts = [f"tokens {tokens}" if tokens is not None else "tokens n/a"]
        if extra:
            parts.append(extra)
        parts.append(f"latency {seconds:.2f} s")
        self.term.line("   " + self.term.style(" · ".join(parts), "dim"))

    def _wrap(self, text: str, width: int = 88, indent: int = 7) -> str:
        words, lines, line = text.split(), [], ""
        for word in words:
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        return ("\n" + " " * indent).join(lines)

    # ------------------------------------------------------------------ step 0

    def preflight(self) -> None:
        """Check every key with one cheap call; map failures to clear errors."""
        t = self.target
        where = "local DifyTestServer at" if t.local else "Dify at"
        self.term.kv("Server", f"{where} {t.base_url}")
        apps: list[str] = []
        with self.term.progress("Connecting to Dify"):
            for key in (t.chat_app_key, t.completion_app_key, *t.workflow_app_keys):
                with self._checked(key), DifyClient(key, base_url=t.base_url) as client:
                    info = client.get_info()
                    apps.append(f"{info.name} ({info.mode})")
            with (
                self._checked(t.dataset_api_key),
                DifyClient(t.dataset_api_key, base_url=t.base_url) as client,
            ):
                datasets = client.list_datasets(limit=100)
        kb = next((d for d in datasets.data if d.id == t.dataset_id), None)
        if kb is None:
            raise _FatalError(
                EXIT_CONFIG,
                f"knowledge base {t.dataset_id} (DIFY_DATASET_ID) is not visible with "
                "DIFY_DATASET_API_KEY",
            )
        self.term.kv("Knowledge base", f"{kb.name} ({kb.document_count} documents)")
        self.term.kv("Apps", " · ".join(apps))

    @contextmanager
    def _checked(self, key: str) -> Iterator[None]:
        try:
            yield
        except APIConnectionError as exc:
            raise _FatalError(
                EXIT_UNREACHABLE, f"cannot reach Dify at {self.target.base_url}: {exc}"
            ) from exc
        except (AuthenticationError, PermissionDeniedError) as exc:
            raise _FatalError(
                EXIT_UNAUTHORIZED,
                f"Dify at {self.target.base_url} rejected {self._label(key)}: {exc}",
            ) from exc

    # ------------------------------------------------------------------ step 1

    def langchain_rag(self) -> None:
        """DifyRetriever | prompt | ChatDify, streamed, with citations."""
        from langchain_core.documents import Document
        from langchain_core.messages import AIMessageChunk
        from langchain_core.prompts import ChatPromptTemplate
        from langchain_core.runnables import RunnableParallel, RunnablePassthrough

        from dify_integrations.langchain import ChatDify, DifyRetriever

        t = self.target
        self.term.heading(1, "LangChain RAG chain: DifyRetriever | prompt | ChatDify")
        retriever = DifyRetriever(
            api_key=t.dataset_api_key, base_url=t.base_url, dataset_id=t.dataset_id, k=3
        )
        llm = ChatDify(api_key=t.chat_app_key, base_url=t.base_url, user=USER)
        prompt = ChatPromptTemplate.from_messages([("human", RAG_PROMPT)])

        def format_docs(docs: list[Document]) -> str:
            return "\n\n".join(d.page_content for d in docs)

        chain = RunnableParallel(docs=retriever, question=RunnablePassthrough()).assign(
            answer=(lambda x: {"context": format_docs(x["docs"]), "question": x["question"]})
            | prompt
            | llm
        )
        self.term.line(f"   {self.term.style('Q:', 'bold')} {RAG_QUESTION}")
        start = time.perf_counter()
        docs: list[Document] = []
        message: AIMessageChunk | None = None
        first_token: float | None = None
        with self.term.progress(
            "retrieving from the knowledge base, then asking the chat app"
        ) as spin:
            for chunk in chain.stream(RAG_QUESTION):
                docs = chunk.get("docs", docs)
                piece = chunk.get("answer")
                if piece is None:
                    continue
                if first_token is None and piece.content:
                    first_token = time.perf_counter() - start
                    spin.stop()
                    self.term.write(f"   {self.term.style('A:', 'bold')} ")
                self.term.write(str(piece.content))
                message = piece if message is None else message + piece
        elapsed = time.perf_counter() - start
        self.term.line()
        self.term.line(f"   {self.term.style('Citations (DifyRetriever):', 'bold')}")
        for i, doc in enumerate(docs, 1):
            title = (doc.metadata.get("doc_metadata") or {}).get("title") or ""
            score = doc.metadata.get("score")
            self.term.line(
                f"     [{i}] {doc.metadata.get('document_name')}"
                + (f" — {title}" if title else "")
                + (f"  score {score:.2f}" if isinstance(score, float) else "")
            )
        meta = message.response_metadata if message is not None else {}
        resources = meta.get("retriever_resources") or []
        if resources:
            names = ", ".join(dict.fromkeys(str(r.get("document_name")) for r in resources))
            self.term.line(f"   {self.term.style('Dify app citations:', 'bold')} {names}")
        usage = message.usage_metadata if message is not None else None
        tokens = usage["total_tokens"] if usage else None
        ttft = f"first token {first_token:.2f} s" if first_token is not None else ""
        self._usage_line(tokens, elapsed, ttft)
        self.results.append(
            StepResult("LangChain RAG chain", f"{len(docs)} citations", tokens, elapsed)
        )

    # ------------------------------------------------------------------ step 2

    def llama_index_query(self) -> None:
        """RetrieverQueryEngine over DifyRetriever with DifyLLM, streamed, with sources."""
        from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
        from llama_index.core.instrumentation.event_handlers import BaseEventHandler
        from llama_index.core.instrumentation.events import BaseEvent
        from llama_index.core.instrumentation.events.llm import (
            LLMChatEndEvent,
            LLMCompletionEndEvent,
        )
        from llama_index.core.query_engine import RetrieverQueryEngine

        from dify_integrations.llama_index import DifyLLM, DifyRetriever

        t = self.target
        self.term.heading(2, "LlamaIndex query engine: DifyRetriever + DifyLLM")
        usage: dict[str, Any] = {}

        class _UsageHandler(BaseEventHandler):
            """Keeps Dify's usage from the last LLM response (``raw["usage"]``)."""

            @classmethod
            def class_name(cls) -> str:
                return "DemoUsageHandler"

            def handle(self, event: BaseEvent, **kwargs: Any) -> None:
                if isinstance(event, LLMCompletionEndEvent | LLMChatEndEvent):
                    raw = getattr(event.response, "raw", None) or {}
                    if isinstance(raw, dict) and raw.get("usage"):
                        usage.update(dict(raw["usage"]))

        dispatcher = get_dispatcher()
        handler = _UsageHandler()
        dispatcher.add_event_handler(handler)
        try:
            retriever = DifyRetriever(
                dataset_id=t.dataset_id,
                api_key=t.dataset_api_key,
                base_url=t.base_url,
                similarity_top_k=3,
            )
            llm = DifyLLM(api_key=t.completion_app_key, base_url=t.base_url, user=USER)
            engine = RetrieverQueryEngine.from_args(retriever=retriever, llm=llm, streaming=True)
            self.term.line(f"   {self.term.style('Q:', 'bold')} {QUERY_ENGINE_QUESTION}")
            start = time.perf_counter()
            with self.term.progress("retrieving nodes, then asking the completion app") as spin:
                response = engine.query(QUERY_ENGINE_QUESTION)
                first = True
                for token in response.response_gen:  # type: ignore[union-attr]
                    if first:
                        spin.stop()
                        self.term.write(f"   {self.term.style('A:', 'bold')} ")
                        first = False
                    self.term.write(token)
            elapsed = time.perf_counter() - start
        finally:
            dispatcher.event_handlers.remove(handler)
        self.term.line()
        self.term.line(f"   {self.term.style('Source nodes:', 'bold')}")
        for i, node in enumerate(response.source_nodes, 1):
            meta = node.node.metadata
            title = (meta.get("doc_metadata") or {}).get("title") or ""
            score = f"  score {node.score:.2f}" if node.score is not None else ""
            self.term.line(
                f"     [{i}] {meta.get('document_name')}" + (f" — {title}" if title else "") + score
            )
        tokens = usage.get("total_tokens")
        self._usage_line(tokens, elapsed)
        self.results.append(
            StepResult(
                "LlamaIndex query engine",
                f"{len(response.source_nodes)} source nodes",
                tokens if isinstance(tokens, int) else None,
                elapsed,
            )
        )

    # ------------------------------------------------------------------ step 3

    def conversation(self) -> None:
        """Three turns, full history passed each time, one Dify conversation."""
        from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage

        from dify_integrations.langchain import ChatDify

        t = self.target
        self.term.heading(3, "Multi-turn conversation with ChatDify")
        llm = ChatDify(api_key=t.chat_app_key, base_url=t.base_url, user=USER)
        history: list[BaseMessage] = []
        ids: list[str] = []
        tokens = 0
        start = time.perf_counter()
        for turn, question in enumerate(CONVERSATION, 1):
            history.append(HumanMessage(question))
            self.term.line(f"   {self.term.style(f'Q{turn}:', 'bold')} {question}")
            message: AIMessageChunk | None = None
            self.term.write(f"   {self.term.style(f'A{turn}:', 'bold')} ")
            for chunk in llm.stream(history):
                self.term.write(str(chunk.content))
                message = chunk if message is None else message + chunk
            self.term.line()
            assert message is not None
            history.append(message)
            conversation_id = str(message.response_metadata.get("conversation_id"))
            ids.append(conversation_id)
            tokens += message.usage_metadata["total_tokens"] if message.usage_metadata else 0
            same = "" if turn == 1 else (" (same)" if conversation_id == ids[0] else " (NEW!)")
            self.term.line(
                "   " + self.term.style(f"conversation_id {conversation_id}{same}", "dim")
            )
        elapsed = time.perf_counter() - start
        with DifyClient(t.chat_app_key, base_url=t.base_url, user=USER) as client:
            stored = client.list_messages(ids[0], limit=100).data
        one = len(set(ids)) == 1
        self.term.line(
            f"   {self.term.style('Dify holds', 'bold')} {len(stored)} messages in conversation "
            f"{ids[0]} for {len(CONVERSATION)} turns "
            + (self.term.style("✓", "green") if one and len(stored) == len(CONVERSATION) else "")
        )
        self._usage_line(tokens, elapsed)
        outcome = f"{len(CONVERSATION)} turns, {len(set(ids))} conversation"
        self.results.append(StepResult("Multi-turn conversation", outcome, tokens, elapsed))
        if not one:
            raise _FatalError(EXIT_FAILED, "the conversation did not stay in one Dify conversation")

    # ------------------------------------------------------------------ step 4

    def workflow_agent(self) -> None:
        """A minimal rule-based agent picks a DifyWorkflowTool from its tool list."""
        from langchain_core.callbacks import BaseCallbackHandler
        from langchain_core.messages import ToolMessage

        from dify_integrations.langchain import DifyWorkflowTool
        from dify_integrations.langchain.tools import PROGRESS_EVENT

        t = self.target
        term = self.term
        term.heading(4, "Workflow tools in an agent's tool list")
        tools = [
            DifyWorkflowTool.from_app(api_key=key, base_url=t.base_url, user=USER)
            for key in t.workflow_app_keys
        ]
        term.line(f"   {term.style('Tool list:', 'bold')}")
        for tool in tools:
            term.line(
                f"     • {tool.name}({', '.join(tool.args)}): {self._wrap(tool.description, 70)}"
            )
        tasks: list[tuple[str, dict[str, str]]] = [
            ("A customer ticket came in; triage it.", {"ticket": TICKET, "plan": "Business"}),
            (
                "Write the release notes for Stowaway 4.4.0 from these commits.",
                {"version": "4.4.0", "changes": CHANGES},
            ),
        ]
        if not t.local:
            tasks = tasks[:1]
        state: dict[str, Any] = {}

        class _Progress(BaseCallbackHandler):
            """Prints the workflow's node events as they stream in."""

            def on_custom_event(
                self,
                name: str,
                data: Any,
                *,
                run_id: UUID,
                tags: list[str] | None = None,
                metadata: dict[str, Any] | None = None,
                **kwargs: Any,
            ) -> None:
                if name != PROGRESS_EVENT:
                    return
                if state.get("spinner") is not None:
                    state.pop("spinner").stop()
                if data["event"] == "workflow_started":
                    term.line(
                        f"     {term.style('▶', 'cyan')} workflow run {data['workflow_run_id']}"
                    )
                elif data["event"] == "node_finished":  # one line per node, when it ends
                    ok = data.get("status") == "succeeded"
                    mark = term.style("✓", "green") if ok else term.style("✗", "red")
                    ms = (data.get("elapsed_time") or 0.0) * 1000
                    error = f": {data['error']}" if data.get("error") else ""
                    term.line(
                        f"     {mark} node {data['index']}: {data['title']} "
                        + term.style(f"({data['node_type']})", "dim")
                        + f" {data.get('status')} in {ms:.1f} ms{error}"
                    )

        total_start = time.perf_counter()
        tokens = 0
        runs = 0
        for number, (request, facts) in enumerate(tasks, 1):
            term.line()
            term.line(f"   {term.style('Task:', 'bold')} {request}")
            tool = _pick_tool(request, facts, tools)
            args = _fill_args(tool, request, facts)
            term.line(
                f"   {term.style('Agent:', 'bold')} calls {term.style(tool.name, 'magenta')} "
                f"with {', '.join(f'{k}=' + repr(_short(v)) for k, v in args.items())}"
            )
            call = {"type": "tool_call", "id": f"call_{number}", "name": tool.name, "args": args}
            start = time.perf_counter()
            with term.progress(f"running workflow {tool.name}") as spin:
                state["spinner"] = spin
                result = tool.invoke(call, config={"callbacks": [_Progress()]})
            elapsed = time.perf_counter() - start
            assert isinstance(result, ToolMessage)
            artifact = result.artifact or {}
            outputs = artifact.get("outputs") or {}
            term.line(f"   {term.style('Tool result:', 'bold')}")
            for key, value in outputs.items():
                if isinstance(value, str) and "\n" in value:
                    term.line(f"     {term.style(key + ':', 'dim')}")
                    for line in value.rstrip().splitlines():
                        term.line(f"       {line}")
                else:
                    shown = (
                        json.dumps(value, ensure_ascii=False)
                        if not isinstance(value, str)
                        else value
                    )
                    term.line(f"     {term.style(key + ':', 'dim')} {shown}")
            run_tokens = artifact.get("total_tokens")
            tokens += run_tokens if isinstance(run_tokens, int) else 0
            runs += 1
            self._usage_line(
                run_tokens if isinstance(run_tokens, int) else None,
                elapsed,
                f"{artifact.get('total_steps')} nodes, status {artifact.get('status')}",
            )
        self.results.append(
            StepResult(
                "Workflow tools (agent)",
                f"{runs} run{'s' if runs != 1 else ''} succeeded",
                tokens,
                time.perf_counter() - total_start,
            )
        )

    # ------------------------------------------------------------------ summary

    def summary(self, total: float) -> None:
        self.term.heading(6, "Summary")
        rows = [
            [
                r.name,
                r.outcome,
                str(r.tokens) if r.tokens is not None else "n/a",
                f"{r.seconds:.2f} s",
            ]
            for r in self.results
        ]
        all_tokens = sum(r.tokens or 0 for r in self.results)
        rows.append(["Total", "", str(all_tokens), f"{total:.2f} s"])
        self.term.table(["Step", "Result", "Tokens", "Latency"], rows)


class _FatalError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _short(value: str, limit: int = 48) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _words(text: str) -> set[str]:
    return {w.strip(".,:;()'\"").lower() for w in text.replace("_", " ").split() if len(w) > 3}


def _pick_tool(request: str, facts: Mapping[str, str], tools: Sequence[_T]) -> _T:
    """The tool whose name, description and arguments best match the task.

    A stand-in for a tool-calling model: word overlap between the task (and the names of
    the facts it comes with) and each tool's name, description and argument names.
    """
    wanted = _words(request) | {k.lower() for k in facts}

    def score(tool: _T) -> int:
        offered = _words(f"{tool.name} {tool.description}") | {a.lower() for a in tool.args}
        return len(wanted & offered)

    return max(tools, key=score)


def _fill_args(tool: BaseTool, request: str, facts: Mapping[str, str]) -> dict[str, str]:
    """Arguments for ``tool``: facts matching its argument names; the task text otherwise."""
    args: dict[str, str] = {}
    schema = tool.tool_call_schema
    json_schema = schema.model_json_schema() if hasattr(schema, "model_json_schema") else {}
    required = set(json_schema.get("required", []))
    for name in tool.args:
        if name in facts:
            args[name] = facts[name]
        elif name in required:
            args[name] = "\n".join([request, *facts.values()])
    return args


def _start_local(token_delay: float) -> tuple[Any, DemoTarget]:
    from dify_integrations.demo._setup import load_demo
    from dify_integrations.testing import DifyTestServer

    server = DifyTestServer(token_delay=token_delay).start()
    apps = load_demo(server)
    target = DemoTarget(
        base_url=apps.base_url,
        chat_app_key=apps.chat_app_key,
        completion_app_key=apps.completion_app_key,
        workflow_app_keys=tuple(apps.workflow_app_keys.values()),
        dataset_api_key=apps.dataset_api_key,
        dataset_id=apps.dataset_id,
        local=True,
    )
    return server, target


def run_demo(
    *,
    token_delay: float = 0.015,
    color: bool | None = None,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run the demo and return the process exit code.

    Args:
        token_delay: Local server only: seconds between streamed tokens, so streaming is
            visible.
        color: Force colours on/off (default: on for a terminal without ``NO_COLOR``).
        stream: Where to write (default ``sys.stdout``).
        environ: Environment to read ``DIFY_*`` from (default ``os.environ``).

    Returns:
        0 on success; 1 when a step failed; 2 for incomplete settings; 3 when Dify is
        unreachable; 4 when Dify rejects a key.
    """
    term = Terminal(stream, color=color)
    server = None
    try:
        target = target_from_env(environ)
    except DemoConfigError as exc:
        term.line(f"error: {exc}")
        return EXIT_CONFIG
    try:
        term.line(
            term.style("dify-integrations demo", "bold")
            + " — Dify apps in LangChain and LlamaIndex"
        )
        if target is None:
            server, target = _start_local(token_delay)
            term.kv(
                "Mode", "no DIFY_BASE_URL set: using the embedded local server with demo content"
            )
        else:
            term.kv("Mode", "DIFY_BASE_URL is set: using that Dify")
        demo = _Demo(target, term)
        start = time.perf_counter()
        demo.preflight()
        demo.langchain_rag()
        demo.llama_index_query()
        demo.conversation()
        demo.workflow_agent()
        knowledge_ingest(demo, 5)
        demo.summary(time.perf_counter() - start)
        term.line()
        term.line(term.style("Demo finished.", "green", "bold"))
        return EXIT_OK
    except _FatalError as exc:
        term.line(f"error: {exc.message}")
        return exc.code
    except APIConnectionError as exc:
        term.line(f"error: lost the connection to Dify: {exc}")
        return EXIT_UNREACHABLE
    except (AuthenticationError, PermissionDeniedError) as exc:
        term.line(f"error: Dify rejected a key: {exc}")
        return EXIT_UNAUTHORIZED
    except (APIStatusError, DifyError) as exc:
        term.line(f"error: Dify call failed: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        term.line("\ninterrupted")
        return 130
    finally:
        if server is not None:
            server.stop()
