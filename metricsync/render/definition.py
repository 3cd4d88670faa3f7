"""Definition documents as YAML a person would write: block style with indented lists, short
lists of values and small list items on one line, multi-line text as literal blocks, and
quotes only where YAML 1.2 (as `documents.py` reads it) needs them to keep a value text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from metricsync.documents import plain_scalar

WIDTH = 100  # a short list or list item is written on one line when the line fits
# Characters that may not start a plain scalar, and that may not appear in one inside [ ] or { }.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_FORBIDDEN = frozenset(",[]{}:?#")
# Most names and values: plain in any context, and only true/false/null words can read as
# anything but text (no digit, sign, dot or ~ first). Checked first because it is cheap.
_SIMPLE = re.compile(r"[^\W\d][\w .$/()%+\-]*")
# YAML's printable characters minus those libyaml reads as line breaks (U+0085, U+2028, U+2029)
# and the byte order mark: anything else is escaped inside double quotes.
_UNSAFE = re.compile(
    "[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def render_definition(document: Mapping[str, Any], header: Iterable[str] = ()) -> str:
    """The document as YAML text, after `header` lines written as comments."""
    lines = [f"# {line}" if line else "#" for line in header]
    return "\n".join([*lines, *_mapping(document, 0)]) + "\n"


def _mapping(value: Mapping[str, Any], indent: int) -> list[str]:
    lines: list[str] = []
    for key, item in value.items():
        lines += _entry(f"{' ' * indent}{scalar(str(key))}:", item, indent, item_of_list=False)
    return lines


def _sequence(value: list[Any], indent: int) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for item in value:
        if not isinstance(item, Mapping | list) or not item:
            lines += _entry(f"{pad}-", item, indent, item_of_list=True)
        elif (inline := _inline(item, indent + 2, True)) is not None:
            lines.append(f"{pad}- {inline}")
        else:
            inner = _block(item, indent + 2)
            lines += [f"{pad}- {inner[0][indent + 2 :]}", *inner[1:]]  # first line beside the dash
    return lines


def _entry(head: str, item: Any, indent: int, *, item_of_list: bool) -> list[str]:
    """`head` (a key or a list dash) and its value: on the same line, or on the lines below."""
    if isinstance(item, str) and "\n" in item:
        block = _literal(item, indent + 2)
        if block is not None:
            return [f"{head} {block[0]}", *block[1:]]
    inline = _inline(item, len(head) + 1, item_of_list)
    if inline is not None:
        return [f"{head} {inline}"]
    return [head, *_block(item, indent + 2)]


def _block(value: Mapping[str, Any] | list[Any], indent: int) -> list[str]:
    return _mapping(value, indent) if isinstance(value, Mapping) else _sequence(value, indent)


def _inline(value: Any, used: int, item_of_list: bool) -> str | None:
    """A value on one line: any scalar; a short list of scalars; as a list item, a short
    mapping of scalars and lists of scalars (`- {name: purchase, type: count}`)."""
    if not isinstance(value, Mapping | list):
        return scalar(value)  # multi-line text that no literal block holds is double-quoted
    if isinstance(value, list) and all(_is_scalar(v) for v in value):
        text = "[" + ", ".join(scalar(v, flow=True) for v in value) + "]"
    elif isinstance(value, Mapping) and (item_of_list or not value) and _flat(value):
        pairs = (f"{scalar(str(k), flow=True)}: {_flow(v)}" for k, v in value.items())
        text = "{" + ", ".join(pairs) + "}"
    else:
        return None
    return text if used + len(text) <= WIDTH or not value else None


def _flat(value: Mapping[str, Any]) -> bool:
    """Scalars and lists of scalars only: a mapping that reads well on one line."""
    return all(
        _is_scalar(v) or (isinstance(v, list) and all(_is_scalar(x) for x in v))
        for v in value.values()
    )


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v, flow=True) for v in value) + "]"
    return scalar(value, flow=True)


def _is_scalar(value: Any) -> bool:
    if isinstance(value, str):
        return "\n" not in value
    return value is None or isinstance(value, bool | int | float)


def scalar(value: Any, *, flow: bool = False) -> str:
    """One value as YAML 1.2 text; strings stay plain unless they would read as something else
    (`'0777'`, `'true'`, `''`) or YAML syntax requires quotes (`'>='`, `'a: b'`)."""
    if type(value) is str and _SIMPLE.fullmatch(value) and value[-1] != " ":
        return value if isinstance(plain_scalar(value), str) else f"'{value}'"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    text = str(value)
    if _plain(text, flow):
        return text
    if not _UNSAFE.search(text) and "\n" not in text and "\t" not in text:
        return "'" + text.replace("'", "''") + "'"
    return '"' + "".join(_escape(c) for c in text) + '"'


def _plain(text: str, flow: bool) -> bool:
    if not text or text != text.strip() or text[0] in _INDICATORS or text.startswith(("...", "<<")):
        return False
    if ": " in text or " #" in text or text.endswith(":") or "\t" in text or "\n" in text:
        return False
    if flow and any(c in _FLOW_FORBIDDEN for c in text):
        return False
    return not _UNSAFE.search(text) and isinstance(plain_scalar(text), str)


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if not _UNSAFE.match(char):
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _float(value: float) -> str:
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)  # 0.99, 1e-05, 1e+20: all floats under YAML 1.2


def _literal(text: str, indent: int) -> list[str] | None:
    """A literal block (`|`, `|-`, `|+`) for multi-line text, or None when one cannot hold it
    exactly (leading spaces, lines of only blanks, characters that need escapes)."""
    body = text[:-1] if text.endswith("\n") else text
    lines = body.split("\n")
    first = next((line for line in lines if line), "")
    if not first or first[0] in " \t" or _UNSAFE.search(text) or "\r" in text:
        return None
    if any(line and not line.strip() for line in lines):
        return None
    chomp = "-" if not text.endswith("\n") else "+" if text.endswith("\n\n") else ""
    pad = " " * indent
    return ["|" + chomp, *(pad + line if line else "" for line in lines)]
