"""Settings shared by every test: no tracing to LangSmith, no Dify settings from the caller's shell."""

from __future__ import annotations

import os

os.environ["LANGSMITH_TRACING_V2"] = "false"
os.environ["LANGCHAIN_TRACING_V2"] = "false"
os.environ["LANGSMITH_TRACING"] = "false"
for _name in ("DIFY_API_KEY", "DIFY_DATASET_API_KEY", "DIFY_BASE_URL", "DIFY_USER"):
    os.environ.pop(_name, None)
