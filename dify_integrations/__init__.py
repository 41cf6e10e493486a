"""Dify apps and knowledge bases as first-class LangChain and LlamaIndex components."""
