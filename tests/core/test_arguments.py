"""Constructor arguments: aliases renamed, unknown names refused with the closest argument."""

from __future__ import annotations

import pytest

from dify_integrations.core.arguments import (
    LANGCHAIN_ALIASES,
    LLAMA_INDEX_ALIASES,
    checked_arguments,
    resolve_arguments,
)

ACCEPTED = ["api_key", "base_url", "user", "timeout", "max_retries", "model_name", "k"]


def test_known_names_pass_through_unchanged() -> None:
    given = {"api_key": "app-x", "k": 3}
    assert resolve_arguments("Thing", given, ACCEPTED) == given


@pytest.mark.parametrize(
    ("aliases", "name", "target"),
    [
        (LANGCHAIN_ALIASES, "request_timeout", "timeout"),
        (LLAMA_INDEX_ALIASES, "request_timeout", "timeout"),
        (LLAMA_INDEX_ALIASES, "api_base", "base_url"),
        (LLAMA_INDEX_ALIASES, "model", "model_name"),
    ],
)
def test_an_alias_becomes_the_argument(aliases: dict[str, str], name: str, target: str) -> None:
    assert resolve_arguments("Thing", {name: 7}, ACCEPTED, aliases) == {target: 7}


def test_an_alias_and_its_argument_together_are_refused() -> None:
    with pytest.raises(TypeError, match="both 'request_timeout' and 'timeout'"):
        resolve_arguments(
            "Thing", {"request_timeout": 1, "timeout": 2}, ACCEPTED, LANGCHAIN_ALIASES
        )


def test_an_alias_whose_target_is_not_accepted_is_unknown() -> None:
    with pytest.raises(TypeError, match="unexpected argument 'model'"):
        resolve_arguments("Thing", {"model": "x"}, ["api_key"], LLAMA_INDEX_ALIASES)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("api_base", "base_url"),  # another integration's name
        ("openai_api_base", "base_url"),
        ("top_k", "k"),
        ("model", "model_name"),
        ("base_ur", "base_url"),  # a typo
        ("max_retry", "max_retries"),
        ("usr", "user"),
    ],
)
def test_unknown_names_name_the_close_match(name: str, hint: str) -> None:
    with pytest.raises(TypeError) as info:
        resolve_arguments("Thing", {name: 1}, ACCEPTED)
    assert str(info.value) == f"Thing got an unexpected argument {name!r}; did you mean {hint!r}?"


def test_an_unknown_name_with_nothing_close_points_to_help() -> None:
    with pytest.raises(TypeError, match=r"unexpected argument 'zzz'; see help\(Thing\)"):
        resolve_arguments("Thing", {"zzz": 1}, ACCEPTED)


def test_the_decorator_checks_keywords_against_the_signature() -> None:
    class Engine:
        @checked_arguments(LLAMA_INDEX_ALIASES)
        def __init__(self, api_key: str, *, base_url: str | None = None) -> None:
            self.api_key, self.base_url = api_key, base_url

        @classmethod
        @checked_arguments(LLAMA_INDEX_ALIASES)
        def build(cls, *, base_url: str | None = None) -> Engine:
            return cls("k", base_url=base_url)

    assert Engine("k", api_base="http://x").base_url == "http://x"
    assert Engine.build(api_base="http://y").base_url == "http://y"
    with pytest.raises(TypeError, match="Engine got an unexpected argument 'bas_url'"):
        Engine("k", bas_url="x")
    with pytest.raises(TypeError, match="Engine got an unexpected argument 'api_ky'"):
        Engine.build(api_ky="x")
