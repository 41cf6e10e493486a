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
    "IngestionError",
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
RESPONSE_MODELS = {
    "AppInfo",
    "AppMeta",
    "AppParameters",
    "ChatMessageResponse",
    "CompletionMessageResponse",
    "Conversation",
    "ConversationList",
    "Dataset",
    "DatasetList",
    "DifyModel",
    "HumanInputRequest",
    "Message",
    "MessageList",
    "MessageMetadata",
    "RetrieveRecord",
    "RetrieveResponse",
    "RetrieverResource",
    "Segment",
    "SegmentDocument",
    "UploadedFile",
    "Usage",
    "WorkflowRunData",
    "WorkflowRunDetail",
    "WorkflowRunResponse",
}
RESPONSE_MODELS |= {
    "AppSite",
    "AudioText",
    "ConversationVariable",
    "ConversationVariableList",
    "Feedback",
    "FeedbackList",
    "HumanInputForm",
    "SuggestedQuestions",
    "WorkflowLog",
    "WorkflowLogList",
    "WorkflowLogRun",
}
EXPECTED_ALL |= RESPONSE_MODELS


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


def test_the_clients_return_types_are_exported() -> None:
    """Every model a public client method returns can be imported from the package root."""
    import inspect

    from dify_integrations.core import app_models, models
    from dify_integrations.core.models import DifyModel

    checked = 0
    for cls in (dify_integrations.DifyClient, dify_integrations.AsyncDifyClient):
        for name, method in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_"):
                continue
            annotation = str(method.__annotations__.get("return", ""))
            returned = getattr(models, annotation, None) or getattr(app_models, annotation, None)
            if isinstance(returned, type) and issubclass(returned, DifyModel):
                checked += 1
                assert returned.__name__ in dify_integrations.__all__, (cls.__name__, name)
                assert getattr(dify_integrations, returned.__name__) is returned
    assert checked > 20


def test_every_module_all_lists_its_public_names() -> None:
    import importlib
    import inspect
    import pkgutil

    for info in pkgutil.walk_packages(dify_integrations.__path__, "dify_integrations."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]) or any(
            framework in info.name for framework in ("langchain", "llama_index", "batch", "ray")
        ):
            continue
        module = importlib.import_module(info.name)
        exported = set(getattr(module, "__all__", ()))
        if not exported:
            continue
        own = {
            n
            for n, o in vars(module).items()
            if not n.startswith("_")
            and (inspect.isclass(o) or inspect.isfunction(o))
            and getattr(o, "__module__", None) == info.name
        }
        assert own <= exported, (info.name, sorted(own - exported))
