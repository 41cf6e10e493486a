"""One user's conversation is never another's: 50 concurrent sessions on shared adapters.

Every session begins with the same exchange ("hi" → "Hello!"), which is exactly what used to
send one session's next message into another session's Dify conversation. Each variant runs
50 sessions of three turns at once, on one shared ``ChatDify`` / ``DifyLLM`` (or one
``DifyChatEngine`` per session), sync and async, with the default user and with a user per
session; then it reads the server's conversation store and request log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from llama_index.core.base.llms.types import ChatMessage, MessageRole

from dify_integrations.langchain import ChatDify
from dify_integrations.llama_index import DifyChatEngine, DifyLLM
from dify_integrations.testing import DifyTestServer

SESSIONS = 50
TURNS = 3


def _responder(
    query: str, inputs: dict[str, Any], history: list[tuple[str, str]], files: Any
) -> str:
    """Every session's first exchange is the same; later answers show what the app saw."""
    if query == "hi":
        return "Hello!"
    return f"Turn {len(history) + 1}: {query}"


@pytest.fixture(scope="module")
def app_key(server: DifyTestServer) -> str:
    return server.create_chat_app("Isolation", responder=_responder).api_key


@pytest.fixture
def log(server: DifyTestServer) -> DifyTestServer:
    server.reset_log()
    return server


def _queries(session: int) -> list[str]:
    return ["hi", *(f"session {session} turn {t}" for t in range(2, TURNS + 1))]


def _user(session: int, per_call: bool) -> str | None:
    return f"user-{session}" if per_call else None


def _check(server: DifyTestServer, finals: dict[int, str], default_user: str) -> None:
    """Each session is alone in its own conversation, holding exactly its own turns."""
    assert len(set(finals.values())) == SESSIONS, "two sessions ended in one conversation"
    conversations = server.workspace.conversations
    for session, conversation_id in finals.items():
        messages = conversations[conversation_id].messages
        assert [m.query for m in messages] == _queries(session)
    owner = {cid: s for s, cid in finals.items()}
    chat_requests = server.requests_to("/chat-messages", "POST")
    assert len(chat_requests) == SESSIONS * TURNS
    for request in chat_requests:
        body = request.body
        named = body.get("conversation_id")
        if named is None:
            assert body["query"] == "hi"
            continue
        # the query of every later turn names its session: it went to that session's conversation
        assert body["query"] == f"session {owner[named]} turn {body['query'].split()[-1]}"
        assert body["user"] in (default_user, f"user-{owner[named]}")


# --------------------------------------------------------------------------- LangChain


def _lc_session(llm: ChatDify, session: int, per_call: bool) -> str:
    history: list[BaseMessage] = []
    kwargs = {"user": _user(session, per_call)} if per_call else {}
    for query in _queries(session):
        history.append(HumanMessage(query))
        history.append(llm.invoke(history, **kwargs))
    return str(history[-1].response_metadata["conversation_id"])


async def _lc_asession(llm: ChatDify, session: int, per_call: bool) -> str:
    history: list[BaseMessage] = []
    kwargs = {"user": _user(session, per_call)} if per_call else {}
    for query in _queries(session):
        history.append(HumanMessage(query))
        history.append(await llm.ainvoke(history, **kwargs))
    return str(history[-1].response_metadata["conversation_id"])


def _run_threads(fn: Callable[[int], str]) -> dict[int, str]:
    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        return dict(zip(range(SESSIONS), pool.map(fn, range(SESSIONS)), strict=True))


async def _run_tasks(fn: Callable[[int], Any]) -> dict[int, str]:
    results = await asyncio.gather(*(fn(s) for s in range(SESSIONS)))
    return dict(zip(range(SESSIONS), results, strict=True))


@pytest.mark.parametrize("per_call", [False, True], ids=["default-user", "per-call-user"])
def test_langchain_sync_sessions_stay_apart(
    log: DifyTestServer, app_key: str, per_call: bool
) -> None:
    llm = ChatDify(api_key=app_key, base_url=log.base_url, user="shared", model="m")
    finals = _run_threads(lambda s: _lc_session(llm, s, per_call))
    _check(log, finals, "shared")


@pytest.mark.parametrize("per_call", [False, True], ids=["default-user", "per-call-user"])
async def test_langchain_async_sessions_stay_apart(
    log: DifyTestServer, app_key: str, per_call: bool
) -> None:
    llm = ChatDify(api_key=app_key, base_url=log.base_url, user="shared", model="m")
    finals = await _run_tasks(lambda s: _lc_asession(llm, s, per_call))
    await llm.aclose()
    _check(log, finals, "shared")


def test_langchain_histories_without_metadata_never_cross(
    log: DifyTestServer, app_key: str
) -> None:
    """Histories kept as bare texts (no response_metadata): the record is the only guide.

    The shared first exchange is ambiguous, so no session may continue through it into
    another session's conversation: each later turn either continues a conversation holding
    only that session's own messages, or starts a new one with its history as context.
    """
    llm = ChatDify(api_key=app_key, base_url=log.base_url, user="shared", model="m")

    def session(s: int) -> list[str]:
        history: list[BaseMessage] = []
        seen: list[str] = []
        for query in _queries(s):
            history.append(HumanMessage(query))
            answer = llm.invoke(history)
            seen.append(str(answer.response_metadata["conversation_id"]))
            history.append(AIMessage(str(answer.content)))  # metadata dropped
        return seen

    with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
        per_session = list(pool.map(session, range(SESSIONS)))
    conversations = log.workspace.conversations
    owners: dict[str, int] = {}
    for s, ids in enumerate(per_session):
        for conversation_id in ids:
            assert owners.setdefault(conversation_id, s) == s, "a conversation served two sessions"
            for message in conversations[conversation_id].messages:
                assert message.query == "hi" or f"session {s} turn" in message.query


# --------------------------------------------------------------------------- LlamaIndex


def _li_session(llm: DifyLLM, session: int, per_call: bool) -> str:
    history: list[ChatMessage] = []
    kwargs = {"user": _user(session, per_call)} if per_call else {}
    for query in _queries(session):
        history.append(ChatMessage(role=MessageRole.USER, content=query))
        history.append(llm.chat(history, **kwargs).message)
    return str(history[-1].additional_kwargs["conversation_id"])


async def _li_asession(llm: DifyLLM, session: int, per_call: bool) -> str:
    history: list[ChatMessage] = []
    kwargs = {"user": _user(session, per_call)} if per_call else {}
    for query in _queries(session):
        history.append(ChatMessage(role=MessageRole.USER, content=query))
        history.append((await llm.achat(history, **kwargs)).message)
    return str(history[-1].additional_kwargs["conversation_id"])


@pytest.mark.parametrize("per_call", [False, True], ids=["default-user", "per-call-user"])
def test_llama_index_llm_sync_sessions_stay_apart(
    log: DifyTestServer, app_key: str, per_call: bool
) -> None:
    llm = DifyLLM(api_key=app_key, base_url=log.base_url, user="shared", app_mode="chat")
    finals = _run_threads(lambda s: _li_session(llm, s, per_call))
    _check(log, finals, "shared")


@pytest.mark.parametrize("per_call", [False, True], ids=["default-user", "per-call-user"])
async def test_llama_index_llm_async_sessions_stay_apart(
    log: DifyTestServer, app_key: str, per_call: bool
) -> None:
    llm = DifyLLM(api_key=app_key, base_url=log.base_url, user="shared", app_mode="chat")
    finals = await _run_tasks(lambda s: _li_asession(llm, s, per_call))
    await llm.aclose()
    _check(log, finals, "shared")


def _engine(server: DifyTestServer, key: str, session: int, per_call: bool) -> DifyChatEngine:
    user = _user(session, per_call) or "shared"
    return DifyChatEngine(key, base_url=server.base_url, user=user)


@pytest.mark.parametrize("per_call", [False, True], ids=["default-user", "per-user"])
def test_chat_engine_per_session_sync(log: DifyTestServer, app_key: str, per_call: bool) -> None:
    def session(s: int) -> str:
        engine = _engine(log, app_key, s, per_call)
        for query in _queries(s):
            engine.chat(query)
        engine.close()
        return str(engine.conversation_id)

    _check(log, _run_threads(session), "shared")


@pytest.mark.parametrize("per_call", [False, True], ids=["default-user", "per-user"])
async def test_chat_engine_per_session_async(
    log: DifyTestServer, app_key: str, per_call: bool
) -> None:
    async def session(s: int) -> str:
        engine = _engine(log, app_key, s, per_call)
        for query in _queries(s):
            await engine.achat(query)
        await engine.aclose()
        return str(engine.conversation_id)

    _check(log, await _run_tasks(session), "shared")


# --------------------------------------------------------------------------- history wins


def test_history_naming_x_continues_x_even_when_the_record_saw_y(
    log: DifyTestServer, app_key: str
) -> None:
    """An instance whose record saw the same texts in conversation Y; the history names X."""
    other = ChatDify(api_key=app_key, base_url=log.base_url, user="shared", model="m")
    first_x = other.invoke([HumanMessage("hi")])
    x = first_x.response_metadata["conversation_id"]
    llm = ChatDify(api_key=app_key, base_url=log.base_url, user="shared", model="m")
    y = llm.invoke([HumanMessage("hi")]).response_metadata["conversation_id"]
    assert x != y
    follow = llm.invoke([HumanMessage("hi"), first_x, HumanMessage("session 0 turn 2")])
    assert follow.response_metadata["conversation_id"] == x
    conversations = log.workspace.conversations
    assert [m.query for m in conversations[x].messages] == ["hi", "session 0 turn 2"]
    assert [m.query for m in conversations[y].messages] == ["hi"]


def test_llama_index_history_naming_x_continues_x(log: DifyTestServer, app_key: str) -> None:
    hi = ChatMessage(role=MessageRole.USER, content="hi")
    other = DifyLLM(api_key=app_key, base_url=log.base_url, user="shared", app_mode="chat")
    lx = other.chat([hi]).message
    x = lx.additional_kwargs["conversation_id"]
    llm = DifyLLM(api_key=app_key, base_url=log.base_url, user="shared", app_mode="chat")
    y = llm.chat([hi]).message.additional_kwargs["conversation_id"]
    assert x != y
    turn2 = ChatMessage(role=MessageRole.USER, content="session 0 turn 2")
    assert llm.chat([hi, lx, turn2]).message.additional_kwargs["conversation_id"] == x
    # the id in ``raw`` counts too
    raw_only = ChatMessage(
        role=MessageRole.ASSISTANT,
        content="Hello!",
        additional_kwargs={"raw": {"conversation_id": y}},
    )
    turn3 = ChatMessage(role=MessageRole.USER, content="session 0 turn 3")
    assert llm.chat([hi, raw_only, turn3]).message.additional_kwargs["conversation_id"] == y
    conversations = log.workspace.conversations
    assert [m.query for m in conversations[x].messages] == ["hi", "session 0 turn 2"]
    assert [m.query for m in conversations[y].messages] == ["hi", "session 0 turn 3"]
