"""``DifyWorkflowTool``: a Dify workflow app as a LangChain tool."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.tools import BaseTool, ToolException
from pydantic import Field

from dify_integrations.core.accumulate import StreamResult
from dify_integrations.core.arguments import LANGCHAIN_ALIASES, field_names, resolve_arguments
from dify_integrations.core.async_client import AsyncDifyClient
from dify_integrations.core.client import DifyClient
from dify_integrations.core.config import Timeout
from dify_integrations.core.errors import StreamError
from dify_integrations.core.human_input import pick_form
from dify_integrations.core.input_schema import InputField, fields_to_model, to_dify_inputs
from dify_integrations.core.models import AppInfo, AppParameters
from dify_integrations.core.pickling import importable
from dify_integrations.core.progress import progress_payload
from dify_integrations.core.workflow_tool import describe_workflow_app, workflow_outcome
from dify_integrations.langchain._base import DifyConnection
from dify_integrations.langchain._convert import call_trace_id

__all__ = ["PROGRESS_EVENT", "DifyWorkflowTool"]

PROGRESS_EVENT = "dify_workflow_progress"
"""Name of the custom callback event dispatched for each workflow/node start and finish."""


def _graph_writer() -> Callable[[Any], None] | None:
    """LangGraph's stream writer when the tool runs inside a graph, else ``None``.

    What it writes reaches ``graph.stream(..., stream_mode="custom")``; outside a graph (or
    without LangGraph installed) there is nothing to write to.
    """
    try:
        from langgraph.config import get_stream_writer
    except ImportError:
        return None
    try:
        writer: Callable[[Any], None] = get_stream_writer()
    except (RuntimeError, KeyError):  # not inside a LangGraph run
        return None
    return writer


def _progress_text(payload: dict[str, Any]) -> str:
    if payload["event"] == "workflow_started":
        return "[dify] workflow started\n"
    title = payload.get("title") or payload.get("node_id") or "node"
    if payload["event"] == "node_started":
        return f"[dify] node {title!r} started\n"
    return f"[dify] node {title!r} {payload.get('status') or 'finished'}\n"


def _outcome(result: StreamResult) -> tuple[str, dict[str, Any]]:
    """Tool content and artifact of a finished run; ``ToolException`` for a tool error."""
    outcome = workflow_outcome(result)
    if outcome.is_error:
        raise ToolException(outcome.content)
    return outcome.content, outcome.artifact()


class DifyWorkflowTool(DifyConnection, BaseTool):
    """A Dify workflow app (``/workflows/run``) as a LangChain tool for agents.

    The workflow runs streaming; its node-by-node progress is dispatched as custom
    callback events named ``"dify_workflow_progress"`` (visible in ``astream_events``) and
    as ``on_text`` lines. The tool returns ``(content, artifact)``: content is the single
    text output when there is one, else the outputs as JSON; the artifact holds
    ``outputs``, ``workflow_run_id``, ``task_id``, ``status``, ``elapsed_time``,
    ``total_tokens`` and ``total_steps``. A failed or stopped run (or one whose stream broke
    off with an ``error`` event) raises ``ToolException`` with Dify's error text (set
    ``handle_tool_error=True`` to hand it to the model instead); a ``paused`` run (waiting
    for human input) returns a notice saying so, with ``status="paused"`` in the artifact.
    Each status gives the same outcome as the LlamaIndex tool (see
    :mod:`dify_integrations.core.workflow_tool`).
    Cancelling the call stops the run on the server.

    Setup:
        Set ``DIFY_API_KEY`` to the workflow app's key (or pass ``api_key=``).

    Instantiate:
        From the app itself (name, description and argument schema come from
        ``GET /info`` and ``GET /parameters``):

        ```python
        from dify_integrations.langchain import DifyWorkflowTool

        tool = DifyWorkflowTool.from_app(api_key="app-...", base_url="http://localhost/v1")
        ```

        Or with an explicit schema:

        ```python
        class Args(BaseModel):
            text: str

        tool = DifyWorkflowTool(
            name="translate", description="Translate text", args_schema=Args,
            api_key="app-...",
        )
        ```

    Invoke:
        ```python
        tool.invoke({"text": "bonjour"})            # content only
        tool.invoke({"type": "tool_call", "id": "1", "name": tool.name,
                     "args": {"text": "bonjour"}})   # ToolMessage with artifact
        ```

    Async:
        ``await tool.ainvoke(...)`` runs on the native async client.
    """

    name: str = "dify_workflow"
    description: str = "Run a Dify workflow app with the given inputs and return its outputs."
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"

    inputs: dict[str, Any] = Field(default_factory=dict)
    """Fixed app variables sent with every run (tool arguments override them)."""

    input_fields: list[InputField] = Field(default_factory=list, exclude=True)
    """The app's variables as read from ``/parameters`` (used to build file inputs)."""

    workflow_id: str | None = None
    """Run this published version of the workflow (``POST /workflows/{workflow_id}/run``)
    instead of the latest one; a UUID."""

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "DIFY_API_KEY"}

    def _pickle_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        # An args_schema built from the app's form is a class made at run time: pickle the
        # form and rebuild it on load.
        schema = fields.get("args_schema")
        if self.input_fields and isinstance(schema, type) and not importable(schema):
            fields["args_schema"] = None
            fields["__schema_name__"] = schema.__name__
        return fields

    def _unpickled(self) -> None:
        name = self.__dict__.pop("__schema_name__", None)
        if name is not None:
            self.args_schema = fields_to_model(self.input_fields, name)

    @classmethod
    def _build_from(
        cls,
        tool: DifyWorkflowTool,
        info: AppInfo,
        parameters: AppParameters,
        name: str | None,
        description: str | None,
    ) -> DifyWorkflowTool:
        spec = describe_workflow_app(info, parameters, name, description)
        tool.name = spec.name
        tool.description = spec.description
        tool.args_schema = fields_to_model(spec.fields, spec.schema_name)
        tool.input_fields = spec.fields
        return tool

    @classmethod
    def from_app(
        cls,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        user: str | None = None,
        timeout: float | Timeout | None = None,
        max_retries: int = 2,
        client: DifyClient | None = None,
        async_client: AsyncDifyClient | None = None,
        **kwargs: Any,
    ) -> DifyWorkflowTool:
        """Build the tool from the app's ``/info`` and ``/parameters``.

        Args:
            api_key: The workflow app's key; else ``DIFY_API_KEY``.
            base_url: The Service API root; else ``DIFY_BASE_URL``.
            name: The tool name; default: the app's name, sanitised.
            description: The tool description; default: the app's description.
            user: The Dify end-user id.
            timeout: Client timeout.
            max_retries: Client retries.
            client: An existing sync client.
            async_client: An existing async client.
            **kwargs: Other tool fields (``inputs``, ``handle_tool_error``...).

        Returns:
            The tool, with ``args_schema`` built from the app's ``user_input_form``
            (required fields, defaults, select options as enums).
        """
        extra = resolve_arguments(
            cls.__name__, kwargs, field_names(cls.model_fields), LANGCHAIN_ALIASES
        )
        timeout = extra.pop("timeout", timeout)
        values = cls._unbuilt(api_key, base_url, user, timeout, max_retries, client, async_client)
        tool = cls(**{**values, **extra})
        sync = tool._get_client()
        return cls._build_from(tool, sync.get_info(), sync.get_parameters(), name, description)

    @classmethod
    async def afrom_app(
        cls,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        user: str | None = None,
        timeout: float | Timeout | None = None,  # noqa: ASYNC109 - the client's timeout
        max_retries: int = 2,
        client: DifyClient | None = None,
        async_client: AsyncDifyClient | None = None,
        **kwargs: Any,
    ) -> DifyWorkflowTool:
        """Async :meth:`from_app` (reads the app over the async client)."""
        extra = resolve_arguments(
            cls.__name__, kwargs, field_names(cls.model_fields), LANGCHAIN_ALIASES
        )
        timeout = extra.pop("timeout", timeout)
        values = cls._unbuilt(api_key, base_url, user, timeout, max_retries, client, async_client)
        tool = cls(**{**values, **extra})
        aclient = tool._get_async_client()
        info = await aclient.get_info()
        parameters = await aclient.get_parameters()
        return cls._build_from(tool, info, parameters, name, description)

    @staticmethod
    def _unbuilt(
        api_key: str | None,
        base_url: str | None,
        user: str | None,
        timeout: float | Timeout | None,
        max_retries: int,
        client: DifyClient | None,
        async_client: AsyncDifyClient | None,
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            "user": user,
            "timeout": timeout,
            "max_retries": max_retries,
            "client": client,
            "async_client": async_client,
        }
        if api_key is not None:
            values["api_key"] = api_key
        if base_url is not None:
            values["base_url"] = base_url
        return values

    # ------------------------------------------------------------------ shared, no I/O

    def _run_inputs(self, arguments: dict[str, Any]) -> dict[str, Any]:
        if self.input_fields:
            given = to_dify_inputs(self.input_fields, arguments)
        else:
            given = {k: v for k, v in arguments.items() if v is not None}
        return {**self.inputs, **given}

    def _graph_progress(self, payload: dict[str, Any]) -> dict[str, Any]:
        """What a LangGraph ``stream_mode="custom"`` consumer gets for one progress event."""
        return {"type": PROGRESS_EVENT, "tool": self.name, **payload}

    # ------------------------------------------------------------------ sync

    def _run(
        self,
        run_manager: CallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> tuple[str, dict[str, Any]]:
        inputs = self._run_inputs(kwargs)
        child = run_manager.get_child() if run_manager else None
        writer = _graph_writer()
        try:
            stream = self._get_client().stream_workflow(
                inputs,
                user=self._resolve_user(),
                workflow_id=self.workflow_id,
                trace_id=call_trace_id(run_manager),
            )
            with stream:
                for event in stream:
                    payload = progress_payload(event)
                    if payload is None:
                        continue
                    if writer is not None:
                        writer(self._graph_progress(payload))
                    if run_manager is not None and child is not None:
                        run_manager.on_text(_progress_text(payload))
                        child.on_custom_event(PROGRESS_EVENT, payload, run_id=run_manager.run_id)
        except StreamError as exc:
            raise ToolException(str(exc)) from exc
        return _outcome(stream.result)

    # ------------------------------------------------------------------ async

    async def _arun(
        self,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> tuple[str, dict[str, Any]]:
        inputs = self._run_inputs(kwargs)
        child = run_manager.get_child() if run_manager else None
        client = self._get_async_client()
        writer = _graph_writer()
        try:
            stream = client.stream_workflow(
                inputs,
                user=self._resolve_user(),
                workflow_id=self.workflow_id,
                trace_id=call_trace_id(run_manager),
            )
            async with stream:
                async for event in stream:
                    payload = progress_payload(event)
                    if payload is None:
                        continue
                    if writer is not None:
                        writer(self._graph_progress(payload))
                    if run_manager is not None and child is not None:
                        await run_manager.on_text(_progress_text(payload))
                        await child.on_custom_event(
                            PROGRESS_EVENT, payload, run_id=run_manager.run_id
                        )
        except StreamError as exc:
            raise ToolException(str(exc)) from exc
        return _outcome(stream.result)

    # ------------------------------------------------------------------ human input

    def resume_with_input(
        self,
        artifact: Mapping[str, Any],
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        form_token: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Answer the form a paused run waits on; the resumed run's ``(content, artifact)``.

        A paused run is not an error: the tool returns a notice that the run waits for a
        person, and its artifact carries the forms (``human_input``). Pass that artifact
        with the person's choice: the form is submitted and the run's resumed events are
        folded into the same ``(content, artifact)`` a run gives (a failed run raises
        ``ToolException``; the run may pause again).

        Raises:
            ValueError: ``artifact`` is not of a paused run (before any request).
            HumanInputFormClosedError: The form was already submitted or has expired.
        """
        token, run_id = pick_form(
            artifact.get("human_input"),
            form_token=form_token,
            workflow_run_id=artifact.get("workflow_run_id"),
        )
        user = self._resolve_user()
        client = self._get_client()
        client.submit_human_input_form(token, action=action, inputs=inputs, user=user)
        try:
            with client.stream_workflow_events(run_id, user=user) as stream:
                stream.until_done()
        except StreamError as exc:
            raise ToolException(str(exc)) from exc
        return _outcome(stream.result)

    async def aresume_with_input(
        self,
        artifact: Mapping[str, Any],
        *,
        action: str,
        inputs: Mapping[str, Any] | None = None,
        form_token: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Async :meth:`resume_with_input`."""
        token, run_id = pick_form(
            artifact.get("human_input"),
            form_token=form_token,
            workflow_run_id=artifact.get("workflow_run_id"),
        )
        user = self._resolve_user()
        client = self._get_async_client()
        await client.submit_human_input_form(token, action=action, inputs=inputs, user=user)
        try:
            async with client.stream_workflow_events(run_id, user=user) as stream:
                await stream.until_done()
        except StreamError as exc:
            raise ToolException(str(exc)) from exc
        return _outcome(stream.result)
