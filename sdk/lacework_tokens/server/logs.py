"""What the server writes to its log, and how: one log line per record, no secret in a path.

- Every value logged goes through ``escape_controls``: a client that puts CR, LF, NUL, an escape
  sequence or a bidirectional override in a request path cannot forge a log line or hide one.
  The formatter escapes every argument of every record (``Multiline`` marks the server's own
  text, such as a traceback, whose line breaks are kept) and indents continuation lines, so a
  new log entry always starts at the beginning of a line and nothing else does.
- ``masked_path`` shows a request path with every token-shaped segment masked, whether or not
  the path matched a route: a token value mistyped into ``/api/v2/agentaccesstokens/<t>`` or
  ``/api/v1/…/<t>`` is as secret as one in a path the server serves.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, Final

from lacework_tokens import wire

__all__ = [
    "MIN_MASKED_SEGMENT_LENGTH",
    "LogFormatter",
    "Multiline",
    "escape_controls",
    "masked_path",
]

# Control characters (Cc: C0, DEL, C1), format characters (Cf: bidirectional overrides and
# isolates, zero-width characters, the BOM), surrogates, and line and paragraph separators.
_ESCAPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Only text outside printable ASCII needs a closer look; most log values have none.
_MAYBE_UNSAFE: Final = re.compile(r"[^\x20-\x7e]")
# Continuation lines of one record are indented by this much.
_CONTINUATION: Final = "\n    "

# The shortest path segment masked: every secret the server mints is longer (API secrets 33
# characters, bearer tokens 43, agent token values 56), and route names are spared below.
MIN_MASKED_SEGMENT_LENGTH: Final = 12


class Multiline(str):
    """The server's own multi-line text (a traceback): its line breaks are kept, indented."""

    __slots__ = ()


def _escape(char: str) -> str:
    if unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control or invisible formatting character written as ``\\xNN`` or
    ``\\uNNNN``; ``keep_newlines`` leaves ``\\n`` as it is."""
    if _MAYBE_UNSAFE.search(text) is None:
        return text
    return "".join(char if keep_newlines and char == "\n" else _escape(char) for char in text)


def masked_path(path: str, literals: Iterable[str] = (), *, also: str | None = None) -> str:
    """``path`` fit for a log: segments of ``MIN_MASKED_SEGMENT_LENGTH`` characters or more are
    masked unless they are one of ``literals`` (the route table's own words), and so is
    ``also`` (a route's path parameter) whatever its length."""
    known = literals if isinstance(literals, frozenset | set) else frozenset(literals)
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if (also and segment == also) or (
            len(segment) >= MIN_MASKED_SEGMENT_LENGTH and segment not in known
        ):
            segments[index] = wire.mask(segment)
    return "/".join(segments)


def _escaped(value: Any) -> Any:
    if isinstance(value, Multiline):
        return Multiline(escape_controls(value, keep_newlines=True))
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, bytes):
        return escape_controls(value.decode("latin-1"))
    if isinstance(value, int | float | bool) or value is None:
        return value
    return escape_controls(str(value))


class LogFormatter(logging.Formatter):
    """Escapes what a record carries and indents continuation lines (see the module doc)."""

    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if isinstance(args, Mapping):
            escaped_args: Any = {key: _escaped(value) for key, value in args.items()}
        elif args:
            escaped_args = tuple(_escaped(value) for value in args)
        else:
            escaped_args = args
        message = record.msg
        safe_message = (
            escape_controls(message, keep_newlines=True) if isinstance(message, str) else message
        )
        original = record.msg, record.args
        record.msg, record.args = safe_message, escaped_args
        try:
            text = super().format(record)
        finally:
            record.msg, record.args = original
        return text.replace("\r", "\\x0d").replace("\n", _CONTINUATION)
