"""Routes of workflow apps: run, stop, run detail and logs."""

from __future__ import annotations

import json
import time

from aiohttp import web

from ._current import check_workflow_id, run_events
from ._errors import json_response, not_found
from ._generate import Generation, fold_workflow
from ._http import (
    auth_app,
    json_body,
    require_workflow,
    resolve_files,
    user_arg,
    validate_inputs,
    workspace,
)
from ._payloads import WorkflowLogQuery, WorkflowRunPayload, validate
from ._respond import respond
from ._settings import settings
from ._workflow_run import workflow_events
from ._workspace import WorkflowRun, new_id

routes = web.RouteTableDef()


async def _run(request: web.Request, workflow_id: str | None) -> web.StreamResponse:
    app = auth_app(request)
    body = await json_body(request)
    user = user_arg(body.get("user"), required=True)
    require_workflow(app)
    if workflow_id is not None:
        check_workflow_id(app, workflow_id)
    payload = validate(WorkflowRunPayload, body)
    ws = workspace(request)
    conf = settings(request)
    inputs = validate_inputs(app, payload.inputs)
    resolve_files(ws, app, payload.files)
    task_id = new_id()
    run = WorkflowRun(
        id=new_id(),
        app_id=app.id,
        workflow_id=app.workflow_id,
        user=user,
        task_id=task_id,
        inputs=inputs,
        created_at=int(time.time()),
    )
    with ws.lock:
        ws.runs[run.id] = run
    gen = Generation(
        ws=ws,
        app=app,
        task=conf.tasks.start(task_id, app.id, user),
        user=user,
        inputs=inputs,
        token_delay=conf.token_delay if app.token_delay is None else app.token_delay,
        run=run,
    )
    streaming = payload.response_mode == "streaming"
    pauses = any(n.get("node_type") == "human-input" for n in app.nodes)
    events = run_events(ws, gen, workflow_events(gen), pauses=pauses)
    return await respond(request, gen, events, streaming=streaming, fold=fold_workflow)


@routes.post("/v1/workflows/run")
async def workflows_run(request: web.Request) -> web.StreamResponse:
    """``POST /workflows/run``."""
    return await _run(request, None)


@routes.post("/v1/workflows/{workflow_id}/run")
async def workflows_run_version(request: web.Request) -> web.StreamResponse:
    """``POST /workflows/{workflow_id}/run`` (only the app's published workflow exists)."""
    return await _run(request, request.match_info["workflow_id"])


@routes.post("/v1/workflows/tasks/{task_id}/stop")
async def workflows_stop(request: web.Request) -> web.Response:
    """``POST /workflows/tasks/{task_id}/stop`` — always ``{"result": "success"}``."""
    app = auth_app(request)
    body = await json_body(request)
    user_arg(body.get("user"), required=True)
    require_workflow(app)
    task_id = request.match_info["task_id"]
    workspace(request).record_stop(task_id)
    settings(request).tasks.stop(task_id, app.id)  # current builds do not check the user
    return json_response({"result": "success"})


@routes.get("/v1/workflows/run/{workflow_run_id}")
async def workflows_run_detail(request: web.Request) -> web.Response:
    """``GET /workflows/run/{id}`` — ``inputs`` is a JSON-encoded string."""
    app = auth_app(request)
    require_workflow(app, allow_chatflow=True)
    ws = workspace(request)
    with ws.lock:
        run = ws.runs.get(request.match_info["workflow_run_id"])
        if run is None or run.app_id != app.id:
            raise not_found("Workflow run not found.")
        return json_response(
            {
                "id": run.id,
                "workflow_id": run.workflow_id,
                "status": run.status,
                "inputs": json.dumps(run.inputs),
                "outputs": run.outputs if run.outputs is not None else {},
                "error": run.error,
                "total_steps": run.total_steps,
                "total_tokens": run.total_tokens,
                "created_at": run.created_at,
                "finished_at": run.finished_at,
                "elapsed_time": run.elapsed_time,
            }
        )


@routes.get("/v1/workflows/logs")
async def workflows_logs(request: web.Request) -> web.Response:
    """``GET /workflows/logs`` — page/limit pagination, newest first."""
    app = auth_app(request)
    require_workflow(app)
    query = validate(WorkflowLogQuery, dict(request.query))
    ws = workspace(request)
    with ws.lock:
        runs = [r for r in ws.runs.values() if r.app_id == app.id and r.status != "running"]
        if query.status:
            runs = [r for r in runs if r.status == query.status]
        if query.keyword:
            runs = [
                r for r in runs if query.keyword in json.dumps(r.inputs) + json.dumps(r.outputs)
            ]
        runs.sort(key=lambda r: -r.seq)
        total = len(runs)
        page = runs[(query.page - 1) * query.limit : query.page * query.limit]
        data = [
            {
                "id": r.log_id,
                "workflow_run": {
                    "id": r.id,
                    "version": time.strftime(
                        "%Y-%m-%d %H:%M:%S.000000", time.gmtime(app.created_at)
                    ),
                    "status": r.status,
                    "triggered_from": "app-run",
                    "error": r.error,
                    "elapsed_time": r.elapsed_time,
                    "total_tokens": r.total_tokens,
                    "total_steps": r.total_steps,
                    "created_at": r.created_at,
                    "finished_at": r.finished_at,
                    "exceptions_count": 0,
                },
                "details": None,
                "created_from": "service-api",
                "created_by_role": "end_user",
                "created_by_account": None,
                "created_by_end_user": {
                    "id": ws.end_user_id(app.id, r.user),
                    "type": "service_api",
                    "is_anonymous": r.user == "DEFAULT-USER",
                    "session_id": r.user,
                },
                "created_at": r.created_at,
            }
            for r in page
        ]
    return json_response(
        {
            "page": query.page,
            "limit": query.limit,
            "total": total,
            "has_more": query.page * query.limit < total,
            "data": data,
        }
    )
