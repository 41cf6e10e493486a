"""Dify's ``metadata_condition``: parsing and evaluation of every comparison operator.

Dify sends ``{"logical_operator": "and"|"or", "conditions": [{"name", "comparison_operator",
"value"}]}``. The semantics follow Dify's own knowledge bases, where metadata filters are SQL
over the document's JSON metadata:

* a condition on a field the record does not have is false, except ``empty`` (true);
* string operators (``contains``, ``not contains``, ``start with``, ``end with``, ``is``,
  ``is not``, ``in``, ``not in``) compare the text of the value (``true``/``false`` for
  booleans, ``2024`` for the integer 2024); on a list field, ``contains`` / ``not contains``
  test the list's elements, and ``in`` / ``not in`` match when any / no element is listed;
* numeric operators (``=``, ``≠``, ``>``, ``<``, ``≥``, ``≤``) compare numbers (a field that
  is not a number does not match);
* ``before`` / ``after`` compare instants: unix timestamps (seconds), ISO 8601 strings,
  ``datetime`` or ``date`` values (naive ones are taken as UTC);
* ``empty`` is true for a missing field, ``None``, ``""`` and ``[]``; ``not empty`` is its
  negation.

A request with an unknown operator, a missing ``name``, or a value of the wrong kind for its
operator (a non-number for ``>``, a non-date for ``before``) is refused with a
:class:`ConditionError` (the service answers 400) rather than guessed at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

__all__ = [
    "OPERATORS",
    "Condition",
    "ConditionError",
    "MetadataCondition",
]


class ConditionError(ValueError):
    """A ``metadata_condition`` that cannot be evaluated (the service answers 400)."""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    return None if math.isnan(number) else number


def _instant(value: Any) -> float | None:
    """Seconds since the epoch of a timestamp, ISO 8601 string, datetime or date."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    number = _number(value)
    if number is not None:
        return number
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return _instant(datetime.fromisoformat(text))
        except ValueError:
            return None
    return None


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [_text(v) for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _elements(actual: Any) -> list[Any]:
    return list(actual) if isinstance(actual, list | tuple | set | frozenset) else [actual]


def _contains(actual: Any, expected: Any) -> bool:
    needle = _text(expected)
    return any(needle in _text(item) for item in _elements(actual))


def _numeric(op: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def compare(actual: Any, expected: float) -> bool:
        number = _number(actual)
        return number is not None and op(number, expected)

    return compare


def _temporal(op: Callable[[float, float], bool]) -> Callable[[Any, Any], bool]:
    def compare(actual: Any, expected: float) -> bool:
        moment = _instant(actual)
        return moment is not None and op(moment, expected)

    return compare


# Evaluators receive a present, non-missing field value and the prepared expected value.
_EVALUATORS: dict[str, Callable[[Any, Any], bool]] = {
    "contains": _contains,
    "not contains": lambda a, e: not _contains(a, e),
    "start with": lambda a, e: _text(a).startswith(e),
    "end with": lambda a, e: _text(a).endswith(e),
    "is": lambda a, e: _text(a) == e,
    "is not": lambda a, e: _text(a) != e,
    "in": lambda a, e: any(_text(item) in e for item in _elements(a)),
    "not in": lambda a, e: not any(_text(item) in e for item in _elements(a)),
    "empty": lambda a, e: _is_empty(a),
    "not empty": lambda a, e: not _is_empty(a),
    "=": _numeric(lambda x, y: x == y),
    "≠": _numeric(lambda x, y: x != y),
    ">": _numeric(lambda x, y: x > y),
    "<": _numeric(lambda x, y: x < y),
    "≥": _numeric(lambda x, y: x >= y),
    "≤": _numeric(lambda x, y: x <= y),
    "before": _temporal(lambda x, y: x < y),
    "after": _temporal(lambda x, y: x > y),
}

#: Every ``comparison_operator`` of Dify's External Knowledge API, in the docs' order.
OPERATORS: tuple[str, ...] = tuple(_EVALUATORS)
_STRING_OPS = frozenset({"contains", "not contains", "start with", "end with", "is", "is not"})
_LIST_OPS = frozenset({"in", "not in"})
_NUMERIC_OPS = frozenset({"=", "≠", ">", "<", "≥", "≤"})
_TIME_OPS = frozenset({"before", "after"})


@dataclass(frozen=True)
class Condition:
    """One condition: ``name`` ``comparison_operator`` ``value``."""

    name: str
    comparison_operator: str
    value: Any = None

    @property
    def expected(self) -> Any:
        """The value prepared for comparison (text, list of texts, number or instant)."""
        op, value = self.comparison_operator, self.value
        if op in _STRING_OPS:
            return _text(value)
        if op in _LIST_OPS:
            return _as_list(value)
        if op in _NUMERIC_OPS:
            return _number(value)
        if op in _TIME_OPS:
            return _instant(value)
        return None

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        """Whether a record's metadata satisfies this condition."""
        if self.name not in metadata or metadata[self.name] is None:
            return self.comparison_operator == "empty"
        return _EVALUATORS[self.comparison_operator](metadata[self.name], self.expected)

    @classmethod
    def parse(cls, raw: Any) -> Condition:
        """Validate one item of ``conditions``.

        Raises:
            ConditionError: Not an object, no ``name``, an unknown operator, or a value of
                the wrong kind for its operator.
        """
        if not isinstance(raw, Mapping):
            raise ConditionError("each condition must be an object")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise ConditionError("condition 'name' must be a non-empty string")
        op = raw.get("comparison_operator")
        if op not in _EVALUATORS:
            raise ConditionError(
                f"unsupported comparison_operator {op!r}; supported: {', '.join(OPERATORS)}"
            )
        value = raw.get("value")
        condition = cls(name, str(op), value)
        if op in ("empty", "not empty"):
            return condition
        if value is None:
            raise ConditionError(f"condition {name!r} ({op}) needs a 'value'")
        if op in _NUMERIC_OPS and condition.expected is None:
            raise ConditionError(f"condition {name!r} ({op}) needs a numeric value")
        if op in _TIME_OPS and condition.expected is None:
            raise ConditionError(
                f"condition {name!r} ({op}) needs a unix timestamp or an ISO 8601 date"
            )
        if op in _STRING_OPS and isinstance(value, list | dict):
            raise ConditionError(f"condition {name!r} ({op}) needs a string value")
        return condition


@dataclass(frozen=True)
class MetadataCondition:
    """A parsed ``metadata_condition``: conditions joined by ``and`` or ``or``."""

    conditions: tuple[Condition, ...]
    logical_operator: str = "and"

    def matches(self, metadata: Mapping[str, Any] | None) -> bool:
        """Whether ``metadata`` satisfies the conditions (no conditions: always)."""
        if not self.conditions:
            return True
        meta = metadata or {}
        results = (c.matches(meta) for c in self.conditions)
        return any(results) if self.logical_operator == "or" else all(results)

    @classmethod
    def parse(cls, raw: Any) -> MetadataCondition | None:
        """Validate Dify's ``metadata_condition`` (``None`` stays ``None``).

        Raises:
            ConditionError: Any malformed part (see :meth:`Condition.parse`).
        """
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise ConditionError("'metadata_condition' must be an object")
        logical = raw.get("logical_operator") or "and"
        if logical not in ("and", "or"):
            raise ConditionError("'logical_operator' must be 'and' or 'or'")
        conditions = raw.get("conditions")
        if conditions is None:
            conditions = []
        if not isinstance(conditions, Sequence) or isinstance(conditions, str):
            raise ConditionError("'conditions' must be an array")
        return cls(tuple(Condition.parse(c) for c in conditions), str(logical))
