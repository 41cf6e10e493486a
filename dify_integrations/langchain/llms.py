"""``DifyLLM``: a Dify completion (text generator) app as a LangChain LLM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.llms import BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult

from dify_integrations.langchain._base import DifyModelBase
from dify_integrations.langchain._convert import (
    MODEL_PROVIDER,
    call_trace_id,
    usage_to_metadata,
)
from dify_integrations.langchain._fold import AnswerFolder

__all__ = ["DifyLLM"]


def _text_chunk(text: str) -> GenerationChunk:
    return GenerationChunk(text=text)


class DifyLLM(DifyModelBase, BaseLLM):
    """A Dify completion app (``/completion-messages``) as a LangChain LLM.

    The prompt goes into the app variable ``input_key`` (default ``query``); the other
    variables come from ``inputs``. Calls stream internally and fold the events.

    Setup:
        Set ``DIFY_API_KEY`` to the completion app's key and, for self-hosted Dify,
        ``DIFY_BASE_URL``.

    Key init args:
        - ``api_key``, ``base_url``, ``user``, ``timeout``, ``max_retries``, ``client``, ``async_client``: As for
            ``ChatDify``.
        - ``input_key``: The app variable that receives the prompt (default ``"query"``).
        - ``inputs``: Other app variables, sent with every call (per call: ``inputs=``).
        - ``stop``: Stop sequences, honoured client side (output cut, server task stopped).
        - ``model``: The ``model_name`` to report; by default the app's name, else ``"dify"``.
        - ``temperature``, ``max_tokens``: Accepted, not sent: fixed by the Dify app.

    Instantiate:
        ```python
        from dify_integrations.langchain import DifyLLM

        llm = DifyLLM(api_key="app-...", base_url="http://localhost/v1")
        ```

    Invoke:
        ```python
        text = llm.invoke("Write a tagline for a bakery")
        ```

    Stream:
        ```python
        for token in llm.stream("Write a tagline for a bakery"):
            print(token, end="")
        ```

    Async:
        ```python
        text = await llm.ainvoke("...")
        ```

    Response metadata:
        ``llm.generate([...]).generations[0][0].generation_info`` holds ``model_name``,
        ``message_id``, ``task_id``, ``usage`` (raw), ``retriever_resources`` and
        ``usage_metadata``; ``llm_output["token_usage"]`` sums the token counts.
    """

    input_key: str = "query"
    """The app variable that receives the prompt."""

    _ls_model_type: ClassVar[Literal["chat", "llm"]] = "llm"

    @property
    def _llm_type(self) -> str:
        return "dify-completion"

    # ------------------------------------------------------------------ shared, no I/O

    def _call_args(self, prompt: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if not prompt.strip():
            raise ValueError("the prompt must not be empty")
        inputs = {**self.inputs, **(kwargs.get("inputs") or {}), self.input_key: prompt}
        return {"inputs": inputs, "user": self._resolve_user(kwargs.get("user"))}

    def _final_chunk(self, folder: AnswerFolder, tail: str) -> GenerationChunk:
        info = folder.response_metadata(self._known_model_name())
        info["usage_metadata"] = usage_to_metadata(folder.result.usage)
        return GenerationChunk(text=tail, generation_info=info)

    def _generation(self, folder: AnswerFolder) -> Generation:
        final = self._final_chunk(folder, "")
        return Generation(text=folder.answer, generation_info=final.generation_info)

    def _llm_result(self, generations: list[Generation]) -> LLMResult:
        totals = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        for generation in generations:
            usage = (generation.generation_info or {}).get("usage_metadata") or {}
            for key in totals:
                totals[key] += int(usage.get(key) or 0)
        return LLMResult(
            generations=[[g] for g in generations],
            llm_output={
                "token_usage": totals,
                "model_name": self._known_model_name(),
                "model_provider": MODEL_PROVIDER,
            },
        )

    # ------------------------------------------------------------------ sync

    def _run(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
        folder: AnswerFolder,
    ) -> Iterator[GenerationChunk]:
        args = self._call_args(prompt, kwargs)
        folder.set_stop(stop if stop is not None else self.stop)
        stream = self._get_client().stream_completion(
            **args, trace_id=call_trace_id(run_manager, kwargs)
        )
        yield from self._emit(stream, folder, run_manager, _text_chunk)
        final = self._final_chunk(folder, folder.flush())
        if run_manager and final.text:
            run_manager.on_llm_new_token(final.text, chunk=final)
        yield final

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        yield from self._run(prompt, stop, run_manager, kwargs, AnswerFolder())

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        generations = []
        for prompt in prompts:
            folder = AnswerFolder()
            for _ in self._run(prompt, stop, run_manager, kwargs, folder):
                pass
            generations.append(self._generation(folder))
        return self._llm_result(generations)

    # ------------------------------------------------------------------ async

    async def _arun(
        self,
        prompt: str,
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
        folder: AnswerFolder,
    ) -> AsyncGenerator[GenerationChunk, None]:
        args = self._call_args(prompt, kwargs)
        folder.set_stop(stop if stop is not None else self.stop)
        stream = self._get_async_client().stream_completion(
            **args, trace_id=call_trace_id(run_manager, kwargs)
        )
        async with aclosing(self._aemit(stream, folder, run_manager, _text_chunk)) as chunks:
            async for chunk in chunks:
                yield chunk
        final = self._final_chunk(folder, folder.flush())
        if run_manager and final.text:
            await run_manager.on_llm_new_token(final.text, chunk=final)
        yield final

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        run = self._arun(prompt, stop, run_manager, kwargs, AnswerFolder())
        async with aclosing(run) as chunks:
            async for chunk in chunks:
                yield chunk

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        async def one(prompt: str) -> Generation:
            folder = AnswerFolder()
            async for _ in self._arun(prompt, stop, run_manager, kwargs, folder):
                pass
            return self._generation(folder)

        generations = await asyncio.gather(*(one(p) for p in prompts))
        return self._llm_result(list(generations))
