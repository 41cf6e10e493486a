"""The package's public surface, and importing it without any framework installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import dify_integrations
import dify_integrations.core

EXPECTED_ALL = {
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AgentNotPublishedError",
    "AppAccessDeniedError",
    "AsyncDifyClient",
    "AsyncDifyKnowledgeClient",
    "AuthenticationError",
    "BadRequestError",
    "ConversationCompletedError",
    "DifyClient",
    "DifyError",
    "DifyKnowledgeClient",
    "IndexingError",
    "IndexingTimeoutError",
    "HumanInputFormClosedError",
    "InternalServerError",
    "Limits",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResponseTooLargeError",
    "StreamDecodeError",
    "StreamError",
    "Timeout",
    "UnsupportedMediaTypeError",
    "__version__",
}


def test_all_is_exactly_the_public_contract() -> None:
    assert set(dify_integrations.__all__) == EXPECTED_ALL
    assert len(dify_integrations.__all__) == len(EXPECTED_ALL)
    for name in dify_integrations.__all__:
        assert hasattr(dify_integrations, name), name
    assert isinstance(dify_integrations.__version__, str)
    assert dify_integrations.__version__


def test_core_all_names_exist() -> None:
    for name in dify_integrations.core.__all__:
        assert hasattr(dify_integrations.core, name), name


def test_imports_without_langchain_or_llama_index() -> None:
    code = textwrap.dedent(
        """
        import importlib.abc, sys

        BLOCKED = ("langchain", "langchain_core", "langsmith", "llama_index")

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked: {name}")
                return None

        for mod in list(sys.modules):
            if mod.split(".")[0] in BLOCKED:
                del sys.modules[mod]
        sys.meta_path.insert(0, Block())
        import dify_integrations
        import dify_integrations.core
        from dify_integrations import DifyClient, AsyncDifyClient
        from dify_integrations.core import operations, sse, events, accumulate, retry, stream
        loaded = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
        assert not loaded, loaded
        print("ok", dify_integrations.__version__)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")
