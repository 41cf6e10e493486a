"""Pickling adapters for worker processes (Ray, Dask, Spark, multiprocessing) without the key.

An adapter's pickle holds its settings and a `KeySource`: *where* the key is found, never
the key. Unpickling re-reads the key on the worker from the named environment variable
(default: the adapter's usual ``DIFY_API_KEY`` / ``DIFY_DATASET_API_KEY``), or from a
secret provider given as an importable function (``"package.module:function"``), and
builds fresh clients, connection pools and locks there. A missing key is a clear
``ValueError`` at load time.

```python
import cloudpickle
from dify_integrations.core.pickling import key_from

chat = key_from(ChatDify(api_key=key, base_url=url), env="SUPPORT_APP_KEY")
blob = cloudpickle.dumps(chat)       # no key inside
# on the worker, with SUPPORT_APP_KEY set:
chat = cloudpickle.loads(blob)
```

The adapters call `portable_items` and `KeySource.resolve` from their
``__getstate__``/``__setstate__``; nothing here knows a framework.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from pydantic import SecretStr

__all__ = [
    "KEY_SOURCE_STATE",
    "KeySource",
    "PicklesWithoutKey",
    "importable",
    "key_from",
    "key_source_of",
    "portable_items",
]

KEY_SOURCE_STATE: Final = "__dify_key_source__"
"""The name under which an adapter's pickled state carries its `KeySource`."""

_ENV_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_T = TypeVar("_T")


def _reference(provider: Callable[[], Any] | str) -> str:
    """``module:qualname`` of an importable provider (refuses lambdas, closures, __main__)."""
    if isinstance(provider, str):
        module, _, name = provider.partition(":")
        if not module or not name:
            raise ValueError(f"secret provider {provider!r}: expected 'package.module:function'")
        return provider
    if not callable(provider):
        raise TypeError("provider must be a callable or a 'package.module:function' string")
    owner = getattr(provider, "__module__", None)
    qualname = getattr(provider, "__qualname__", None)
    if not owner or not qualname or "<" in qualname or owner == "__main__":
        raise ValueError(
            "the secret provider must be a module-level function importable on the worker "
            "(not a lambda, a closure or a function of __main__), so that only its name is "
            "pickled and never a captured key; or pass 'package.module:function'"
        )
    return f"{owner}:{qualname}"


def _load_reference(reference: str) -> Callable[[], Any]:
    module_name, _, qualname = reference.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"secret provider {reference!r} is not callable")
    return target  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where a worker finds the API key: environment variables, or a provider function.

    Attributes:
        env: Environment variables tried in order (``()``: the adapter's default ones).
        provider: ``"package.module:function"`` of a function returning the key (a ``str``
            or ``SecretStr``); tried before ``env`` when set.
    """

    env: tuple[str, ...] = ()
    provider: str | None = None

    @classmethod
    def of(
        cls,
        env: str | Sequence[str] | None = None,
        provider: Callable[[], Any] | str | None = None,
    ) -> KeySource:
        """A checked source from a variable name (or names) and/or a provider."""
        names = (env,) if isinstance(env, str) else tuple(env or ())
        for name in names:
            if not isinstance(name, str) or not _ENV_NAME.match(name):
                raise ValueError(f"not an environment variable name: {name!r}")
        return cls(names, None if provider is None else _reference(provider))

    def resolve(self, default_env: Sequence[str], what: str = "the adapter") -> SecretStr:
        """Read the key now (on the worker).

        Args:
            default_env: Variables to read when this source names none.
            what: The class being loaded, for the error message.

        Raises:
            ValueError: The key is not there (names the variables, never a value).
        """
        if self.provider is not None:
            try:
                value = _load_reference(self.provider)()
            except Exception as exc:
                raise ValueError(
                    f"cannot load {what}: the secret provider {self.provider!r} failed "
                    f"({type(exc).__name__})"
                ) from None
            secret = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not isinstance(secret, str) or not secret:
                raise ValueError(
                    f"cannot load {what}: the secret provider {self.provider!r} returned no key"
                )
            return SecretStr(secret)
        names = self.env or tuple(default_env)
        for name in names:
            value = os.environ.get(name)
            if value:
                return SecretStr(value)
        raise ValueError(
            f"cannot load {what}: its API key is never pickled; set {' or '.join(names)} in "
            "this process (on Ray: runtime_env={'env_vars': {...}}), or give the pickled "
            "object a secret provider with key_from(obj, provider=...)"
        )


def key_source_of(obj: Any) -> KeySource:
    """The `KeySource` set on ``obj`` with `key_from` (default: the adapter's variables)."""
    source = getattr(obj, "_key_source", None)
    return source if isinstance(source, KeySource) else KeySource()


def key_from(
    obj: _T,
    env: str | Sequence[str] | None = None,
    *,
    provider: Callable[[], Any] | str | None = None,
) -> _T:
    """Say where a worker that unpickles ``obj`` finds its API key; returns ``obj``.

    Args:
        obj: An adapter (``ChatDify``, ``DifyLLM``, ``DifyWorkflowTool``,
            ``DifyRetriever``, either framework).
        env: Environment variable (or variables, tried in order) holding the key.
        provider: An importable function returning the key, or its
            ``"package.module:function"`` name; only the name is pickled.

    Raises:
        ValueError: A bad variable name, or a provider that is not importable by name.
        TypeError: ``obj`` cannot carry a key source.
    """
    source = KeySource.of(env, provider)
    try:
        obj._key_source = source  # type: ignore[attr-defined]
    except (AttributeError, ValueError) as exc:
        raise TypeError(f"{type(obj).__name__} does not support key_from()") from exc
    return obj


def importable(obj: Any) -> bool:
    """Whether ``obj`` (a class or function) pickles by reference: found again by its name.

    Classes built at run time (a tool's argument schema made from the app's form) are not:
    their owners pickle what they were built from instead.
    """
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    target: Any = module
    for part in str(getattr(obj, "__qualname__", "<>")).split("."):
        target = getattr(target, part, None)
    return target is obj


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def portable_items(
    items: Mapping[str, Any], drop: Iterable[str], *, owner: str = "object"
) -> dict[str, Any]:
    """``items`` without the names in ``drop`` and without values that cannot be pickled.

    A dropped non-empty value (a callback handler, a lock-holding rate limiter) is named in
    a warning: it is not on the worker.
    """
    dropped = set(drop)
    kept: dict[str, Any] = {}
    lost: list[str] = []
    for name, value in items.items():
        if name in dropped:
            continue
        if _picklable(value):
            kept[name] = value
        elif value:
            lost.append(name)
    if lost:
        warnings.warn(
            f"pickling {owner}: {', '.join(sorted(lost))} cannot be pickled and will be unset "
            "where it is loaded",
            RuntimeWarning,
            stacklevel=3,
        )
    return kept


_CLIENTS_STATE: Final = "__dify_client_settings__"


class PicklesWithoutKey:
    """Mixin for adapters that are plain classes keeping their clients in ``self._clients``
    (any object with a ``.config`` `ClientConfig` and a ``.user``).

    The pickle holds the instance's other attributes (those that pickle), the client
    settings without the key, and the `KeySource`; loading re-reads the key and calls
    `_rebuild_clients`.
    """

    _key_envs: tuple[str, ...] = ("DIFY_API_KEY",)
    _clients: Any

    def __getstate__(self) -> dict[str, Any]:
        """Settings and `KeySource`; never the key, the clients or their locks."""
        state = portable_items(
            self._pickle_state(dict(self.__dict__)),
            ("_clients", "_key_source"),
            owner=type(self).__name__,
        )
        config = self._clients.config
        state[_CLIENTS_STATE] = {
            "base_url": config.base_url,
            "user": self._clients.user,
            "timeout": config.timeout,
            "max_retries": config.max_retries,
        }
        state[KEY_SOURCE_STATE] = key_source_of(self)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Re-read the key where the pickle is loaded and build fresh clients.

        Raises:
            ValueError: The key is not found.
        """
        state = dict(state)
        source: KeySource = state.pop(KEY_SOURCE_STATE, None) or KeySource()
        settings = state.pop(_CLIENTS_STATE)
        api_key = source.resolve(self._key_envs, type(self).__name__)
        self.__dict__.update(state)
        self._key_source = source
        self._rebuild_clients(api_key=api_key, **settings)
        self._unpickled()

    def _pickle_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """Hook: adjust the attributes written to a pickle."""
        return state

    def _unpickled(self) -> None:
        """Hook: finish rebuilding after unpickling."""

    def _rebuild_clients(self, **settings: Any) -> None:
        """Build ``self._clients`` from ``api_key``, ``base_url``, ``user``, ``timeout``,
        ``max_retries``."""
        raise NotImplementedError
