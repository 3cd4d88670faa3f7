"""Query rows as an aligned table, JSON or CSV, written while they arrive: only the first rows
are held, to size the table's columns, so a large result never sits in memory whole."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import Any, TextIO

from metricsync.display import printable

SAMPLE = 200  # rows read before the table's columns and widths are fixed


@dataclass
class Written:
    rows: int = 0
    dropped: dict[str, None] = field(default_factory=dict)  # columns first seen after SAMPLE


def write_rows(rows: Iterable[Any], output_format: str, out: TextIO) -> Written:
    """Writes every row to `out`. Table and CSV columns come from the first SAMPLE rows; a
    column first seen later is not shown there (`dropped` names it; JSON keeps everything)."""
    written = Written()
    if output_format == "json":
        written.rows = _json(iter(rows), out)
        return written
    records = (row if isinstance(row, dict) else {"value": row} for row in rows)
    sample = list(islice(records, SAMPLE))
    columns = list(dict.fromkeys(key for row in sample for key in row))
    rest = chain(sample, _watch(records, columns, written))
    if output_format == "csv":
        written.rows = _csv(columns, rest, out) if sample else 0
    else:
        written.rows = _table(columns, sample, rest, out) if sample else 0
        out.write(f"({written.rows} row{'s' * (written.rows != 1)})\n")
    return written


def _watch(rows: Iterator[dict[str, Any]], columns: list[str], written: Written) -> Iterator[Any]:
    known = set(columns)
    for row in rows:
        written.dropped.update((key, None) for key in row if key not in known)
        yield row


def _json(rows: Iterator[Any], out: TextIO) -> int:
    """A JSON array with one row per line, so it can be read as it is written."""
    count = 0
    for row in rows:
        out.write(("[\n" if count == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "[]\n")
    return count


def _csv(columns: list[str], rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _text(row[c]) for c in columns])
        count += 1
    return count


def _table(
    columns: list[str], sample: list[dict[str, Any]], rows: Iterable[dict[str, Any]], out: TextIO
) -> int:
    """Widths and alignment come from the sample; a longer later value widens only its row."""
    numeric = {
        c: all(_is_number(r.get(c)) for r in sample if r.get(c) is not None) for c in columns
    }
    widths = {c: max([len(c), *(len(_cell(r.get(c))) for r in sample)]) for c in columns}

    def line(cells: dict[str, str]) -> str:
        parts = [
            cells[c].rjust(widths[c]) if numeric[c] else cells[c].ljust(widths[c]) for c in columns
        ]
        return "  ".join(parts).rstrip() + "\n"

    out.write(line({c: c for c in columns}) + line({c: "-" * widths[c] for c in columns}))
    count = 0
    for row in rows:
        out.write(line({c: _cell(row.get(c)) for c in columns}))
        count += 1
    return count


def _cell(value: Any) -> str:
    """One value on one line: null shown as such, line breaks and other controls escaped."""
    if value is None:
        return "null"
    return printable(_text(value))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
