"""``DifyWorkflowTool``: a Dify workflow app as a LlamaIndex tool."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.tools.types import (
    AsyncBaseTool,
    DefaultToolFnSchema,
    ToolMetadata,
    ToolOutput,
)
from llama_index.core.workflow import Event
from pydantic import BaseModel, SecretStr

from dify_integrations.core.arguments import LLAMA_INDEX_ALIASES, checked_arguments
from dify_integrations.core.async_client import AsyncDifyClient
from dify_integrations.core.client import DifyClient
from dify_integrations.core.config import TimeoutLike
from dify_integrations.core.errors import StreamError
from dify_integrations.core.human_input import pick_form
from dify_integrations.core.input_schema import InputField, fields_to_model
from dify_integrations.core.pickling import PicklesWithoutKey, importable
from dify_integrations.core.progress import progress_payload
from dify_integrations.core.workflow_tool import (
    WorkflowOutcome,
    describe_workflow_app,
    workflow_outcome,
)
from dify_integrations.llama_index._clients import ClientPair
from dify_integrations.llama_index._convert import (
    span_trace_id,
    tool_arguments,
    workflow_tool_output,
)
from dify_integrations.llama_index._streaming import afold, fold

__all__ = ["DifyWorkflowProgress", "DifyWorkflowTool"]


class DifyWorkflowProgress(Event):
    """A step of a Dify workflow run, written to the stream of the agent workflow that runs
    the tool (``handler.stream_events()`` of a ``FunctionAgent`` / ``AgentWorkflow``).

    Attributes:
        tool_name: The tool (the workflow app) that reports it.
        event: ``workflow_started``, ``node_started`` or ``node_finished``.
        title: The node's title (``None`` for ``workflow_started``).
        status: A finished node's status (``succeeded``, ``failed``...), else ``None``.
        data: Everything Dify reported: ids, node type, index, elapsed time, error.
    """

    tool_name: str
    event: str
    title: str | None = None
    status: str | None = None
    data: dict[str, Any]


def _step_context() -> Any:
    """The workflow ``Context`` of the agent step running this tool, else ``None``."""
    try:
        from llama_index.core.workflow import Context
    except ImportError:  # pragma: no cover - older llama-index-core
        return None
    get = getattr(Context, "get_step_context", None)
    if get is None:
        return None
    try:
        return get()
    except Exception:  # not inside a workflow step
        return None


class DifyWorkflowTool(PicklesWithoutKey, AsyncBaseTool):
    """A Dify workflow app as a LlamaIndex tool (sync ``call``, native async ``acall``).

    Build it with :meth:`from_app` (or :meth:`afrom_app`): the tool's name, description
    and argument schema (``fn_schema``) come from the app's ``GET /info`` and
    ``GET /parameters`` (the same mapping as the LangChain tool). A call runs the workflow
    in streaming mode and returns a ``ToolOutput`` whose content is the text output (or
    all outputs as JSON) and whose ``raw_output`` is the outputs dict. A run that Dify
    reports as ``failed`` or ``stopped`` (or whose stream broke off with an ``error``
    event) gives ``is_error=True`` with Dify's error text, so an agent can read it; a
    ``paused`` run (waiting for human input) gives a notice saying so. Each status gives
    the same outcome as the LangChain tool (see :mod:`dify_integrations.core.workflow_tool`).
    HTTP errors (bad key, bad inputs) raise the core's exceptions.

    Setup:
        Set ``DIFY_API_KEY`` (the workflow app's key) and ``DIFY_BASE_URL``.

    Instantiate:
        ```python
        from dify_integrations.llama_index import DifyWorkflowTool

        tool = DifyWorkflowTool.from_app(api_key="app-...", base_url="http://127.0.0.1:5001/v1")
        ```

    Invoke:
        ```python
        output = tool.call(text="Bonjour")
        print(output.content, output.raw_output)
        ```

    Async:
        ```python
        output = await tool.acall(text="Bonjour")
        ```
    """

    @checked_arguments(LLAMA_INDEX_ALIASES)
    def __init__(
        self,
        metadata: ToolMetadata,
        fields: Sequence[InputField] = (),
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        user: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        client: DifyClient | None = None,
        async_client: AsyncDifyClient | None = None,
        workflow_id: str | None = None,
    ) -> None:
        self._metadata = metadata
        self._workflow_id = workflow_id
        self._fields = list(fields)
        custom = metadata.fn_schema not in (None, DefaultToolFnSchema)
        self._schema: type[BaseModel] = (
            metadata.fn_schema if custom and metadata.fn_schema else fields_to_model(self._fields)
        )
        self._clients = ClientPair(
            api_key=api_key,
            base_url=base_url,
            user=user,
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            async_client=async_client,
        )

    def _rebuild_clients(self, **settings: Any) -> None:
        self._clients = ClientPair(**settings)

    def _pickle_state(self, state: dict[str, Any]) -> dict[str, Any]:
        # A schema built from the app's form is a class made at run time: rebuilt on load.
        if not importable(self._schema):
            state["_schema"] = None
            state["_metadata"] = dataclasses.replace(self._metadata, fn_schema=None)
            state["__schema_name__"] = self._schema.__name__
        return state

    def _unpickled(self) -> None:
        name = self.__dict__.pop("__schema_name__", None)
        if name is not None:
            self._schema = fields_to_model(self._fields, name)
            self._metadata = dataclasses.replace(self._metadata, fn_schema=self._schema)

    def __repr__(self) -> str:
        return (
            f"DifyWorkflowTool(name={self._metadata.name!r}, "
            f"base_url={self._clients.config.base_url!r})"
        )

    # ------------------------------------------------------------------ construction

    @classmethod
    @checked_arguments(LLAMA_INDEX_ALIASES)
    def from_app(
        cls,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        name: str | None = None,
        description: str | None = None,
        *,
        user: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = None,
        return_direct: bool = False,
        client: DifyClient | None = None,
        async_client: AsyncDifyClient | None = None,
        workflow_id: str | None = None,
    ) -> DifyWorkflowTool:
        """Describe a workflow app as a tool, from its ``/info`` and ``/parameters``.

        Args:
            api_key: The workflow app's key; else ``DIFY_API_KEY``.
            base_url: Service API root; else ``DIFY_BASE_URL``.
            name: Tool name; default: the app's name, sanitised.
            description: Tool description; default: the app's description.
            user: End-user id for the runs.
            timeout: Client timeouts.
            max_retries: Client retries (workflow runs themselves are never resent).
            return_direct: Whether an agent returns the tool output as its answer.
            client: An existing sync client.
            async_client: An existing async client.
            workflow_id: Run this published version of the workflow (a UUID) instead of
                the latest one.

        Returns:
            The tool.

        Raises:
            ValueError: If the app is not a workflow app.
        """
        tool = cls(
            ToolMetadata(description="", name=name),
            api_key=api_key,
            base_url=base_url,
            user=user,
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            async_client=async_client,
            workflow_id=workflow_id,
        )
        sync = tool._clients.sync
        tool._describe(sync.get_info(), sync.get_parameters(), name, description, return_direct)
        return tool

    @classmethod
    async def afrom_app(
        cls,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        name: str | None = None,
        description: str | None = None,
        *,
        user: str | None = None,
        timeout: TimeoutLike = None,  # noqa: ASYNC109 - the client's timeouts, not a deadline
        max_retries: int | None = None,
        return_direct: bool = False,
        client: DifyClient | None = None,
        async_client: AsyncDifyClient | None = None,
        workflow_id: str | None = None,
    ) -> DifyWorkflowTool:
        """Async :meth:`from_app` (the two lookups go through the async client)."""
        tool = cls(
            ToolMetadata(description="", name=name),
            api_key=api_key,
            base_url=base_url,
            user=user,
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            async_client=async_client,
            workflow_id=workflow_id,
        )
        aclient = tool._clients.async_
        info = await aclient.get_info()
        parameters = await aclient.get_parameters()
        tool._describe(info, parameters, name, description, return_direct)
        return tool

    def _describe(
        self,
        info: Any,
        parameters: Any,
        name: str | None,
        description: str | None,
        return_direct: bool,
    ) -> None:
        spec = describe_workflow_app(info, parameters, name, description)
        self._fields = spec.fields
        self._schema = fields_to_model(spec.fields, spec.schema_name)
        self._metadata = ToolMetadata(
            description=spec.description,
            name=spec.name,
            fn_schema=self._schema,
            return_direct=return_direct,
        )

    # ------------------------------------------------------------------ the tool

    @property
    def metadata(self) -> ToolMetadata:
        """Name, description and argument schema of the tool."""
        return self._metadata

    @property
    def fields(self) -> list[InputField]:
        """The app's input variables."""
        return list(self._fields)

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        """Run the workflow with these inputs (streaming) and wait for its outputs."""
        inputs = tool_arguments(self._fields, self._schema, args, kwargs)
        name = self._metadata.get_name()
        stream = self._clients.sync.stream_workflow(
            inputs,
            user=self._clients.user,
            workflow_id=getattr(self, "_workflow_id", None),
            trace_id=span_trace_id(),
        )
        try:
            result, _ = fold(stream)
        except StreamError as exc:
            return workflow_tool_output(WorkflowOutcome.from_error(exc), name, inputs, exc)
        return workflow_tool_output(workflow_outcome(result), name, inputs)

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        """Async :meth:`call` on the native async client.

        Run by an agent workflow (``FunctionAgent``, ``AgentWorkflow``), the tool writes a
        :class:`DifyWorkflowProgress` event to the workflow's stream for the run's start
        and for each node as it starts and finishes.
        """
        inputs = tool_arguments(self._fields, self._schema, args, kwargs)
        name = self._metadata.get_name()
        stream = self._clients.async_.stream_workflow(
            inputs,
            user=self._clients.user,
            workflow_id=getattr(self, "_workflow_id", None),
            trace_id=span_trace_id(),
        )
        ctx = _step_context()
        try:
            if ctx is None:
                result, _ = await afold(stream)
            else:
                async with stream:
                    async for event in stream:
                        payload = progress_payload(event)
                        if payload is not None:
                            ctx.write_event_to_stream(_progress_event(name, payload))
                    result = stream.result
        except StreamError as exc:
            return workflow_tool_output(WorkflowOutcome.from_error(exc), name, inputs, exc)
        return workflow_tool_output(workflow_outcome(result), name, inputs)

    def _resume_target(
        self, output: ToolOutput, form_token: str | None
    ) -> tuple[str, str, dict[str, Any]]:
        record = output.raw_output if isinstance(output.raw_output, dict) else {}
        token, run_id = pick_form(
            record.get("human_input"),
            form_token=form_token,
            workflow_run_id=record.get("workflow_run_id"),
        )
        return token, run_id, dict(output.raw_input or {})

    def resume_with_input(
        self,
        output: ToolOutput,
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        form_token: str | None = None,
    ) -> ToolOutput:
        """Answer the form a paused run waits on; the resumed run's output.

        A paused run is not an error: its output says the run waits for a person and its
        ``raw_output`` carries the forms (``human_input``). Pass that output with the
        person's choice: the form is submitted and the resumed run is folded into the
        output a run gives (it may pause again).

        Raises:
            ValueError: ``output`` is not of a paused run (before any request).
            HumanInputFormClosedError: The form was already submitted or has expired.
        """
        token, run_id, raw_input = self._resume_target(output, form_token)
        user = self._clients.user
        client = self._clients.sync
        client.submit_human_input_form(token, action=action, inputs=inputs, user=user)
        name = self._metadata.get_name()
        try:
            result, _ = fold(client.stream_workflow_events(run_id, user=user))
        except StreamError as exc:
            return workflow_tool_output(WorkflowOutcome.from_error(exc), name, raw_input, exc)
        return workflow_tool_output(workflow_outcome(result), name, raw_input)

    async def aresume_with_input(
        self,
        output: ToolOutput,
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        form_token: str | None = None,
    ) -> ToolOutput:
        """Async :meth:`resume_with_input`."""
        token, run_id, raw_input = self._resume_target(output, form_token)
        user = self._clients.user
        client = self._clients.async_
        await client.submit_human_input_form(token, action=action, inputs=inputs, user=user)
        name = self._metadata.get_name()
        try:
            result, _ = await afold(client.stream_workflow_events(run_id, user=user))
        except StreamError as exc:
            return workflow_tool_output(WorkflowOutcome.from_error(exc), name, raw_input, exc)
        return workflow_tool_output(workflow_outcome(result), name, raw_input)

    def close(self) -> None:
        """Close the sync client if this tool created it."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close every client this tool created."""
        await self._clients.aclose()


def _progress_event(tool_name: str, payload: dict[str, Any]) -> DifyWorkflowProgress:
    return DifyWorkflowProgress(
        tool_name=tool_name,
        event=payload["event"],
        title=payload.get("title"),
        status=payload.get("status"),
        data=payload,
    )
