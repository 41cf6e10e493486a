"""No-I/O framework models used to show what the frameworks themselves cost or keep."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult


class PieceChatModel(BaseChatModel):
    """A LangChain chat model whose `_stream` yields `count` pieces of `size` characters.

    Every piece is a new string (as if it came off the wire) and the model keeps nothing,
    so what `BaseChatModel.stream` costs or keeps per chunk shows through it alone.
    """

    count: int = 1
    size: int = 4

    @property
    def _llm_type(self) -> str:
        return "bench-pieces"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        raise NotImplementedError("stream only")

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        for _ in range(self.count):
            text = "a" * (self.size - 1) + " "
            yield ChatGenerationChunk(message=AIMessageChunk(content=text))
