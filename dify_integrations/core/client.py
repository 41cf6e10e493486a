"""`DifyClient`: the synchronous Dify client on one pooled `requests.Session`.

A thin I/O loop around the pure core: `operations` builds and validates every request,
`retry` decides what is resent, `errors` maps failures, `stream` decodes and folds events.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import requests
import urllib3.exceptions
from pydantic import SecretStr

from . import operations as ops
from ._fork import track
from .app_methods import AppMethods
from .base_client import BaseClient
from .bodies import blocking_body_as_stream, is_json_response
from .config import DEFAULT_MAX_RETRIES, Limits, TimeoutLike
from .decode import BodyBuffer, BodyDecoder
from .errors import (
    APIConnectionError,
    APITimeoutError,
    DifyError,
    raise_mapped,
)
from .models import (
    AppInfo,
    AppMeta,
    AppParameters,
    ChatMessageResponse,
    CompletionMessageResponse,
    Conversation,
    ConversationList,
    DatasetList,
    MessageList,
    RetrieveResponse,
    UploadedFile,
    WorkflowRunDetail,
    WorkflowRunResponse,
)
from .stream import EventStream

__all__ = ["DifyClient", "map_transport_error"]

T = TypeVar("T")

_CHUNK = 65536
_BEFORE_SEND = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
)


def _not_sent(exc: BaseException) -> bool:
    """Whether a requests ConnectionError happened before the request could be sent."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _BEFORE_SEND):
            return True
        for arg in current.args:
            if isinstance(arg, urllib3.exceptions.MaxRetryError):
                return isinstance(arg.reason, _BEFORE_SEND)
            if isinstance(arg, _BEFORE_SEND):
                return True
        if isinstance(current, urllib3.exceptions.MaxRetryError):
            return isinstance(current.reason, _BEFORE_SEND)
        current = current.__cause__ or current.__context__
    return False


def map_transport_error(exc: BaseException) -> DifyError | None:
    """Map a requests/urllib3/socket exception to `APIConnectionError`/`APITimeoutError`.

    Args:
        exc: Any exception raised while sending or reading.

    Returns:
        The mapped error, or ``None`` when ``exc`` is not a transport error.
    """
    if isinstance(exc, DifyError):
        return None
    if isinstance(exc, requests.ConnectTimeout):
        return APITimeoutError("Timed out connecting to the Dify server.", request_sent=False)
    if isinstance(exc, requests.ReadTimeout | urllib3.exceptions.ReadTimeoutError | socket.timeout):
        return APITimeoutError("Timed out waiting for the Dify server.", request_sent=True)
    if isinstance(exc, requests.ConnectionError):
        sent = not _not_sent(exc)
        what = "Connection lost" if sent else "Could not connect to the Dify server"
        return APIConnectionError(f"{what} ({type(exc).__name__}).", request_sent=sent)
    if isinstance(
        exc, requests.RequestException | urllib3.exceptions.HTTPError | ConnectionError | OSError
    ):
        return APIConnectionError(f"Connection lost ({type(exc).__name__}).", request_sent=True)
    return None


def _read_chunks(response: requests.Response) -> Iterator[bytes]:
    """Yield the raw (still encoded) body bytes as soon as they arrive."""
    raw = response.raw
    read1 = getattr(raw, "read1", None) or raw.read  # read1: urllib3 >= 2.3
    while True:
        data = read1(_CHUNK)
        if not data:
            return
        yield data


def _decoded_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body's bytes as they arrive, with its ``Content-Encoding`` undone (bounded)."""
    decoder = BodyDecoder(response.headers.get("Content-Encoding"))
    if decoder.identity:
        return _read_chunks(response)
    return _inflated(decoder, _read_chunks(response))


def _inflated(decoder: BodyDecoder, chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield from decoder.feed(chunk)
    tail = decoder.flush()
    if tail:
        yield tail


class DifyClient(AppMethods, BaseClient):
    """Synchronous client for the Dify Service API.

    One pooled `requests.Session` serves every call. Proxy, CA-bundle and netrc settings
    from the environment are read once, when the client is built, so calls stay cheap.
    Redirects are never followed, so the ``Authorization`` header only goes to ``base_url``.

    Args:
        api_key: App key (``app-…``) or knowledge key (``dataset-…``); else ``DIFY_API_KEY``.
        base_url: API root; else ``DIFY_BASE_URL``, else ``https://api.dify.ai/v1``.
        user: Default end user for calls that need one; else ``DIFY_USER``.
        timeout: ``None``, seconds (bounding every wait of a call) or a `Timeout`.
        max_retries: Retries after the first attempt (default 2).
        session: An existing `requests.Session` to use (left as configured; not closed).
        verify: TLS verification: ``True``, ``False`` or a CA bundle path.
        env_key: Environment variable read first for the key.
        limits: Size bounds on responses (`Limits`; default 64 MiB a stream frame,
            128 MiB a decoded body).

    After ``os.fork()`` the child's client drops the pooled connections it inherited and
    opens its own (the parent's are left alone).

    Example:
        ```python
        from dify_integrations import DifyClient

        client = DifyClient("app-...", base_url="http://127.0.0.1:5001/v1", user="u1")
        print(client.send_chat_message("Hello").answer)
        ```
    """

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        *,
        user: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int | None = DEFAULT_MAX_RETRIES,
        session: requests.Session | None = None,
        verify: bool | str = True,
        env_key: str = "DIFY_API_KEY",
        limits: Limits | None = None,
        headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
    ) -> None:
        if proxy is not None and session is not None:
            raise ValueError("pass proxy= or a session with its own proxies, not both")
        super().__init__(
            api_key,
            base_url=base_url,
            user=user,
            timeout=timeout,
            max_retries=max_retries,
            env_key=env_key,
            limits=limits,
            headers=headers,
        )
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # Settle proxies / CA bundle from the environment once, then stop requests
            # from re-reading them (and netrc, which would override our Authorization)
            # on every call.
            settings = session.merge_environment_settings(
                self.base_url, {}, None, verify if verify is not True else None, None
            )
            session.proxies.update(settings.get("proxies") or {})
            session.verify = settings.get("verify", verify) if verify is True else verify
            session.trust_env = False
            if proxy is not None:
                session.proxies = {"http": proxy, "https": proxy}
        self._session = session
        timeout_cfg = self._config.timeout
        self._blocking_timeout = (timeout_cfg.connect, timeout_cfg.read)
        self._stream_timeout = (timeout_cfg.connect, timeout_cfg.stream_idle)
        self._stop_timeout = (min(timeout_cfg.connect, timeout_cfg.stop), timeout_cfg.stop)
        track(self)

    def _after_fork(self) -> None:
        """In a forked child: drop the inherited pooled connections (parent untouched)."""
        for adapter in self._session.adapters.values():
            adapter.close()

    @property
    def session(self) -> requests.Session:
        """The pooled `requests.Session`."""
        return self._session

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the pooled connections (only when the client created the session)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> DifyClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _send_once(
        self, op: ops.Operation[Any], timeout: tuple[float, float] | None = None
    ) -> requests.Response:
        url, headers, body = self._prepare(op)
        files: Any = None
        data: Any = body
        if op.multipart is not None:
            part = op.multipart
            files = {"file": (part.filename, part.content, part.mime_type)}
            data = part.fields
        if timeout is None:
            timeout = self._stream_timeout if op.stream else self._blocking_timeout
        try:
            if self._owns_session:
                # Our own session holds no auth or hooks to merge and its environment
                # settings were settled at construction: prepare the request directly and
                # skip Session.request's per-call merging (~60 µs a call). Cookies a
                # gateway set (e.g. load-balancer stickiness) are still sent back.
                jar = self._session.cookies
                prepared = requests.PreparedRequest()
                prepared.prepare(
                    method=op.method,
                    url=url,
                    headers={**self._session.headers, **headers},
                    files=files,
                    data=data,
                    params=op.params,
                    cookies=jar if len(jar) else None,
                )
                response = self._session.send(
                    prepared, timeout=timeout, allow_redirects=False, stream=True
                )
            else:
                response = self._session.request(
                    op.method,
                    url,
                    params=op.params,
                    data=data,
                    files=files,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                    stream=True,
                )
        except Exception as exc:
            raise_mapped(exc, map_transport_error(exc), secret=self._secret)
        status = response.status_code
        self._log(op, status)
        if status >= 300:
            try:
                raw = self._read_body(response)
            except Exception:
                raw = b""
            finally:
                response.close()
            raise self._status_error(status, response.headers, raw)
        return response

    def _read_body(self, response: requests.Response) -> bytes:
        """The whole body, decoded, bounded by ``Limits.max_body_bytes``."""
        buffer = BodyBuffer(
            response.headers.get("Content-Encoding"), self._config.limits.max_body_bytes
        )
        for chunk in _read_chunks(response):
            buffer.add(chunk)
        return buffer.finish()

    def _fetch_once(
        self, op: ops.Operation[Any], timeout: tuple[float, float] | None = None
    ) -> tuple[int, bytes]:
        """One attempt: send ``op`` and read its whole body (a cut body fails the attempt)."""
        response = self._send_once(op, timeout)
        try:
            raw = b"" if op.empty else self._read_body(response)
        except Exception as exc:
            raise_mapped(exc, map_transport_error(exc), secret=self._secret)
        finally:
            response.close()
        return response.status_code, raw

    def _request(self, op: ops.Operation[Any]) -> requests.Response:
        return self._retry.call(self._send_once, op)

    def _call(self, op: ops.Operation[T]) -> T:
        status, raw = self._retry.call(self._fetch_once, op)
        return self._parse_body(op, status, raw)

    def _stop_call(self, op: ops.Operation[Any]) -> Any:
        """A stop call on its own short budget (`Timeout.stop`): one attempt, no retry."""
        status, raw = self._fetch_once(op, self._stop_timeout)
        return self._parse_body(op, status, raw)

    def _open_stream(self, op: ops.Operation[Any]) -> EventStream:
        response = self._request(op)
        try:
            chunks: Iterator[bytes] = _decoded_chunks(response)
            if is_json_response(response.headers.get("Content-Type")):
                chunks = iter([blocking_body_as_stream(self._read_body(response))])
        except Exception as exc:
            response.close()
            raise_mapped(exc, map_transport_error(exc), secret=self._secret)
        return EventStream(
            chunks,
            op=op,
            timeout=self._config.timeout,
            close_transport=response.close,
            run_stop=self._stop_call,
            map_error=map_transport_error,
            secret=self._config.api_key,
            limits=self._config.limits,
        )

    def _send(self, op: ops.Operation[T]) -> T:
        """Blocking mode: the JSON answer; streaming: the stream folded into the same model."""
        if not op.stream:
            return self._call(op)
        with self._open_stream(op) as stream:
            stream.until_done()
        return op.from_stream(stream.result)

    # ------------------------------------------------------------------ chat

    def send_chat_message(
        self,
        query: str,
        *,
        user: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        auto_generate_name: bool | None = None,
        response_mode: ops.ResponseMode = "streaming",
        workflow_id: str | None = None,
        trace_id: str | None = None,
    ) -> ChatMessageResponse:
        """Send a chat message and return the whole answer.

        By default the answer is streamed and folded internally, so long answers do not
        hit gateway timeouts and agent apps (streaming only) work;
        ``response_mode="blocking"`` asks Dify for one JSON answer instead.

        Args:
            query: The user's message.
            user: End user (else the client's default; one of them is required).
            inputs: App variables.
            conversation_id: Continue this conversation.
            files: File objects (see `upload_file`).
            auto_generate_name: Let Dify title a new conversation.
            response_mode: ``streaming`` (fold internally) or ``blocking``.
            workflow_id: Chatflows: run this published workflow version (a UUID).
            trace_id: Sent as ``X-Trace-Id`` to join Dify's trace with the caller's.

        Returns:
            The answer with ids, usage and citations in ``metadata``.
        """
        return self._send(
            ops.chat_message(
                query,
                user=self._user(user),
                inputs=inputs,
                conversation_id=conversation_id,
                files=files,
                auto_generate_name=auto_generate_name,
                response_mode=response_mode,
                workflow_id=workflow_id,
                trace_id=trace_id,
            )
        )

    def stream_chat_message(
        self,
        query: str,
        *,
        user: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        conversation_id: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        auto_generate_name: bool | None = None,
        workflow_id: str | None = None,
        trace_id: str | None = None,
    ) -> EventStream:
        """Send a chat message and stream the answer's events.

        Args:
            query: The user's message.
            user: End user (else the client's default).
            inputs: App variables.
            conversation_id: Continue this conversation.
            files: File objects.
            auto_generate_name: Let Dify title a new conversation.
            workflow_id: Chatflows: run this published workflow version (a UUID).
            trace_id: Sent as ``X-Trace-Id`` to join Dify's trace with the caller's.

        Returns:
            An open `EventStream` (use it in a ``with`` block).
        """
        return self._open_stream(
            ops.chat_message(
                query,
                user=self._user(user),
                inputs=inputs,
                conversation_id=conversation_id,
                files=files,
                auto_generate_name=auto_generate_name,
                workflow_id=workflow_id,
                trace_id=trace_id,
            )
        )

    def stop_chat_message(self, task_id: str, *, user: str | None = None) -> dict[str, Any]:
        """Stop a streaming chat generation (``{"result": "success"}``)."""
        return self._call(ops.stop_task("chat", task_id, user=self._user(user)))

    # ------------------------------------------------------------------ completion

    def send_completion(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        query: str | None = None,
        user: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        response_mode: ops.ResponseMode = "streaming",
        trace_id: str | None = None,
    ) -> CompletionMessageResponse:
        """Run a completion app and return the whole answer (streamed and folded by default).

        Args:
            inputs: App variables.
            query: Optional query text.
            user: End user (else the client's default).
            files: File objects.
            response_mode: ``streaming`` (fold internally) or ``blocking``.
            trace_id: Sent as ``X-Trace-Id`` to join Dify's trace with the caller's.

        Returns:
            The answer, with usage in ``metadata``.
        """
        return self._send(
            ops.completion_message(
                inputs,
                query=query,
                user=self._user(user),
                files=files,
                response_mode=response_mode,
                trace_id=trace_id,
            )
        )

    def stream_completion(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        query: str | None = None,
        user: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        trace_id: str | None = None,
    ) -> EventStream:
        """Run a completion app and stream its events."""
        return self._open_stream(
            ops.completion_message(
                inputs, query=query, user=self._user(user), files=files, trace_id=trace_id
            )
        )

    def stop_completion(self, task_id: str, *, user: str | None = None) -> dict[str, Any]:
        """Stop a streaming completion (``{"result": "success"}``)."""
        return self._call(ops.stop_task("completion", task_id, user=self._user(user)))

    # ------------------------------------------------------------------ workflow

    def run_workflow(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        user: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        response_mode: ops.ResponseMode = "streaming",
        workflow_id: str | None = None,
        trace_id: str | None = None,
    ) -> WorkflowRunResponse:
        """Run a workflow app and return its result (streamed and folded by default).

        A run that fails inside the graph is returned with ``status == "failed"`` (as Dify's
        blocking mode does), not raised.

        Args:
            inputs: Workflow inputs.
            user: End user (else the client's default).
            files: File objects.
            response_mode: ``streaming`` (fold internally) or ``blocking``.
            workflow_id: Run this published version (``POST /workflows/{workflow_id}/run``).
            trace_id: Sent as ``X-Trace-Id`` to join Dify's trace with the caller's.

        Returns:
            The run: ``workflow_run_id``, ``data.status``, ``data.outputs``...
        """
        return self._send(
            ops.run_workflow(
                inputs,
                user=self._user(user),
                files=files,
                response_mode=response_mode,
                workflow_id=workflow_id,
                trace_id=trace_id,
            )
        )

    def stream_workflow(
        self,
        inputs: Mapping[str, Any] | None = None,
        *,
        user: str | None = None,
        files: Sequence[Mapping[str, Any]] | None = None,
        workflow_id: str | None = None,
        trace_id: str | None = None,
    ) -> EventStream:
        """Run a workflow app and stream its events."""
        return self._open_stream(
            ops.run_workflow(
                inputs,
                user=self._user(user),
                files=files,
                workflow_id=workflow_id,
                trace_id=trace_id,
            )
        )

    def stop_workflow(self, task_id: str, *, user: str | None = None) -> dict[str, Any]:
        """Stop a running workflow (``POST /workflows/tasks/{task_id}/stop``)."""
        return self._call(ops.stop_task("workflow", task_id, user=self._user(user)))

    def get_workflow_run(self, workflow_run_id: str) -> WorkflowRunDetail:
        """Details of a workflow run (``inputs`` decoded from Dify's JSON string)."""
        return self._call(ops.get_workflow_run(workflow_run_id))

    # ------------------------------------------------------------------ conversations

    def list_conversations(
        self,
        *,
        user: str | None = None,
        last_id: str | None = None,
        limit: int = 20,
        sort_by: str | None = None,
    ) -> ConversationList:
        """One page of the user's conversations."""
        return self._call(
            ops.list_conversations(
                user=self._user(user), last_id=last_id, limit=limit, sort_by=sort_by
            )
        )

    def delete_conversation(self, conversation_id: str, *, user: str | None = None) -> None:
        """Delete a conversation (Dify answers 204 with no body)."""
        self._call(ops.delete_conversation(conversation_id, user=self._user(user)))

    def rename_conversation(
        self,
        conversation_id: str,
        name: str | None = None,
        *,
        auto_generate: bool = False,
        user: str | None = None,
    ) -> Conversation:
        """Rename a conversation (or let Dify generate a name)."""
        return self._call(
            ops.rename_conversation(
                conversation_id, name, auto_generate=auto_generate, user=self._user(user)
            )
        )

    def list_messages(
        self,
        conversation_id: str,
        *,
        user: str | None = None,
        first_id: str | None = None,
        limit: int = 20,
    ) -> MessageList:
        """One page of a conversation's messages (oldest to newest)."""
        return self._call(
            ops.list_messages(
                conversation_id, user=self._user(user), first_id=first_id, limit=limit
            )
        )

    # ------------------------------------------------------------------ knowledge

    def list_datasets(
        self, *, page: int = 1, limit: int = 20, keyword: str | None = None
    ) -> DatasetList:
        """One page of knowledge bases (needs a knowledge key)."""
        return self._call(ops.list_datasets(page=page, limit=limit, keyword=keyword))

    def retrieve(
        self,
        dataset_id: str,
        query: str,
        *,
        retrieval_model: Mapping[str, Any] | None = None,
    ) -> RetrieveResponse:
        """Search a knowledge base (needs a knowledge key)."""
        return self._call(ops.retrieve(dataset_id, query, retrieval_model=retrieval_model))

    # ------------------------------------------------------------------ files and app

    def upload_file(
        self,
        file: ops.FileInput,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        user: str | None = None,
    ) -> UploadedFile:
        """Upload a file (path, bytes or binary file object); use ``.id`` in ``files``.

        A file over the app's size limit for its kind (``system_parameters`` of
        ``GET /parameters``, fetched once per client and kept) is refused with
        `ValueError` before it is sent; when ``/parameters`` cannot be read, the server's
        own check (HTTP 413) still applies.
        """
        ops.check_upload(file, filename=filename, mime_type=mime_type)
        if not self._system_parameters_known:
            try:
                self.get_parameters()
            except (DifyError, ValueError) as exc:
                self._parameters_unavailable(exc)
        return self._call(
            ops.upload_file(
                file,
                filename=filename,
                mime_type=mime_type,
                user=self._user(user),
                system_parameters=self._system_parameters,
            )
        )

    def get_parameters(self) -> AppParameters:
        """The app's input form, opening statement and feature settings."""
        parameters: AppParameters = self._remember_parameters(self._call(ops.get_parameters()))
        return parameters

    def get_info(self) -> AppInfo:
        """The app's name, description and mode."""
        return self._call(ops.get_info())

    def get_meta(self) -> AppMeta:
        """The app's tool icons."""
        return self._call(ops.get_meta())
