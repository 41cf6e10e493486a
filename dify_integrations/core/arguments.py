"""Constructor arguments: accept true aliases, refuse unknown names with a close match.

A misspelt or foreign argument must never vanish silently: ``ChatDify(api_base=...)``
dropped without a word sends a self-hosted app's key to Dify cloud. Every adapter of both
frameworks runs its keyword arguments through :func:`resolve_arguments` before it uses them:
an alias that means exactly the same thing is renamed to the package's own name, anything
else that is not an argument raises ``TypeError`` naming the closest real argument.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar, cast

__all__ = [
    "FOREIGN_NAMES",
    "LANGCHAIN_ALIASES",
    "LLAMA_INDEX_ALIASES",
    "checked_arguments",
    "field_names",
    "resolve_arguments",
]

LANGCHAIN_ALIASES: Mapping[str, str] = {"request_timeout": "timeout"}
"""Names LangChain integrations use for the same setting (``ChatOpenAI(request_timeout=)``)."""

LLAMA_INDEX_ALIASES: Mapping[str, str] = {
    "request_timeout": "timeout",
    "api_base": "base_url",
    "model": "model_name",
}
"""Names LlamaIndex integrations use for the same setting (``OpenAI(api_base=, model=)``)."""

FOREIGN_NAMES: Mapping[str, tuple[str, ...]] = {
    "api_base": ("base_url",),
    "openai_api_base": ("base_url",),
    "base_path": ("base_url",),
    "endpoint": ("base_url",),
    "url": ("base_url",),
    "host": ("base_url",),
    "api_url": ("base_url",),
    "api_token": ("api_key",),
    "token": ("api_key",),
    "key": ("api_key",),
    "openai_api_key": ("api_key",),
    "model": ("model_name",),
    "model_id": ("model_name",),
    "top_k": ("k", "similarity_top_k"),
    "n_results": ("k", "similarity_top_k"),
    "num_results": ("k", "similarity_top_k"),
    "request_timeout": ("timeout",),
    "timeout_seconds": ("timeout",),
    "retries": ("max_retries",),
    "num_retries": ("max_retries",),
    "user_id": ("user",),
    "end_user": ("user",),
    "dataset": ("dataset_id", "dataset_ids"),
    "knowledge_base_id": ("dataset_id",),
    "index_id": ("dataset_id",),
    "filter": ("metadata_filter", "filters"),
    "system_prompt": ("system_input_key", "system_variable"),
}
"""Names other integrations use, and what the user most likely meant here (for the hint)."""


def _suggestion(name: str, accepted: list[str]) -> str | None:
    for candidate in FOREIGN_NAMES.get(name, ()):
        if candidate in accepted:
            return candidate
    close = difflib.get_close_matches(name, accepted, n=1, cutoff=0.6)
    return close[0] if close else None


def resolve_arguments(
    owner: str,
    given: Mapping[str, Any],
    accepted: Iterable[str],
    aliases: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``given`` with aliases renamed; ``TypeError`` for any name that is not an argument.

    Args:
        owner: The class the arguments are for (named in the error).
        given: The keyword arguments as passed.
        accepted: Every argument name the class takes.
        aliases: Alias -> argument; applied only where the argument is accepted.

    Raises:
        TypeError: For an unknown name (with the closest argument, when one is close), or
            when an alias and its argument are both given.
    """
    names = list(dict.fromkeys(accepted))
    known = set(names)
    out: dict[str, Any] = {}
    for name, value in given.items():
        target = (aliases or {}).get(name)
        if name not in known and target is not None and target in known:
            if target in given:
                raise TypeError(
                    f"{owner} got both {name!r} and {target!r}: they are the same setting; "
                    f"pass only {target!r}"
                )
            out[target] = value
            continue
        if name not in known:
            hint = _suggestion(name, names)
            advice = f"; did you mean {hint!r}?" if hint else f"; see help({owner}) for them"
            raise TypeError(f"{owner} got an unexpected argument {name!r}{advice}")
        out[name] = value
    return out


_P = ParamSpec("_P")
_R = TypeVar("_R")


def checked_arguments(
    aliases: Mapping[str, str] | None = None,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Decorate an ``__init__`` (or a classmethod constructor, under ``@classmethod``) so
    its keyword arguments go through :func:`resolve_arguments`.

    The accepted names are the parameters of the decorated function; the class named in
    errors is the instance's own class (or the class a classmethod is called on).
    """

    def decorate(init: Callable[_P, _R]) -> Callable[_P, _R]:
        params = inspect.signature(init).parameters.values()
        accepted = [
            p.name
            for p in params
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

        @functools.wraps(init)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            first = args[0] if args else None
            owner = (
                first.__name__
                if isinstance(first, type)
                else type(first).__name__
                if args
                else init.__qualname__.split(".")[0]
            )
            resolved = resolve_arguments(owner, kwargs, accepted, aliases)
            return init(*args, **cast(Any, resolved))

        return wrapper

    return decorate


def field_names(fields: Mapping[str, Any]) -> list[str]:
    """Every name a pydantic model accepts: each field's name, alias and validation alias."""
    names: list[str] = []
    for name, info in fields.items():
        names.append(name)
        for alias in (getattr(info, "alias", None), getattr(info, "validation_alias", None)):
            if isinstance(alias, str):
                names.append(alias)
    return names
