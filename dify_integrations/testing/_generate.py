"""Generation pipelines: the ordered events of each app mode, as async generators of dicts.

This module holds the message family (chat, agent-chat, advanced-chat, completion) and the
workflow event builders; the node-by-node run of workflow apps is in ``_workflow_run``.

The same events serve both response modes: streaming writes them as frames, blocking folds
them (``fold_message`` / ``fold_workflow``). Pacing (``token_delay``) and stop are applied
between pieces, so a stop request halts the generation at once.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from . import _external_knowledge, _responders, _tokenize
from ._errors import DifyHTTPError
from ._human_input import ACTION_KEY, TIMEOUT_ERROR, Outcome, pause_for_input
from ._tasks import Task
from ._workspace import App, Conversation, Message, WorkflowRun, Workspace, new_id

INTERNAL_STREAM_ERROR = "Internal Server Error, please contact support."
STOPPED_MESSAGE = "Workflow execution stopped by user."


def _error_fields(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, DifyHTTPError):
        return {"code": exc.body["code"], "status": exc.status, "message": exc.body["message"]}
    if isinstance(exc, ValueError):
        return {"code": "invalid_param", "status": 400, "message": str(exc)}
    return {"code": "internal_server_error", "status": 500, "message": INTERNAL_STREAM_ERROR}


async def _pieces(result: Any) -> AsyncIterator[str]:
    """Text pieces of a responder/handler result: str, iterable, awaitable or async iterable."""
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aiter__"):
        async for piece in result:
            if piece:
                yield str(piece)
        return
    for piece in _responders.as_pieces(result):
        yield piece


@dataclass
class Generation:
    """Everything one generation needs."""

    ws: Workspace
    app: App
    task: Task
    user: str
    inputs: dict[str, Any]
    query: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)
    token_delay: float = 0.0
    conversation: Conversation | None = None
    message: Message | None = None
    run: WorkflowRun | None = None
    created_at: int = field(default_factory=lambda: int(time.time()))
    started: float = field(default_factory=time.monotonic)
    legacy_order: bool = False
    """Chatflows: send ``workflow_finished`` before ``message_end`` (older Dify builds)."""

    # ------------------------------------------------------------------ envelopes

    def envelope(self, event: str) -> dict[str, Any]:
        """Leading keys of an event of this route, up to and including ``task_id``."""
        if self.app.mode == "workflow":
            assert self.run is not None
            return {"event": event, "workflow_run_id": self.run.id, "task_id": self.task.id}
        assert self.message is not None
        env: dict[str, Any] = {"event": event}
        if self.app.mode != "completion":
            env["conversation_id"] = self.message.conversation_id
        env["message_id"] = self.message.id
        env["created_at"] = self.message.created_at
        env["task_id"] = self.task.id
        return env

    def error_envelope(self) -> dict[str, Any]:
        """Leading keys of an ``error`` event (no ``task_id``)."""
        env = self.envelope("error")
        env.pop("task_id")
        env.pop("event")
        return env

    def error_event(self, exc: BaseException) -> dict[str, Any]:
        """An ``error`` event for an exception raised by a responder or handler."""
        return {"event": "error", **self.error_envelope(), **_error_fields(exc)}

    def workflow_event(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        """A workflow-family event (``workflow_run_id`` + ``data``)."""
        assert self.run is not None
        env = self.envelope(event)
        if self.app.mode != "workflow":
            env["workflow_run_id"] = self.run.id
        env["data"] = data
        return env

    def elapsed(self) -> float:
        """Seconds since the generation started."""
        return time.monotonic() - self.started

    # ------------------------------------------------------------------ message family

    def history(self) -> list[tuple[str, str]]:
        """``(query, answer)`` of previous turns of the conversation."""
        if self.conversation is None:
            return []
        with self.ws.lock:
            return [
                (m.query, m.answer) for m in self.conversation.messages if m is not self.message
            ]

    def _answer_source(self, hits: list[Any], has_knowledge: bool) -> Any:
        if self.app.mode == "completion":
            rendered = _responders.render_template(self.app.template, self.inputs, self.query)
            if self.app.responder is None:
                return rendered
            return self.app.responder(rendered, self.inputs, [], self.files)
        if self.app.responder is None:
            return _responders.extractive_answer(self.query, hits, has_knowledge)
        return self.app.responder(self.query, self.inputs, self.history(), self.files)

    def _message_event(self, name: str, answer: str, selector: list[str] | None) -> dict[str, Any]:
        assert self.message is not None
        event = {**self.envelope(name), "id": self.message.id, "answer": answer}
        if name == "message":
            event["from_variable_selector"] = selector
        return event

    def _message_end(
        self, resources: list[dict[str, Any]], usage: dict[str, Any]
    ) -> dict[str, Any]:
        assert self.message is not None
        files = [
            {
                "related_id": f["id"],
                "extension": f["extension"],
                "filename": f["filename"],
                "size": f["size"],
                "mime_type": f["mime_type"],
                "transfer_method": f["transfer_method"],
                "type": f["type"],
                "url": f["url"] or f["remote_url"],
                "upload_file_id": f["upload_file_id"] or f["id"],
                "remote_url": f["remote_url"],
            }
            for f in self.files
        ]
        return {
            **self.envelope("message_end"),
            "id": self.message.id,
            "metadata": {
                "annotation_reply": None,
                "retriever_resources": resources,
                "usage": usage,
            },
            "files": files or None,
        }

    def _usage(self, answer: str, context: str, first_token_at: float | None) -> dict[str, Any]:
        prompt = " ".join(
            [
                self.query,
                json.dumps(self.inputs),
                context,
                self.app.opening_statement,
                self.app.template,
            ]
            + [q + " " + a for q, a in self.history()]
        )
        latency = self.elapsed()
        ttft = None if first_token_at is None else first_token_at - self.started
        return _responders.usage(
            _responders.SYSTEM_PROMPT_TOKENS + _tokenize.count_tokens(prompt),
            _tokenize.count_tokens(answer),
            latency,
            ttft,
            None if ttft is None else latency - ttft,
        )

    def _save(
        self,
        answer: str,
        resources: list[dict[str, Any]],
        status: str = "normal",
        error: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> None:
        assert self.message is not None
        with self.ws.lock:
            self.message.usage = usage
            self.message.answer = answer
            self.message.retriever_resources = resources
            self.message.status = status
            self.message.error = error
            if self.conversation is not None:
                self.conversation.updated_at = time.time()

    async def message_events(self) -> AsyncIterator[dict[str, Any]]:
        """Events of chat, agent-chat, advanced-chat and completion apps."""
        mode = self.app.mode
        try:  # Dify and external knowledge bases (see _external_knowledge)
            hits = (
                await _external_knowledge.retrieve_for_app(self.ws, self.app, self.query)
                if self.app.dataset_ids
                else []
            )
        except Exception as exc:  # an unreachable or malformed external knowledge API
            self._save("", [], "error", str(exc))
            yield self.error_event(exc)
            return
        resources = (
            [_external_knowledge.resource(i, ds, h) for i, (ds, h) in enumerate(hits, 1)]
            if self.app.show_retrieve_source
            else []
        )
        context = "\n".join(h.segment.content for _, h in hits)
        if mode == "advanced-chat":
            async for event in self._chatflow(hits, resources, context):
                yield event
            return
        thought_id = new_id()
        position = 1
        agent = mode in ("agent-chat", "agent")
        if agent:
            yield self._thought(thought_id, position)
            if hits:
                tool = "dataset_retrieval"
                tool_input = json.dumps({tool: {"query": self.query}})
                yield self._thought(thought_id, position, tool=tool, tool_input=tool_input)
                observation = json.dumps({tool: context}, ensure_ascii=False)
                yield self._thought(
                    thought_id, position, tool=tool, tool_input=tool_input, observation=observation
                )
                self._store_thought(thought_id, position, "", tool, tool_input, observation)
                thought_id, position = new_id(), 2
                yield self._thought(thought_id, position)
        answer = ""
        first_token_at: float | None = None
        name = "agent_message" if agent else "message"
        try:
            async for piece in _pieces(
                self._answer_source([h for _, h in hits], bool(self.app.dataset_ids))
            ):
                if await self.task.pause(self.token_delay):
                    break
                first_token_at = first_token_at or time.monotonic()
                answer += piece
                yield self._message_event(name, piece, None)
            replacement = self._moderate(answer)
        except Exception as exc:  # a responder failure ends the stream with an error event
            self._save(answer, resources, "error", str(exc))
            yield self.error_event(exc)
            return
        usage = self._usage(answer, context, first_token_at)
        if agent:
            yield self._thought(thought_id, position, thought=answer)
            self._store_thought(thought_id, position, answer, "", "", "")
        if replacement is not None:  # output moderation runs when the message ends
            yield self._replace_event(replacement)
            answer = replacement
        self._save(answer, resources, usage=usage)
        if mode == "agent":
            # New Agent apps close with one ``message`` repeating the complete answer
            # (the final answer, not more text), and a message_end without citations.
            yield self._message_event("message", answer, None)
            end = self._message_end(resources, usage)
            end["metadata"] = {"annotation_reply": None, "usage": usage}
            yield end
            return
        yield self._message_end(resources, usage)

    def _moderate(self, answer: str) -> str | None:
        """The app's output moderation of the whole answer: a replacement, or ``None``."""
        if self.app.moderation is None:
            return None
        return self.app.moderation(answer)

    def _replace_event(self, replacement: str) -> dict[str, Any]:
        """``message_replace``: the full replacement text (clients discard the deltas)."""
        return {**self.envelope("message_replace"), "answer": replacement, "reason": ""}

    def _thought(
        self,
        thought_id: str,
        position: int,
        *,
        thought: str = "",
        tool: str = "",
        tool_input: str = "",
        observation: str = "",
    ) -> dict[str, Any]:
        labels = {tool: {"en_US": "Knowledge Retrieval", "zh_Hans": "知识检索"}} if tool else {}
        return {
            **self.envelope("agent_thought"),
            "id": thought_id,
            "position": position,
            "thought": thought,
            "observation": observation,
            "tool": tool,
            "tool_labels": labels,
            "tool_input": tool_input,
            "message_files": [],
        }

    def _store_thought(
        self,
        thought_id: str,
        position: int,
        thought: str,
        tool: str,
        tool_input: str,
        observation: str,
    ) -> None:
        assert self.message is not None
        with self.ws.lock:
            self.message.agent_thoughts.append(
                {
                    "id": thought_id,
                    "chain_id": None,
                    "message_id": self.message.id,
                    "position": position,
                    "thought": thought,
                    "tool": tool,
                    "tool_labels": {tool: {"en_US": "Knowledge Retrieval"}} if tool else {},
                    "tool_input": tool_input,
                    "created_at": self.message.created_at,
                    "observation": observation,
                    "files": [],
                }
            )

    # ------------------------------------------------------------------ workflow family

    def sys_inputs(self) -> dict[str, Any]:
        """Run inputs including the ``sys.*`` variables Dify adds."""
        assert self.run is not None
        extra: dict[str, Any] = {}
        if self.app.mode == "advanced-chat":
            assert self.conversation is not None
            extra = {
                "sys.query": self.query,
                "sys.files": [],
                "sys.conversation_id": self.conversation.id,
                "sys.user_id": self.user,
                "sys.dialogue_count": len(self.conversation.messages),
            }
        else:
            extra = {"sys.files": [], "sys.user_id": self.user}
        return {
            **self.inputs,
            **extra,
            "sys.app_id": self.app.id,
            "sys.workflow_id": self.app.workflow_id,
            "sys.workflow_run_id": self.run.id,
        }

    def node_started(self, node: Node, iteration_id: str | None = None) -> dict[str, Any]:
        """A ``node_started`` event (``iteration_id`` for nodes inside an iteration)."""
        return self.workflow_event(
            "node_started",
            {
                "id": node.exec_id,
                "node_id": node.node_id,
                "node_type": node.node_type,
                "title": node.title,
                "index": node.index,
                "predecessor_node_id": None,
                "inputs": None,
                "inputs_truncated": False,
                "created_at": node.created_at,
                "extras": {},
                "iteration_id": iteration_id,
                "loop_id": None,
                "agent_strategy": None,
            },
        )

    def node_finished(
        self,
        node: Node,
        inputs: Any,
        outputs: Any,
        status: str = "succeeded",
        error: str | None = None,
        process_data: Any = None,
        execution_metadata: Any = None,
        iteration_id: str | None = None,
    ) -> dict[str, Any]:
        """A ``node_finished`` event; ``elapsed_time`` is measured from ``node.started``."""
        return self.workflow_event(
            "node_finished",
            {
                "id": node.exec_id,
                "node_id": node.node_id,
                "node_type": node.node_type,
                "title": node.title,
                "index": node.index,
                "predecessor_node_id": None,
                "inputs": inputs,
                "inputs_truncated": False,
                "process_data": process_data,
                "process_data_truncated": False,
                "outputs": outputs,
                "outputs_truncated": False,
                "status": status,
                "error": error,
                "elapsed_time": round(time.monotonic() - node.started, 6),
                "execution_metadata": execution_metadata,
                "created_at": node.created_at,
                "finished_at": int(time.time()),
                "files": [],
                "iteration_id": iteration_id,
                "loop_id": None,
            },
        )

    def workflow_started(self) -> dict[str, Any]:
        """The ``workflow_started`` event."""
        assert self.run is not None
        return self.workflow_event(
            "workflow_started",
            {
                "id": self.run.id,
                "workflow_id": self.app.workflow_id,
                "inputs": self.run.inputs,
                "created_at": self.run.created_at,
                "reason": "initial",
            },
        )

    def finish_run(
        self, status: str, outputs: dict[str, Any], error: str | None, steps: int, tokens: int
    ) -> dict[str, Any]:
        """Record the run's end and return its ``workflow_finished`` event."""
        assert self.run is not None
        run = self.run
        with self.ws.lock:
            run.status = status
            run.outputs = outputs
            run.error = error
            run.total_steps = steps
            run.total_tokens = tokens
            run.finished_at = int(time.time())
            run.elapsed_time = round(self.elapsed(), 6)
        return self.workflow_event(
            "workflow_finished",
            {
                "id": run.id,
                "workflow_id": self.app.workflow_id,
                "status": status,
                "outputs": outputs,
                "error": error,
                "elapsed_time": run.elapsed_time,
                "total_tokens": tokens,
                "total_steps": steps,
                "created_by": {
                    "id": self.ws.end_user_id(self.app.id, self.user),
                    "user": self.user,
                },
                "created_at": run.created_at,
                "finished_at": run.finished_at,
                "exceptions_count": 0,
                "files": [],
            },
        )

    def node(self, index: int, node_type: str, title: str, node_id: str | None = None) -> Node:
        """A node execution; ``node_id`` defaults to one derived from the app and ``index``."""
        base = self.app.created_at * 1000
        return Node(new_id(), node_id or str(base + index), node_type, title, index)

    async def _chatflow(
        self, hits: list[Any], resources: list[dict[str, Any]], context: str
    ) -> AsyncIterator[dict[str, Any]]:
        sys_inputs = self.sys_inputs()
        assert self.run is not None
        self.run.inputs = sys_inputs
        yield self.workflow_started()
        start = self.node(1, "start", "Start")
        yield self.node_started(start)
        yield self.node_finished(start, sys_inputs, sys_inputs)
        steps = 1
        index = 2
        if self.app.dataset_ids:
            kr = self.node(index, "knowledge-retrieval", "Knowledge Retrieval")
            yield self.node_started(kr)
            yield self.node_finished(kr, {"query": self.query}, {"result": resources})
            steps, index = steps + 1, index + 1
        if self.app.human_input is not None:
            spec = self.app.human_input
            outcome = Outcome()
            waiter = self.node(index, "human-input", str(spec["title"]), "human_input")
            async for event in pause_for_input(self, spec, waiter, steps, outcome):
                yield event
            steps, index = steps + 1, index + 1
            if outcome.submission is None:
                yield self.finish_run("failed", {}, TIMEOUT_ERROR, steps, 0)
                self._save("", resources, "error", TIMEOUT_ERROR)
                yield {
                    "event": "error",
                    **self.error_envelope(),
                    "code": "invalid_param",
                    "status": 400,
                    "message": f"Run failed: {TIMEOUT_ERROR}",
                }
                return
            submitted = outcome.submission
            self.inputs = {**self.inputs, **submitted["inputs"], ACTION_KEY: submitted["action"]}
        llm = self.node(index, "llm", "LLM")
        yield self.node_started(llm)
        if self.app.reasoning:
            async for event in self._reasoning(llm.node_id, self.app.reasoning):
                yield event
        answer = ""
        first_token_at: float | None = None
        stopped = False
        try:
            async for piece in _pieces(
                self._answer_source([h for _, h in hits], bool(self.app.dataset_ids))
            ):
                if await self.task.pause(self.token_delay):
                    stopped = True
                    break
                first_token_at = first_token_at or time.monotonic()
                answer += piece
                yield self._message_event("message", piece, [llm.node_id, "text"])
            replacement = self._moderate(answer)
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            yield self.node_finished(llm, {"#sys.query#": self.query}, None, "failed", error)
            yield self.finish_run("failed", {}, error, steps + 1, 0)
            self._save(answer, resources, "error", error)
            yield {
                "event": "error",
                **self.error_envelope(),
                "code": "invalid_param",
                "status": 400,
                "message": f"Run failed: {error}",
            }
            return
        usage = self._usage(answer, context, first_token_at)
        finished: dict[str, Any]
        if stopped:
            finished = self.finish_run(
                "stopped", {}, STOPPED_MESSAGE, steps + 1, usage["total_tokens"]
            )
        else:
            meta = {
                "total_tokens": usage["total_tokens"],
                "total_price": usage["total_price"],
                "currency": "USD",
            }
            llm_out = {
                "text": answer,
                "reasoning_content": self.app.reasoning or "",
                "usage": usage,
                "finish_reason": "stop",
            }
            yield self.node_finished(
                llm, {"#sys.query#": self.query}, llm_out, execution_metadata=meta
            )
            end = self.node(index + 1, "answer", "Answer", "answer")
            yield self.node_started(end)
            outputs = {"answer": answer, "files": []}
            yield self.node_finished(end, None, outputs)
            finished = self.finish_run("succeeded", outputs, None, steps + 2, usage["total_tokens"])
        if self.legacy_order:  # older builds: workflow_finished, then message_end
            yield finished
        if replacement is not None:  # chatflows moderate when the workflow has ended
            yield self._replace_event(replacement)
            answer = replacement
        self._save(answer, resources, usage=usage)
        yield self._message_end(resources, usage)
        if not self.legacy_order:  # current Dify: message_end, then workflow_finished
            yield finished

    async def _reasoning(self, node_id: str, reasoning: str) -> AsyncIterator[dict[str, Any]]:
        """``reasoning_chunk`` events: the reasoning word by word, then an empty final one."""
        assert self.message is not None
        words = reasoning.split(" ")
        pieces = [w + " " for w in words[:-1]] + [words[-1]]
        for piece, final in [*((p, False) for p in pieces if p), ("", True)]:
            if not final and await self.task.pause(self.token_delay):
                return
            yield {
                **self.envelope("reasoning_chunk"),
                "data": {
                    "message_id": self.message.id,
                    "reasoning": piece,
                    "node_id": node_id,
                    "is_final": final,
                },
            }


@dataclass
class Node:
    """One node execution of a workflow run."""

    exec_id: str
    node_id: str
    node_type: str
    title: str
    index: int
    created_at: int = field(default_factory=lambda: int(time.time()))
    started: float = field(default_factory=time.monotonic)


# ---------------------------------------------------------------------- blocking folds


async def fold_message(gen: Generation, events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    """Consume message-family events into the blocking response body."""
    answer = ""
    metadata: dict[str, Any] = {"annotation_reply": None, "retriever_resources": [], "usage": None}
    async for event in events:
        name = event["event"]
        if name in ("message", "agent_message"):
            answer += event["answer"]
        elif name == "message_replace":
            answer = event["answer"]
        elif name == "message_end":
            metadata = event["metadata"]
        elif name == "error":
            raise DifyHTTPError(event["status"], event["code"], event["message"])
    assert gen.message is not None
    body: dict[str, Any] = {
        "event": "message",
        "task_id": gen.task.id,
        "id": gen.message.id,
        "message_id": gen.message.id,
    }
    if gen.app.mode != "completion":
        body["conversation_id"] = gen.message.conversation_id
    body["mode"] = gen.app.mode
    body["answer"] = answer
    body["metadata"] = metadata
    body["created_at"] = gen.message.created_at
    return body


async def fold_workflow(gen: Generation, events: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    """Consume workflow events into the blocking ``/workflows/run`` body."""
    data: dict[str, Any] = {}
    async for event in events:
        if event["event"] in ("workflow_finished", "workflow_paused"):
            data = event["data"]
    assert gen.run is not None
    keys = (
        "id",
        "workflow_id",
        "status",
        "outputs",
        "error",
        "elapsed_time",
        "total_tokens",
        "total_steps",
        "created_at",
        "finished_at",
    )
    return {
        "task_id": gen.task.id,
        "workflow_run_id": gen.run.id,
        "data": {k: data.get(k) for k in keys},
    }


EventSource = Callable[[], AsyncIterator[dict[str, Any]]]
