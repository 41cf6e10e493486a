"""Workflow-app runs: Start, the app's nodes one by one (callables, iterations), then End.

Node specs come from ``DifyTestServer.create_workflow_app(nodes=[...])``:

- ``{"title": "Classify", "node_type": "code", "run": fn}``: ``fn(values)`` runs in that node
  (same contract as the app's ``handler``: a dict of outputs, a generator of text pieces
  returning the outputs, or an awaitable); the outputs are merged into the values passed to
  later nodes. A node without ``run`` passes its values through, except the last one, which
  runs the app's ``handler``.
- ``{"run": fn, "retries": 2}``: a node whose ``fn`` raises is run again, up to ``retries``
  more times, each failed attempt streamed as ``node_retry`` (``status`` ``retry``,
  ``retry_index``); it fails the run only when the last attempt fails.
- ``{"title": "Refine", "node_type": "loop", "times": 3, "run": fn}``: ``fn({**values,
  "index": i, "loop_output": previous})`` runs ``times`` rounds, framed by ``loop_started`` /
  ``loop_next`` / ``loop_completed``; the list of results becomes ``values[spec.get("output",
  "output")]``.
- ``{"node_type": "human-input", "title", "form_content", "inputs", "actions",
  "timeout"}``: the run pauses until the form is submitted (see ``_human_input``); the
  submitted inputs and ``__action_id`` join the values.
- ``{"title": "Each item", "node_type": "iteration", "over": "items", "run": fn}``: one inner
  node execution per element of ``values["over"]`` (``fn({**values, "item": x, "index": i})``
  gives that element's result), framed by ``iteration_started`` / ``iteration_next`` /
  ``iteration_completed``; the list of results becomes ``values[spec.get("output",
  "output")]``.

A node that raises fails the run there (``node_finished`` failed, then ``workflow_finished``
failed, no ``error`` event: Dify's shape for workflow apps); a stop request ends it with
``workflow_finished`` ``stopped``.
"""

from __future__ import annotations

import inspect
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _tokenize
from ._generate import STOPPED_MESSAGE, Generation, Node
from ._human_input import ACTION_KEY, TIMEOUT_ERROR, Outcome, check_spec, pause_for_input

DEFAULT_NODE: dict[str, Any] = {"node_type": "code", "title": "Code"}
DEFAULT_INNER: dict[str, Any] = {"node_type": "code", "title": "Code"}
_SPEC_KEYS = frozenset(
    {"title", "node_type", "node_id", "run", "over", "output", "inner", "retries", "times"}
)


def check_nodes(nodes: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Validate node specs (see the module docstring) and copy them.

    Raises:
        ValueError: Unknown keys, a ``run`` that is not callable, or an iteration without
            ``over``.
    """
    out: list[dict[str, Any]] = []
    for number, raw in enumerate(nodes or [], start=1):
        spec = dict(raw)
        if spec.get("node_type") == "human-input":
            out.append(check_spec(spec))
            continue
        unknown = set(spec) - _SPEC_KEYS
        if unknown:
            raise ValueError(f"node {number}: unknown keys {sorted(unknown)}")
        if spec.get("run") is not None and not callable(spec["run"]):
            raise ValueError(f"node {number}: 'run' must be callable")
        if spec.get("node_type") == "iteration" and not spec.get("over"):
            raise ValueError(f"node {number}: an iteration needs 'over' (the list variable)")
        for key in ("retries", "times"):
            value = spec.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"node {number}: {key!r} must be a non-negative integer")
        if spec.get("node_type") == "loop" and not spec.get("times"):
            raise ValueError(f"node {number}: a loop needs 'times' (its number of rounds)")
        out.append(spec)
    return out


def _as_outputs(result: Any, text: str) -> dict[str, Any]:
    """A node's outputs from its callable's result (``{"text": …}`` unless a dict)."""
    if result is None:
        return {"text": text}
    if isinstance(result, dict):
        return result
    return {"text": str(result)}


@dataclass
class _Run:
    """The state of one workflow run as it walks its nodes."""

    gen: Generation
    values: dict[str, Any]
    node_ids: Iterator[int]
    outputs: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    steps: int = 0
    index: int = 0
    status: str = "running"
    error: str | None = None

    def node(self, spec: Mapping[str, Any], default_title: str) -> Node:
        """A new node execution (the next ``index``; ``node_id`` from the spec or derived)."""
        self.index += 1
        self.steps += 1
        node_id = spec.get("node_id")
        base = self.gen.app.created_at * 1000
        return self.gen.node(
            self.index,
            str(spec.get("node_type", "code")),
            str(spec.get("title", default_title)),
            str(node_id) if node_id is not None else str(base + next(self.node_ids)),
        )

    def fail(self, exc: BaseException) -> str:
        """Mark the run failed by ``exc``; returns the error text."""
        self.status = "failed"
        self.error = str(exc) or type(exc).__name__
        return self.error

    def finished(self) -> dict[str, Any]:
        """The ``workflow_finished`` event of a failed or stopped run."""
        if self.status == "failed":
            return self.gen.finish_run("failed", {}, self.error, self.steps, 0)
        tokens = _tokenize.count_tokens(self.text)
        return self.gen.finish_run("stopped", {}, STOPPED_MESSAGE, self.steps, tokens)


async def _call(fn: Callable[[Any], Any], arg: Any) -> Any:
    result = fn(arg)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _execute(
    run: _Run, node: Node, fn: Callable[[Any], Any], retries: int = 0
) -> AsyncIterator[dict[str, Any]]:
    """Run ``fn`` in ``node``: ``text_chunk`` events for generator pieces, then its outputs.

    A failing attempt is retried ``retries`` times, each one streamed as ``node_retry``.
    """
    gen = run.gen
    inputs = dict(run.values)
    if await gen.task.pause(gen.token_delay):
        run.status = "stopped"
        return
    for attempt in range(retries + 1):
        failed: BaseException | None = None
        async for event in _attempt(run, node, fn, inputs):
            if isinstance(event, BaseException):
                failed = event
            else:
                yield event
        if failed is None:
            return
        if attempt < retries:
            retry = gen.node_finished(node, inputs, None, "retry", str(failed) or "error")
            retry["event"] = "node_retry"
            retry["data"]["retry_index"] = attempt + 1
            yield retry
            continue
        error = run.fail(failed)
        yield gen.node_finished(node, inputs, None, "failed", error)


async def _attempt(
    run: _Run, node: Node, fn: Callable[[Any], Any], inputs: dict[str, Any]
) -> AsyncIterator[Any]:
    """One attempt of ``fn``: its events, or the exception it raised (as the last item)."""
    gen = run.gen
    text = ""
    try:
        result = await _call(fn, dict(inputs))
        if inspect.isgenerator(result) or inspect.isasyncgen(result):
            pieces, result = result, None
            while True:
                try:
                    if inspect.isgenerator(pieces):
                        piece = next(pieces)
                    else:
                        piece = await pieces.__anext__()
                except StopIteration as stop:
                    result = stop.value
                    break
                except StopAsyncIteration:
                    break
                if await gen.task.pause(gen.token_delay):
                    await _close(pieces)
                    run.status = "stopped"
                    return
                if piece:
                    text += str(piece)
                    run.text += str(piece)
                    yield gen.workflow_event(
                        "text_chunk",
                        {"text": str(piece), "from_variable_selector": [node.node_id, "text"]},
                    )
    except Exception as exc:
        yield exc
        return
    outputs = _as_outputs(result, text)
    run.values.update(outputs)
    run.outputs = outputs
    yield gen.node_finished(node, inputs, outputs)


async def _close(pieces: Any) -> None:
    if inspect.isgenerator(pieces):
        pieces.close()
    else:
        await pieces.aclose()


async def _plain_node(
    run: _Run, spec: Mapping[str, Any], fn: Callable[[Any], Any] | None
) -> AsyncIterator[dict[str, Any]]:
    node = run.node(spec, "Code")
    yield run.gen.node_started(node)
    if fn is None:  # a node without a callable passes its values through
        run.outputs = dict(run.values)
        yield run.gen.node_finished(node, dict(run.values), dict(run.values))
        return
    async for event in _execute(run, node, fn, int(spec.get("retries", 0))):
        yield event


async def _iteration(run: _Run, spec: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """``iteration_started``, per item an inner node pair, ``iteration_next``, completed."""
    gen = run.gen
    container = run.node(spec, "Iteration")
    run.index -= 1  # container nodes get no node_started, hence no execution index
    inner_spec = {**DEFAULT_INNER, **dict(spec.get("inner") or {})}
    if inner_spec.get("node_id") is None:  # one node id for every item's execution
        inner_spec["node_id"] = str(gen.app.created_at * 1000 + next(run.node_ids))
    fn: Callable[[Any], Any] | None = spec.get("run")
    output_key = str(spec.get("output", "output"))
    items = run.values.get(str(spec["over"]))
    iteration_id = container.node_id
    head = {
        "id": iteration_id,
        "node_id": container.node_id,
        "node_type": "iteration",
        "title": container.title,
    }
    inputs = {"iterator_selector": items}
    length = len(items) if isinstance(items, list) else 0
    yield gen.workflow_event(
        "iteration_started",
        {
            **head,
            "created_at": container.created_at,
            "extras": {},
            "metadata": {"iterator_length": length},
            "inputs": inputs,
            "inputs_truncated": False,
        },
    )
    results: list[Any] = []
    error: str | None = None
    if not isinstance(items, list):
        error = run.fail(ValueError(f"Invalid iterator value: {items!r}, please provide a list."))
    for i, item in enumerate(items if isinstance(items, list) else []):
        if i:
            yield gen.workflow_event(
                "iteration_next",
                {**head, "index": i, "created_at": int(time.time()), "extras": {}},
            )
        if await gen.task.pause(gen.token_delay):
            run.status = "stopped"
            return
        inner = run.node(inner_spec, "Code")
        yield gen.node_started(inner, iteration_id)
        item_inputs = {**run.values, "item": item, "index": i}
        meta = {"iteration_id": iteration_id, "iteration_index": i}
        try:
            result = item if fn is None else await _call(fn, dict(item_inputs))
        except Exception as exc:
            error = run.fail(exc)
            yield gen.node_finished(
                inner, item_inputs, None, "failed", error, None, meta, iteration_id
            )
            break
        results.append(result)
        outputs = result if isinstance(result, dict) else {"output": result}
        yield gen.node_finished(
            inner, item_inputs, outputs, "succeeded", None, None, meta, iteration_id
        )
    outputs = {output_key: results}
    yield gen.workflow_event(
        "iteration_completed",
        {
            **head,
            "outputs": outputs,
            "outputs_truncated": False,
            "created_at": container.created_at,
            "extras": {},
            "inputs": inputs,
            "inputs_truncated": False,
            "status": "failed" if error else "succeeded",
            "error": error,
            "elapsed_time": round(time.monotonic() - container.started, 6),
            "total_tokens": 0,
            "execution_metadata": {"total_tokens": 0},
            "finished_at": int(time.time()),
            "steps": len(results) + (1 if error and isinstance(items, list) else 0),
        },
    )
    if error is None:
        run.values.update(outputs)
        run.outputs = outputs


async def _human_input(run: _Run, spec: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """A Human Input node: pause, wait for the form, go on with its inputs (or fail)."""
    node = run.node(spec, "Human Input")
    outcome = Outcome()
    async for event in pause_for_input(run.gen, spec, node, run.steps, outcome):
        yield event
    if outcome.submission is None:
        run.status = "failed"
        run.error = TIMEOUT_ERROR
        return
    outputs = {**outcome.submission["inputs"], ACTION_KEY: outcome.submission["action"]}
    run.values.update(outputs)
    run.outputs = outputs


async def _loop(run: _Run, spec: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """``loop_started``, per round an inner node pair and ``loop_next``, ``loop_completed``."""
    gen = run.gen
    container = run.node(spec, "Loop")
    run.index -= 1  # container nodes get no node_started, hence no execution index
    inner_spec = {**DEFAULT_INNER, "node_id": str(gen.app.created_at * 1000 + next(run.node_ids))}
    fn: Callable[[Any], Any] | None = spec.get("run")
    output_key = str(spec.get("output", "output"))
    times = int(spec["times"])
    loop_id = container.node_id
    head = {"id": loop_id, "node_id": loop_id, "node_type": "loop", "title": container.title}
    yield gen.workflow_event(
        "loop_started",
        {
            **head,
            "created_at": container.created_at,
            "extras": {},
            "metadata": {"loop_length": times},
            "inputs": {"loop_count": times},
            "inputs_truncated": False,
        },
    )
    results: list[Any] = []
    error: str | None = None
    previous: Any = None
    for i in range(times):
        if i:
            yield gen.workflow_event(
                "loop_next",
                {**head, "index": i, "created_at": int(time.time()), "pre_loop_output": {}},
            )
        if await gen.task.pause(gen.token_delay):
            run.status = "stopped"
            return
        inner = run.node(inner_spec, "Code")
        started = gen.node_started(inner)
        started["data"]["loop_id"] = loop_id
        yield started
        round_inputs = {**run.values, "index": i, "loop_output": previous}
        try:
            previous = round_inputs if fn is None else await _call(fn, dict(round_inputs))
        except Exception as exc:
            error = run.fail(exc)
            done = gen.node_finished(inner, round_inputs, None, "failed", error)
            done["data"]["loop_id"] = loop_id
            yield done
            break
        results.append(previous)
        done = gen.node_finished(
            inner, round_inputs, previous if isinstance(previous, dict) else {"output": previous}
        )
        done["data"]["loop_id"] = loop_id
        yield done
    outputs = {output_key: results}
    yield gen.workflow_event(
        "loop_completed",
        {
            **head,
            "outputs": outputs,
            "outputs_truncated": False,
            "created_at": container.created_at,
            "extras": {},
            "inputs": {"loop_count": times},
            "inputs_truncated": False,
            "status": "failed" if error else "succeeded",
            "error": error,
            "elapsed_time": round(time.monotonic() - container.started, 6),
            "total_tokens": 0,
            "execution_metadata": {"total_tokens": 0},
            "finished_at": int(time.time()),
            "steps": len(results),
        },
    )
    if error is None:
        run.values.update(outputs)
        run.outputs = outputs


async def workflow_events(gen: Generation) -> AsyncIterator[dict[str, Any]]:
    """Events of a workflow app run: started, Start, the nodes, End, finished."""
    assert gen.run is not None
    sys_inputs = gen.sys_inputs()
    gen.run.inputs = sys_inputs
    yield gen.workflow_started()
    run = _Run(gen, dict(gen.inputs), itertools.count(1))
    start = run.node({"node_type": "start"}, "Start")
    yield gen.node_started(start)
    yield gen.node_finished(start, sys_inputs, sys_inputs)
    specs = gen.app.nodes or [DEFAULT_NODE]
    for position, spec in enumerate(specs):
        kind = spec.get("node_type")
        if kind == "iteration":
            events = _iteration(run, spec)
        elif kind == "loop":
            events = _loop(run, spec)
        elif kind == "human-input":
            events = _human_input(run, spec)
        else:
            last = position == len(specs) - 1
            events = _plain_node(run, spec, spec.get("run") or (gen.app.handler if last else None))
        async for event in events:
            yield event
        if run.status != "running":
            yield run.finished()
            return
    outputs = run.outputs
    end = run.node({"node_type": "end"}, "End")
    yield gen.node_started(end)
    yield gen.node_finished(end, outputs, outputs)
    yield gen.finish_run("succeeded", outputs, None, run.steps, _tokenize.count_tokens(run.text))
