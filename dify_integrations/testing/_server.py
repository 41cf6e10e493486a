"""``DifyTestServer``: the aiohttp server in a background thread, and its Python API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal

from aiohttp import web

from . import (
    _external_knowledge,
    _routes_app,
    _routes_chat,
    _routes_conversations,
    _routes_current,
    _routes_datasets,
    _routes_documents,
    _routes_files,
    _routes_workflow,
)
from ._faults import Fault, FaultKind
from ._guard import GuardedSite, GuardLimits, default_max_connections
from ._http import WORKSPACE_KEY
from ._human_input import check_spec as check_human_input
from ._log import LoggedRequest
from ._middleware import dify_middleware
from ._settings import SETTINGS_KEY, Settings, UploadLimits
from ._workflow_run import check_nodes
from ._workspace import (
    INDEXING_STATES,
    App,
    ChatMode,
    Dataset,
    Document,
    Moderation,
    Responder,
    WorkflowHandler,
    Workspace,
    new_id,
    normalize_form,
)


class DifyTestServer:
    """A local Dify-compatible server speaking the real Service API wire protocol.

    It runs an aiohttp server on ``host`` (loopback by default; a free port unless ``port``
    is given) in a background thread with its own event loop. Apps and knowledge bases live
    in memory and are created through this object, from any thread, also while it runs.

    Example:
        ```python
        with DifyTestServer() as server:
            kb = server.create_dataset("Handbook", documents=[{"name": "returns.md",
                "text": "Items can be returned within 30 days."}])
            app = server.create_chat_app("Support", dataset_ids=[kb.id])
            requests.post(f"{server.base_url}/chat-messages",
                          headers={"Authorization": f"Bearer {app.api_key}"},
                          json={"query": "return window?", "inputs": {}, "user": "u1"})
        ```

    Args:
        host: Interface to bind (``127.0.0.1``).
        port: TCP port; ``0`` picks a free one.
        ping_interval: Seconds of silence after which streams send ``event: ping``.
        token_delay: Default seconds to wait before each streamed piece (per-app override).
        upload_limits: Upload size limits and extension blacklist.
        server_version: ``server_version`` reported by ``GET /v1/``.
        chatflow_order: ``"current"`` (Dify today: ``message_end`` before
            ``workflow_finished``) or ``"legacy"`` (older builds: the reverse), so clients
            can be tested on both.
        max_connections: Connections open at once; one more is closed at once. By default
            half the file-descriptor limit, between 64 and 1024.
        header_timeout: Seconds a request's headers may take to arrive (slowloris bound).
        body_timeout: Seconds a request body may stall before the connection is closed.

    Refused and timed-out connections are counted in ``settings.guard_stats``, and a flood
    of them is logged once (logger ``dify_integrations.testing``), not per connection.
    The request log keeps JSON bodies of authenticated requests only, each cut to
    ``settings.log_body_limit`` bytes (64 KiB).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ping_interval: float = 10.0,
        token_delay: float = 0.0,
        upload_limits: UploadLimits | None = None,
        server_version: str = "1.9.1",
        chatflow_order: Literal["current", "legacy"] = "current",
        max_connections: int | None = None,
        header_timeout: float = 10.0,
        body_timeout: float = 30.0,
    ) -> None:
        if chatflow_order not in ("current", "legacy"):
            raise ValueError(
                f"chatflow_order must be 'current' or 'legacy', not {chatflow_order!r}"
            )
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.workspace = Workspace()
        self.settings = Settings(
            ping_interval=ping_interval,
            token_delay=token_delay,
            upload_limits=upload_limits or UploadLimits(),
            server_version=server_version,
            chatflow_order=chatflow_order,
            guard=GuardLimits(
                max_connections=max_connections or default_max_connections(),
                header_timeout=header_timeout,
                body_timeout=body_timeout,
            ),
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[dify_middleware], client_max_size=1024**3)
        app[WORKSPACE_KEY] = self.workspace
        app[SETTINGS_KEY] = self.settings
        for module in (
            _routes_app,
            _routes_chat,
            _routes_workflow,
            _routes_conversations,
            _routes_datasets,
            _routes_files,
            _routes_documents,
            _routes_current,
        ):
            app.add_routes(module.routes)
        return app

    async def _startup(self) -> None:
        self._runner = web.AppRunner(self._make_app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = GuardedSite(
            self._runner,
            self.host,
            self._requested_port,
            limits=self.settings.guard,
            stats=self.settings.guard_stats,
            backlog=2048,
            reuse_address=True,
        )
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])

    async def _shutdown(self) -> None:
        self.settings.tasks.stop_all()
        try:
            if self._runner is not None:
                await self._runner.cleanup()
        finally:
            await _finish_pending_tasks()

    def start(self) -> DifyTestServer:
        """Start serving in a background thread; returns ``self`` once it accepts connections."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:  # surfaced to start()'s caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="DifyTestServer", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            loop.close()
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the server (running generations are stopped) and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()
            self._loop = self._thread = self._runner = None

    def __enter__(self) -> DifyTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:5123``."""
        if self.port is None:
            raise RuntimeError("DifyTestServer is not running; call start() or use `with`")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Service API base URL, ending with ``/v1``."""
        return self.url + "/v1"

    # ------------------------------------------------------------------ settings

    @property
    def ping_interval(self) -> float:
        """Seconds of silence after which streams send a ``ping`` (settable)."""
        return self.settings.ping_interval

    @ping_interval.setter
    def ping_interval(self, value: float) -> None:
        self.settings.ping_interval = value

    @property
    def token_delay(self) -> float:
        """Default seconds before each streamed piece (settable; apps may override)."""
        return self.settings.token_delay

    @token_delay.setter
    def token_delay(self, value: float) -> None:
        self.settings.token_delay = value

    @property
    def upload_limits(self) -> UploadLimits:
        """Upload limits (mutable)."""
        return self.settings.upload_limits

    # ------------------------------------------------------------------ knowledge

    @property
    def dataset_api_key(self) -> str:
        """The workspace's knowledge API key (``dataset-…``)."""
        return self.workspace.dataset_api_keys[0]

    def create_dataset(
        self,
        name: str,
        documents: Iterable[Mapping[str, Any]] = (),
        *,
        description: str | None = None,
        tags: Sequence[str] = (),
        chunk_size: int = 500,
        search_method: str = "semantic_search",
        top_k: int = 4,
        enable_api: bool = True,
    ) -> Dataset:
        """Create a knowledge base.

        Args:
            name: Dataset name.
            documents: ``[{"name": str, "text": str, "metadata": dict}]``; each text is split
                into segments (paragraphs, at most ``chunk_size`` characters).
            description: Dataset description.
            tags: Tag names (listed, filterable with ``tag_ids``).
            chunk_size: Maximum segment length in characters.
            search_method: Saved default ``search_method`` (used when a retrieve request has
                no ``retrieval_model``).
            top_k: Saved default ``top_k``.
            enable_api: ``False`` makes its routes answer 403.

        Returns:
            The ``Dataset`` (``.id``, ``.name``, ``.documents``).
        """
        return self.workspace.create_dataset(
            name,
            list(documents),
            description=description,
            tags=tags,
            chunk_size=chunk_size,
            search_method=search_method,
            top_k=top_k,
            enable_api=enable_api,
        )

    def create_external_dataset(
        self,
        name: str,
        endpoint: str,
        api_key: str,
        external_knowledge_id: str,
        *,
        top_k: int = 4,
        score_threshold: float = 0.5,
        score_threshold_enabled: bool = False,
        description: str | None = None,
        timeout: float = 60.0,
    ) -> Dataset:
        """Connect a knowledge base to an External Knowledge API, as Dify's console does.

        Its retrieval (``/datasets/{id}/retrieve``, chat apps that use it, chatflow and
        workflow knowledge nodes) sends ``POST {endpoint}/retrieval`` the way Dify sends it
        and maps the records the way Dify maps them (see
        ``dify_integrations.testing._external_knowledge``); :attr:`external_calls` lists the
        calls made.

        Args:
            name: Dataset name.
            endpoint: The API Endpoint (``/retrieval`` is appended).
            api_key: The API Key, sent as ``Authorization: Bearer <api_key>``.
            external_knowledge_id: The External Knowledge ID (sent as ``knowledge_id``).
            top_k: Retrieval setting Top K.
            score_threshold: Retrieval setting Score Threshold.
            score_threshold_enabled: Whether the threshold is on (else Dify sends 0.0).
            description: Dataset description.
            timeout: Seconds allowed for one call.

        Returns:
            The ``Dataset`` (``provider`` ``"external"``).
        """
        ext = _external_knowledge.ExternalKnowledge(
            endpoint=endpoint.rstrip("/"),
            api_key=api_key,
            knowledge_id=external_knowledge_id,
            top_k=top_k,
            score_threshold=score_threshold,
            score_threshold_enabled=score_threshold_enabled,
            timeout=timeout,
        )
        return _external_knowledge.create(self.workspace, name, ext, description)

    @property
    def external_calls(self) -> list[Any]:
        """Calls made to External Knowledge APIs (``ExternalCall``: ``url``, ``headers``,
        ``body``, ``status``, ``records``), oldest first."""
        return _external_knowledge.calls(self.workspace)

    def add_document(
        self,
        dataset: Dataset | str,
        name: str,
        text: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> Document:
        """Add a document to a knowledge base (a ``Dataset`` or its id); searchable at once."""
        dataset_id = dataset.id if isinstance(dataset, Dataset) else dataset
        return self.workspace.add_document(dataset_id, name, text, metadata)

    @property
    def indexing_delay(self) -> float:
        """Seconds each indexing state (``waiting`` … ``indexing``) of a document created
        or updated over the API lasts before ``completed`` (settable; 0: at once)."""
        return self.settings.indexing_delay

    @indexing_delay.setter
    def indexing_delay(self, value: float) -> None:
        self.settings.indexing_delay = value

    def fail_indexing(
        self,
        name: str | Callable[[str], bool],
        *,
        at: str = "splitting",
        error: str = "Simulated indexing failure.",
    ) -> None:
        """Make the indexing of documents created (or updated) over the API fail.

        Args:
            name: A document name, or ``match(name) -> bool``.
            at: The state at which indexing turns to ``error`` (``parsing`` … ``indexing``).
            error: The document's ``error`` text.
        """
        if at not in INDEXING_STATES[:-1]:
            raise ValueError(f"at must be one of {INDEXING_STATES[:-1]}, got {at!r}")
        match = name if callable(name) else (lambda n, wanted=name: n == wanted)
        self.settings.indexing_failures.append((match, at, error))

    def clear_indexing_failures(self) -> None:
        """Forget every `fail_indexing` rule."""
        self.settings.indexing_failures.clear()

    # ------------------------------------------------------------------ apps

    def _add(self, app: App) -> App:
        return self.workspace.add_app(app)

    def create_chat_app(
        self,
        name: str,
        mode: ChatMode = "chat",
        dataset_ids: Iterable[str] = (),
        responder: Responder | None = None,
        user_input_form: Iterable[Mapping[str, Any]] | None = None,
        opening_statement: str = "",
        token_delay: float | None = None,
        description: str = "",
        *,
        suggested_questions: Sequence[str] = (),
        show_retrieve_source: bool = True,
        suggested_questions_after_answer: bool = False,
        tags: Sequence[str] = (),
        moderation: Moderation | None = None,
        reasoning: str | None = None,
        human_input: Mapping[str, Any] | None = None,
        agent_published: bool = True,
        conversation_variables: Sequence[Mapping[str, Any]] = (),
    ) -> App:
        """Create a chat-family app (``chat``, ``agent-chat``, ``agent`` or ``advanced-chat``).

        Args:
            name: App name (``/info``).
            mode: ``"chat"``, ``"agent-chat"`` (streaming only; ``agent_thought`` and
                ``agent_message`` events), ``"agent"`` (a New Agent app of current Dify:
                streaming only, ``agent_message`` deltas closed by one ``message`` that
                repeats the whole answer) or ``"advanced-chat"`` (chatflow: workflow and
                node events around the ``message`` deltas).
            dataset_ids: Knowledge bases the app retrieves from before answering.
            responder: ``responder(query, inputs, history, files) -> str | Iterable[str]``
                (also an awaitable or async iterable); ``history`` is the list of
                ``(query, answer)`` of previous turns. It runs on the server's event loop:
                keep it quick and use ``token_delay`` for pacing. Raising ``ValueError``
                ends a stream with an ``invalid_param`` error event (others:
                ``internal_server_error``); chatflows report ``Run failed: …``. Default:
                an extractive answer from the knowledge bases (``You said: <query>`` when
                the app has none).
            user_input_form: Variables in Dify's shape (``[{"text-input": {"label",
                "variable", "required", "max_length", "default"}}, {"select": {...,
                "options"}}, ...]``) or flat (``[{"type": "select", "variable": ...}]``).
            opening_statement: Shown in ``/parameters`` and as conversation ``introduction``.
            token_delay: Seconds before each streamed piece (``None``: server default).
            description: App description (``/info``).
            suggested_questions: ``/parameters`` ``suggested_questions``.
            show_retrieve_source: Report ``retriever_resources`` (citations).
            suggested_questions_after_answer: Enables ``/messages/{id}/suggested``.
            tags: ``/info`` tags.
            moderation: Output moderation, ``moderation(answer) -> str | None``, called on
                the full answer once it has streamed. A string makes the server send a
                ``message_replace`` event (``answer`` = that string, ``reason`` ``""``)
                before ``message_end`` (chatflows: after ``workflow_finished``); the stored
                and the blocking answer are the replacement. ``None`` leaves the answer.
                Raising ends the stream like a failing responder.
            reasoning: Chatflows: the LLM node's reasoning, streamed word by word as
                ``reasoning_chunk`` events before the answer (``reasoning_format:
                separated``).
            human_input: Chatflows: a Human Input node before the LLM node (``title``,
                ``form_content``, ``inputs`` ``[{"type": "paragraph",
                "output_variable_name": ...}]``, ``actions`` ``[{"id", "title"}]``,
                ``timeout`` seconds). The stream pauses there (``human_input_required``,
                ``workflow_paused``); ``POST /form/human_input/{token}`` resumes the run,
                whose events ``GET /workflow/{run_id}/events`` streams. The submitted
                inputs (and ``__action_id``) reach the responder's ``inputs``.
            agent_published: ``agent`` apps: ``False`` answers 400 ``agent_not_published``.
            conversation_variables: Chatflows: variables every conversation starts with,
                ``[{"name", "value_type" ("string", "number", "object", "array[string]"...),
                "value", "description"}]`` (``GET/PUT /conversations/{id}/variables``).

        Returns:
            The ``App`` (``.api_key`` ``app-…``, ``.id``, ``.name``, ``.mode``).
        """
        if mode not in ("chat", "agent-chat", "agent", "advanced-chat"):
            raise ValueError(f"mode must be chat, agent-chat, agent or advanced-chat, not {mode!r}")
        if (reasoning or human_input or conversation_variables) and mode != "advanced-chat":
            raise ValueError("reasoning, human_input and conversation_variables need a chatflow")
        return self._add(
            App(
                id=new_id(),
                name=name,
                mode=mode,
                api_key=Workspace.new_app_key(),
                description=description,
                user_input_form=normalize_form(user_input_form),
                opening_statement=opening_statement,
                suggested_questions=list(suggested_questions),
                dataset_ids=list(dataset_ids),
                responder=responder,
                token_delay=token_delay,
                show_retrieve_source=show_retrieve_source,
                suggested_questions_after_answer=suggested_questions_after_answer,
                tags=list(tags),
                moderation=moderation,
                reasoning=reasoning,
                human_input=check_human_input(human_input) if human_input else None,
                agent_published=agent_published,
                conversation_variables=[
                    {
                        "id": new_id(),
                        "name": str(v["name"]),
                        "value_type": str(v.get("value_type", "string")),
                        "value": v.get("value", ""),
                        "description": str(v.get("description", "")),
                    }
                    for v in conversation_variables
                ],
            )
        )

    def create_completion_app(
        self,
        name: str,
        template: str = "{{query}}",
        user_input_form: Iterable[Mapping[str, Any]] | None = None,
        *,
        responder: Responder | None = None,
        dataset_ids: Iterable[str] = (),
        token_delay: float | None = None,
        description: str = "",
        tags: Sequence[str] = (),
        moderation: Moderation | None = None,
    ) -> App:
        """Create a completion (text generator) app.

        Args:
            name: App name.
            template: The answer: ``{{variable}}`` placeholders rendered over ``inputs``
                (and ``{{query}}``). With a ``responder``, the rendered template is passed
                to it as the query instead.
            user_input_form: As for ``create_chat_app``.
            responder: Optional ``responder(rendered, inputs, [], files)``.
            dataset_ids: Knowledge bases (for ``retriever_resources``).
            token_delay: Seconds before each streamed piece.
            description: App description.
            tags: ``/info`` tags.
            moderation: Output moderation, as for ``create_chat_app``.
        """
        return self._add(
            App(
                id=new_id(),
                name=name,
                mode="completion",
                api_key=Workspace.new_app_key(),
                description=description,
                user_input_form=normalize_form(user_input_form),
                template=template,
                responder=responder,
                dataset_ids=list(dataset_ids),
                token_delay=token_delay,
                tags=list(tags),
                moderation=moderation,
            )
        )

    def create_workflow_app(
        self,
        name: str,
        handler: WorkflowHandler | None,
        description: str = "",
        user_input_form: Iterable[Mapping[str, Any]] | None = None,
        nodes: Sequence[Mapping[str, Any]] | None = None,
        *,
        token_delay: float | None = None,
        tags: Sequence[str] = (),
    ) -> App:
        """Create a workflow app that runs Python callables, one node at a time.

        The run emits ``workflow_started``, a ``node_started``/``node_finished`` pair for
        Start, each node of ``nodes`` and End (iterations emit their own events, below),
        ``text_chunk`` for streamed text, then ``workflow_finished``. The ``values`` flowing
        through the nodes start as the run's ``inputs``; each node's outputs are merged into
        them; the run's ``outputs`` are the last node's outputs.

        Example:
            ```python
            server.create_workflow_app("Triage", None, nodes=[
                {"title": "Classify", "run": lambda v: {"label": "bug"}},
                {"title": "Each item", "node_type": "iteration", "over": "items",
                 "run": lambda v: v["item"].upper(), "output": "upper"},
                {"title": "Answer", "node_type": "llm",
                 "run": lambda v: {"text": f"{v['label']}: {v['upper']}"}},
            ])
            ```

        Args:
            name: App name.
            handler: ``handler(values: dict) -> dict`` of outputs, run in the last node
                unless that node has its own ``run`` (``None``: no handler). It may be a
                generator (sync or async) that yields text pieces (each becomes a
                ``text_chunk``, paced by ``token_delay``) and *returns* the outputs dict
                (default ``{"text": <joined pieces>}``); an ``async def`` is awaited; a
                non-dict result becomes ``{"text": str(result)}``. Raising makes a failed
                run (``node_finished`` and ``workflow_finished`` with status ``failed`` and
                ``error`` = the exception text; no ``error`` event). A stop request ends the
                run with ``workflow_finished`` ``stopped``. It runs on the server's event
                loop: keep it quick.
            description: App description.
            user_input_form: As for ``create_chat_app``.
            nodes: Node specs between Start and End (default one ``code`` node titled
                ``Code``). Keys: ``title``, ``node_type`` (default ``code``), ``node_id``
                (default derived from the app), and

                - ``run``: ``run(values) -> dict`` with the handler's contract (generator,
                  async, failure); its outputs are merged into the values of later nodes
                  and its ``node_finished`` carries real ``inputs``, ``outputs`` and
                  ``elapsed_time``. A node without ``run`` passes its values through
                  (the last one runs ``handler``).
                - ``node_type: "iteration"`` with ``over`` (the name of a list in the
                  values), optional ``run``, ``output`` (default ``"output"``) and
                  ``inner`` (``{"title", "node_type"}`` of the node run per item, default
                  a ``code`` node ``Code``): emits ``iteration_started``, then per item
                  ``node_started``/``node_finished`` of the inner node (with
                  ``iteration_id``; ``run({**values, "item": x, "index": i})`` gives the
                  item's result, the item itself without ``run``) and ``iteration_next``
                  between items, then ``iteration_completed`` with ``outputs`` ``{output:
                  [results]}``, merged into the values. An item that raises fails the
                  inner node, the iteration and the run.
            token_delay: Seconds before each callable runs (per node, per iteration item)
                and before each text chunk.
            tags: ``/info`` tags.

        Raises:
            ValueError: A node spec with unknown keys, a ``run`` that is not callable or an
                iteration without ``over``.
        """
        return self._add(
            App(
                id=new_id(),
                name=name,
                mode="workflow",
                api_key=Workspace.new_app_key(),
                description=description,
                user_input_form=normalize_form(user_input_form),
                handler=handler,
                nodes=check_nodes(_external_knowledge.knowledge_nodes(self.workspace, nodes)),
                token_delay=token_delay,
                tags=list(tags),
            )
        )

    # ------------------------------------------------------------------ faults, log, counters

    def inject_fault(
        self,
        route: str,
        kind: FaultKind = "status",
        *,
        count: int | None = 1,
        method: str | None = None,
        status: int | None = None,
        body: Any = None,
        retry_after: float | str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        after_events: int = 0,
        code: str | None = None,
        message: str | None = None,
        duration: float = 1.0,
        ping_interval: float | None = None,
        frame: bytes | None = None,
        clean: bool = False,
    ) -> Fault:
        """Make the next ``count`` matching requests misbehave.

        Kinds (``route`` without ``/v1``, a template like ``/chat-messages/{task_id}/stop``,
        a concrete path, or an ``fnmatch`` pattern; ``method`` limits it further):

        - ``"status"``: answer ``status`` (default 500) with ``body`` (default: the Dify error
          body for that status, or ``{code, message, status}`` from ``code``/``message``),
          ``Retry-After: retry_after`` if given, and extra ``headers``.
        - ``"delay"``: wait ``delay`` seconds, then answer normally (combines with one
          response fault and one stream fault).
        - ``"drop"``: close the connection before any response byte.
        - ``"drop_after"`` (streams): close the connection after ``after_events`` payload
          events (``clean=True`` ends the chunked body properly instead of aborting).
        - ``"error_event"`` (streams): after ``after_events`` events send an ``error`` event
          (``code``, ``message``, ``status`` default 500 ``internal_server_error``) and end.
        - ``"malformed"`` (streams): after ``after_events`` events send ``frame`` (default an
          unterminated JSON ``data:`` line) and end.
        - ``"stall"`` (streams): after ``after_events`` events send only pings (every
          ``ping_interval``, default the server's) for ``duration`` seconds, then continue.

        Stream kinds match only requests whose JSON body has ``response_mode: streaming``.

        Returns:
            The ``Fault``; its ``fired`` attribute counts how often it applied.
        """
        fault = Fault(
            route=route,
            kind=kind,
            count=count,
            method=method,
            status=status,
            body=body,
            retry_after=retry_after,
            headers=dict(headers or {}),
            delay=delay,
            after_events=after_events,
            code=code,
            message=message,
            duration=duration,
            ping_interval=ping_interval,
            frame=frame,
            clean=clean,
        )
        return self.settings.faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        self.settings.faults.clear()

    @property
    def request_log(self) -> list[LoggedRequest]:
        """Requests received so far (oldest first), without the ``Authorization`` header."""
        return self.settings.log.snapshot()

    def reset_log(self) -> None:
        """Forget the request log."""
        self.settings.log.clear()

    def requests_to(self, route: str, method: str | None = None) -> list[LoggedRequest]:
        """Logged requests whose path (with or without ``/v1``) or route template is ``route``."""
        wanted = route.removeprefix("/v1")
        return [
            r
            for r in self.request_log
            if (method is None or r.method == method.upper())
            and wanted in (r.route, r.path.removeprefix("/v1"))
        ]

    def message_count(self, conversation_id: str) -> int:
        """Messages stored in a conversation (0 for an unknown id)."""
        return self.workspace.message_count(conversation_id)

    def stop_calls(self, task_id: str) -> int:
        """How many stop requests named ``task_id`` (any stop route)."""
        with self.workspace.lock:
            return self.workspace.stop_calls.get(task_id, 0)

    def get_app(self, api_key: str) -> App | None:
        """The app with this key, if any."""
        with self.workspace.lock:
            return self.workspace.apps_by_key.get(api_key)

    def __repr__(self) -> str:
        state = self.base_url if self.port is not None else "stopped"
        return f"DifyTestServer({state})"


_CANCEL_ROUNDS = 3
_CANCEL_WAIT = 5.0  # seconds to wait for the cancelled tasks of one round


async def _finish_pending_tasks() -> None:
    """Cancel and await every other task of the loop (handlers of streams whose client left,
    their ping tasks), so that none is destroyed pending when the loop closes.

    A few rounds, because a cancelled handler may start a last task while it unwinds.
    """
    current = asyncio.current_task()
    for _ in range(_CANCEL_ROUNDS):
        pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not pending:
            return
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=_CANCEL_WAIT)
