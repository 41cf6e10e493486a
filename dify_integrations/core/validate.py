"""Input hygiene: API keys, ids, app inputs and upload parts, checked before any request.

Every check raises `ValueError` (or `TypeError` for a wrong type) with a message that names
the argument and what is wrong with it, but never repeats a value that may be secret (the
key) or that may have come from a server (an id read from an event): those messages reach
logs and tracebacks.
"""

from __future__ import annotations

import math
import os
import re
import stat
import unicodedata
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "check_api_key",
    "check_filename",
    "check_json_numbers",
    "check_mime_type",
    "check_regular_file",
    "check_upload_size",
    "path_segment",
    "upload_size_limit",
    "uuid_id",
]

# A Dify key is ``app-``/``dataset-`` plus 24 letters and digits; any printable ASCII
# character other than a space is accepted (gateways issue their own keys), nothing else:
# a space, line break or control character would split or corrupt the header it goes into.
_KEY_CHARS: Final = re.compile(r"[\x21-\x7e]+")
_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
# RFC 9110 ``token`` characters; a media type is ``type/subtype`` plus ``;name=value``
# parameters whose values are tokens or quoted strings without control characters.
_TOKEN: Final = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_MIME: Final = re.compile(
    rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|\"[^\"\\\x00-\x1f\x7f]*\"))*"
)
_MAX_DEPTH: Final = 256


def _describe_char(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def check_api_key(key: str) -> str:
    """Refuse an empty key or one with whitespace or control characters.

    Args:
        key: The key as given (or read from the environment).

    Returns:
        ``key`` unchanged.

    Raises:
        ValueError: If the key is empty or holds a character that is not printable ASCII;
            the message gives the offending character and its position, never the key.
    """
    if not key:
        raise ValueError("api_key is empty")
    if _KEY_CHARS.fullmatch(key):
        return key
    position, ch = next((i, c) for i, c in enumerate(key) if not _KEY_CHARS.fullmatch(c))
    hint = " (a line break or space copied with the key? remove it)" if ch.isspace() else ""
    raise ValueError(
        f"api_key must be printable ASCII without spaces or control characters: it has "
        f"{_describe_char(ch)} at position {position} of {len(key)}{hint}"
    )


def uuid_id(value: Any, name: str) -> str:
    """The canonical (lower-case, hyphenated) form of a UUID id; anything else is refused.

    Only the 8-4-4-4-12 hex form is accepted: braces, ``urn:uuid:``, underscores, missing
    hyphens and surrounding whitespace or line breaks (all of which `uuid.UUID` tolerates)
    are refused, so what is sent is exactly a Dify id.

    Args:
        value: The id.
        name: Argument name, for the error.

    Returns:
        The id in lower case.

    Raises:
        TypeError: If ``value`` is not a string.
        ValueError: If it is not a UUID (the value itself is not repeated).
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    if not _UUID.fullmatch(value):
        raise ValueError(
            f"{name} must be a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx "
            f"(hex digits), got {_shape(value)}"
        )
    return value.lower()


def path_segment(value: Any, name: str) -> str:
    """An id that is not a UUID, checked to stay inside its one URL path segment.

    Args:
        value: The id.
        name: Argument name, for the error.

    Returns:
        ``value`` unchanged (the caller percent-encodes it).

    Raises:
        TypeError: If ``value`` is not a string.
        ValueError: If it is empty, ``.`` or ``..``, or holds a ``/``, ``\\``, whitespace or
            a control character.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, not {type(value).__name__}")
    if value in ("", ".", ".."):
        raise ValueError(f"{name} must be an id, got {_shape(value)}")
    bad = next((c for c in value if c in "/\\?#%" or c.isspace() or not c.isprintable()), None)
    if bad is not None:
        raise ValueError(f"{name} must not contain {_describe_char(bad)}")
    return value


def _shape(value: str) -> str:
    """What a rejected value looks like, without repeating it."""
    if not value:
        return "an empty string"
    if value in (".", ".."):
        return f"{value!r}"
    odd = next((c for c in value if not (c.isalnum() or c == "-")), None)
    detail = f", containing {_describe_char(odd)}" if odd is not None else ""
    return f"a {len(value)}-character string{detail}"


def check_json_numbers(value: Any, name: str) -> None:
    """Refuse NaN and infinities anywhere in ``value``: JSON has no such numbers.

    ``json.dumps`` writes them as ``NaN``/``Infinity``, which Dify (and any strict JSON
    parser) rejects or misreads; the call fails here instead, naming where the number is.

    Args:
        value: A JSON-like value (mappings, lists, tuples, scalars).
        name: Argument name, for the error (``inputs``).

    Raises:
        ValueError: If a float is NaN or infinite, or nesting is deeper than 256 levels.
    """
    stack: list[tuple[Any, str, int]] = [(value, name, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(
                    f"{where} is {item!r}: JSON has no NaN or infinity; send a number, "
                    "a string or null instead"
                )
        elif isinstance(item, Mapping | list | tuple):
            if depth >= _MAX_DEPTH:
                raise ValueError(f"{where} is nested more than {_MAX_DEPTH} levels deep")
            if isinstance(item, Mapping):
                stack.extend((v, f"{where}[{k!r}]", depth + 1) for k, v in item.items())
            else:
                stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(item))


def check_mime_type(mime_type: Any) -> str:
    """A ``type/subtype[; name=value]`` media type, with no line break or control character.

    Raises:
        TypeError: If it is not a string.
        ValueError: If it is not a media type (a CR/LF would inject multipart headers).
    """
    if not isinstance(mime_type, str):
        raise TypeError(f"mime_type must be a string, not {type(mime_type).__name__}")
    if not _MIME.fullmatch(mime_type):
        raise ValueError(
            f"mime_type must be a media type such as 'application/pdf' (no spaces, line "
            f"breaks or control characters), got {mime_type[:80]!r}"
        )
    return mime_type


def check_filename(name: str) -> str:
    """A file name for an upload: no path separators, NUL, line breaks or control characters.

    Raises:
        ValueError: If the name is empty or holds one of those characters.
    """
    if not name.strip():
        raise ValueError("filename must not be empty")
    if "/" in name or "\\" in name:
        raise ValueError(f"filename must not contain path separators: {name!r}")
    bad = next((c for c in name if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")), None)
    if bad is not None:
        raise ValueError(
            f"filename must not contain control characters: it has {_describe_char(bad)}"
        )
    return name


def check_regular_file(st: os.stat_result, what: str) -> None:
    """Refuse anything but a regular file (a device, FIFO or socket never ends).

    Raises:
        ValueError: If ``st`` is not a regular file's status.
    """
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(
            f"{what} is not a regular file (a device, FIFO, socket or directory): only "
            "regular files can be uploaded"
        )


# Dify's FileService sorts uploads by extension into these kinds, each with its own limit
# (``system_parameters`` of ``GET /parameters``, in MB).
_SIZE_LIMIT_KEYS: Final = (
    (frozenset({"jpg", "jpeg", "png", "webp", "gif", "svg"}), "image_file_size_limit"),
    (frozenset({"mp4", "mov", "mpeg", "webm"}), "video_file_size_limit"),
    (frozenset({"mp3", "m4a", "wav", "amr", "mpga"}), "audio_file_size_limit"),
)
_MB: Final = 1024 * 1024


def _limit_key(filename: str | None) -> str:
    extension = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
    return next((key for exts, key in _SIZE_LIMIT_KEYS if extension in exts), "file_size_limit")


def upload_size_limit(
    filename: str | None, system_parameters: Mapping[str, Any] | None
) -> int | None:
    """Dify's size limit in bytes for uploading ``filename``, or ``None`` when not known.

    Args:
        filename: The name sent (its extension picks the kind, as Dify does).
        system_parameters: ``system_parameters`` of the app's ``GET /parameters``.

    Returns:
        The limit in bytes; ``None`` without parameters or without a positive limit.
    """
    if not isinstance(system_parameters, Mapping):
        return None
    value = system_parameters.get(_limit_key(filename))
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    if not math.isfinite(value):
        return None
    return int(value * _MB)


def check_upload_size(filename: str | None, size: int, limit: int | None) -> None:
    """Refuse a file over ``limit`` bytes (Dify would answer 413 after the whole upload).

    Raises:
        ValueError: If ``size`` exceeds ``limit``.
    """
    if limit is not None and size > limit:
        raise ValueError(
            f"file {filename!r} is larger than this Dify app accepts: over "
            f"{limit / _MB:g} MB ({_limit_key(filename)} of the app's /parameters)"
        )
