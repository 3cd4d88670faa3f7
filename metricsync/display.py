"""How user and server text is shown: every control character as an escape, so no name,
field or error message can restyle a terminal or forge a line of output or of markup."""

from __future__ import annotations

# Characters that move the cursor, start terminal escape sequences, break lines or reorder text
# (C0, DEL, C1, line and paragraph separators, bidirectional controls): user and server text
# shows them as escapes, so none can restyle a terminal or forge a line of output or markup.
_SPECIAL = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029,
             *range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # fmt: skip
_ESCAPES = {
    code: _SPECIAL.get(chr(code)) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in _CONTROLS
}
_ESCAPES_BUT_NEWLINE = {code: text for code, text in _ESCAPES.items() if code != ord("\n")}


def printable(text: str, *, lines: bool = False) -> str:
    """`text` with every control character shown as an escape (`\\r`, `\\x1b`, `\\u202e`);
    with `lines`, line breaks are kept (text of several lines)."""
    return text.translate(_ESCAPES_BUT_NEWLINE if lines else _ESCAPES)
