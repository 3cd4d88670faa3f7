"""Reads YAML files into plain JSON-like documents (YAML 1.2 scalars) and finds where a field sits.

libyaml composes the node tree in C and our small walk builds the values, about twice as fast as
PyYAML's own constructor. Positions are not kept: `Locator` composes a file again on demand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from metricsync.problems import Problem, Severity, pointer_of

try:
    from yaml._yaml import CParser as _Composer
except ImportError:  # pragma: no cover - PyYAML's wheels bundle libyaml; 9x slower without it
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Composer(Reader, Scanner, Parser, Composer):  # type: ignore[no-redef]
        def __init__(self, stream: bytes) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)


TAG = "tag:yaml.org,2002:"
PLAIN, STR, SEQ, MAP = "plain", TAG + "str", TAG + "seq", TAG + "map"
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
# The YAML 1.2 core schema: only these words are not text, so yes, no, on, off and NO stay text.
_WORDS: dict[str, Any] = {"~": None, "": None, **dict.fromkeys(("null", "Null", "NULL"))}
_WORDS.update(dict.fromkeys(("true", "True", "TRUE"), True))
_WORDS.update(dict.fromkeys(("false", "False", "FALSE"), False))
_MAYBE_NOT_TEXT = frozenset(["", *"-+.0123456789tTfFnN~"])  # first characters worth a look
MAX_ALIASED_VALUES = 100_000  # a document using aliases may expand to this many values at most
MAX_FLOW_DEPTH = 1_000  # libyaml nests in C recursion and crashes the process near 30,000 levels
_BRACKETS = re.compile(rb"[\[\]{}]")
TOO_DEEP = "the YAML is nested too deeply to read"
_BUILDING = object()
_TAGGED = {"str": str, "int": int, "float": float, "bool": bool, "null": type(None)}
MAX_INTEGER_BITS = 14_000  # about 4,200 digits: Python prints no integer past 4,300 digits


class _TooLong:
    """What an integer too long to print reads as: neither text nor a number."""


TOO_LONG = _TooLong()
TOO_LONG_MESSAGE = (
    "this integer is too long (over 4,000 digits); no platform can hold it (quote it for text)"
)


class _Parser(_Composer):
    """libyaml's composer with a resolver that only tells plain scalars from the rest."""

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return PLAIN if implicit[0] else STR
        return MAP if kind is MappingNode else SEQ

    def descend_resolver(self, parent: Any, index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


def plain_scalar(text: str) -> Any:
    """The value of an unquoted scalar under the YAML 1.2 core schema (TOO_LONG for an integer
    too long to be printed again)."""
    if text in _WORDS:
        return _WORDS[text]
    if _INT.match(text):
        try:
            if text[:2] in ("0o", "0x"):
                number = int(text[2:], 8 if text[1] == "o" else 16)
            else:
                number = int(text, 10)  # 0777 is 777: YAML 1.2 has no implicit octal
        except ValueError:  # past Python's limit on digits read
            return TOO_LONG
        return number if number.bit_length() <= MAX_INTEGER_BITS else TOO_LONG
    if _FLOAT.match(text):
        lowered = text.lower()
        if lowered.endswith((".inf", ".nan")):
            return float(lowered.replace(".", ""))
        return float(text)
    return text


class _Builder:
    """Turns one document's nodes into dicts, lists and scalars; notes what YAML lets slip."""

    def __init__(self) -> None:
        self.notes: list[tuple[Mark, str]] = []
        self.non_finite = False  # a .nan or .inf was read: the caller finds where (non_finite)
        self._built: dict[int, Any] = {}
        self._aliased = False

    def document(self, node: Node) -> Any:
        self._built, self._aliased = {}, False
        data = self.value(node)
        if self._aliased and _expanded_size(data) > MAX_ALIASED_VALUES:
            message = f"aliases expand this document to more than {MAX_ALIASED_VALUES:,} values"
            raise ConstructorError(None, None, message, node.start_mark)
        return data

    def value(self, node: Node) -> Any:
        if node.__class__ is ScalarNode:
            tag, text = node.tag, node.value
            if tag is PLAIN:
                return self._plain(node) if text[:1] in _MAYBE_NOT_TEXT else text
            return text if tag is STR else self._tagged(node)
        done = self._built.get(id(node))
        if done is not None:  # an alias: share the value, as YAML means
            if done is _BUILDING:
                raise ConstructorError(None, None, "an alias refers to itself", node.start_mark)
            self._aliased = True
            return done
        self._built[id(node)] = _BUILDING
        if node.tag not in (MAP, SEQ):
            self.notes.append((node.start_mark, _unsupported(node.tag)))
        result = self._mapping(node) if node.__class__ is MappingNode else self._sequence(node)
        self._built[id(node)] = result
        return result

    def _plain(self, node: Node) -> Any:
        value = plain_scalar(node.value)
        if value.__class__ is float and not math.isfinite(value):
            self.non_finite = True
        elif value is TOO_LONG:
            self.notes.append((node.start_mark, TOO_LONG_MESSAGE))
            return node.value
        return value

    def _tagged(self, node: Node) -> Any:
        """A scalar with an explicit tag (`!!str 10`, `!!int "5"`); tags beyond JSON's are noted."""
        tag, text = node.tag, node.value
        kind = _TAGGED.get(tag.removeprefix(TAG)) if tag.startswith(TAG) else None
        if kind is None:
            self.notes.append((node.start_mark, _unsupported(tag)))
            return text
        value = text if kind is str else plain_scalar(text)
        if value is TOO_LONG:
            self.notes.append((node.start_mark, TOO_LONG_MESSAGE))
            return text
        if value.__class__ is float and not math.isfinite(value):
            self.non_finite = True
        if kind is float and type(value) is int:
            return float(value)
        if type(value) is not kind:
            self.notes.append((node.start_mark, f"{text!r} is not a valid {_short(tag)}"))
            return text
        return value

    def _sequence(self, node: Node) -> list[Any]:
        return [self.value(item) for item in node.value]

    def _mapping(self, node: Node) -> dict[str, Any]:
        pairs = node.value
        try:  # keys are text, as in JSON: `1:` and `yes:` are the keys "1" and "yes"
            result = {key.value: self.value(value) for key, value in pairs}
        except TypeError:
            key = next(k for k, _ in pairs if not isinstance(k, ScalarNode))
            message = "a mapping key must be a single value, not a list or mapping"
            raise ConstructorError(None, None, message, key.start_mark) from None
        if len(result) < len(pairs):
            self._note_duplicates(pairs)
        if "<<" in result:
            key = next(k for k, _ in pairs if k.value == "<<")
            self.notes.append((key.start_mark, "merge keys (<<) are not YAML 1.2; write keys out"))
        return result

    def _note_duplicates(self, pairs: list[tuple[Node, Node]]) -> None:
        first: dict[str, int] = {}
        for key, _ in pairs:
            if key.value in first:
                message = f"duplicate key {key.value!r}: already set on line {first[key.value]}"
                self.notes.append((key.start_mark, message))
            else:
                first[key.value] = key.start_mark.line + 1


def _unsupported(tag: str) -> str:
    return (
        f"unsupported YAML tag {_short(tag)}: definitions hold only text, numbers, "
        "true/false, null, lists and mappings"
    )


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(TAG) if tag.startswith(TAG) else tag


def _expanded_size(data: Any) -> int:
    """How many values `data` holds once aliases are expanded; stops counting past the limit."""
    count, stack = 0, [data]
    while stack and count <= MAX_ALIASED_VALUES:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: `index` counts documents from 0, `line` is 1-based."""

    file: str
    index: int
    line: int
    data: Any


@dataclass
class LoadedFile:
    file: str
    source: bytes
    documents: list[Document] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    non_finite: bool = False  # some document holds .nan, .inf or -.inf (see `non_finite`)


NON_FINITE = "{value} is not a number JSON can hold (no NaN or infinity); quote it for text"


def non_finite(data: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, message) of every NaN or infinity in a JSON-like value, in document order."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((((*path, k), v) for k, v in reversed(value.items())))
        elif isinstance(value, list):
            stack.extend((((*path, i), v) for i, v in reversed(list(enumerate(value)))))
        elif isinstance(value, float) and not math.isfinite(value):
            shown = ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
            yield path, NON_FINITE.format(value=shown)


def load_file(file: str, source: bytes) -> LoadedFile:
    """Parses every document of one file; syntax errors and duplicate keys become problems."""
    loaded = LoadedFile(file, source)
    if _too_deep(source):
        loaded.problems.append(Problem(file, 1, 1, TOO_DEEP))
        return loaded
    parser, builder = _Parser(source), _Builder()
    try:
        while parser.check_node():
            node: Node = parser.get_node()  # type: ignore[assignment]
            line = node.start_mark.line + 1
            data = builder.document(node)
            loaded.documents.append(Document(file, len(loaded.documents), line, data))
    except yaml.MarkedYAMLError as exc:
        loaded.problems.append(syntax_problem(file, source, exc))
    except yaml.reader.ReaderError as exc:
        line, column = _byte_position(source, exc.position)
        loaded.problems.append(Problem(file, line, column, _unreadable(exc)))
    except RecursionError:
        loaded.problems.append(Problem(file, 1, 1, TOO_DEEP))
    finally:
        parser.dispose()
    for mark, message in builder.notes:
        loaded.problems.append(Problem(file, mark.line + 1, mark.column + 1, message))
    loaded.non_finite = builder.non_finite
    return loaded


def _too_deep(source: bytes) -> bool:
    """Whether [ and { nest deeper than libyaml can safely go (rare files only pay the scan)."""
    if source.count(b"[") + source.count(b"{") <= MAX_FLOW_DEPTH:
        return False
    depth = 0
    for bracket in _BRACKETS.findall(source):
        depth += 1 if bracket in b"[{" else -1
        if depth > MAX_FLOW_DEPTH:
            return True
    return False


def syntax_problem(file: str, source: bytes, exc: yaml.MarkedYAMLError) -> Problem:
    """A YAML syntax error as one sentence, placed where libyaml noticed it."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = exc.problem or exc.context or "invalid YAML"
    if _character_at(source, line, column) == "\t":
        message = "a tab character; YAML indents with spaces only"
    elif message.startswith("mapping values are not allowed"):
        message += " (quote a value that contains ': ')"
    elif exc.context and exc.context_mark and exc.problem_mark:
        at = exc.context_mark
        message += f", {exc.context} that starts at line {at.line + 1}, column {at.column + 1}"
    return Problem(file, line, column, f"invalid YAML: {message}")


def _unreadable(exc: yaml.reader.ReaderError) -> str:
    if "UTF" in str(exc.reason):
        return f"the file is not UTF-8 text ({exc.reason})"
    character = f" #x{exc.character:04x}" if isinstance(exc.character, int) else ""
    return f"the file holds a character YAML does not allow{character} ({exc.reason})"


def _character_at(source: bytes, line: int, column: int) -> str:
    lines = source.splitlines()
    text = lines[line - 1].decode("utf-8", "replace") if line <= len(lines) else ""
    return text[column - 1 : column]


def _byte_position(source: bytes, offset: int) -> tuple[int, int]:
    start = source.rfind(b"\n", 0, offset) + 1
    column = len(source[start:offset].decode("utf-8", "replace")) + 1
    return source.count(b"\n", 0, offset) + 1, column


class Locator:
    """Line and column (1-based) of fields in one file; composes the file once, on first use."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        self._roots: list[Node] | None = None

    def position(
        self, index: int, path: Sequence[str | int], *, at_key: bool = False
    ) -> tuple[int, int]:
        """Where the deepest existing node of `path` in document `index` starts.

        With `at_key`, a path ending in a mapping key points at the key. A block mapping or list
        reached through a key points at that key: its line names the field the problem is about.
        """
        roots = self._compose()
        if index >= len(roots):
            return 1, 1
        node, key = roots[index], None
        for step, part in enumerate(path):
            found = _child(node, part)
            if found is None:
                break
            key, node = found
            if at_key and key is not None and step == len(path) - 1:
                node = key
        if key is not None and isinstance(node, MappingNode | SequenceNode) and not node.flow_style:
            node = key
        return node.start_mark.line + 1, node.start_mark.column + 1

    def _compose(self) -> list[Node]:
        if self._roots is None:
            self._roots = []
            if _too_deep(self.source):
                return self._roots
            parser = _Parser(self.source)
            try:
                while parser.check_node():
                    self._roots.append(parser.get_node())  # type: ignore[arg-type]
            except yaml.YAMLError:
                pass  # positions in the documents before the error still count
            finally:
                parser.dispose()
        return self._roots


def _child(node: Node, part: str | int) -> tuple[Node | None, Node] | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                return key_node, value_node
    elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
        return None, node.value[part]
    return None


def locate(
    source: bytes, index: int, path: Sequence[str | int], *, at_key: bool = False
) -> tuple[int, int]:
    """Line and column (1-based) of `path` in document `index` of `source`."""
    return Locator(source).position(index, path, at_key=at_key)


def problem_at(
    source: bytes | Locator,
    document: Document,
    path: tuple[str | int, ...],
    message: str,
    *,
    at_key: bool = False,
    severity: Severity = "error",
) -> Problem:
    """A problem pointing at `path` inside `document`."""
    locator = source if isinstance(source, Locator) else Locator(source)
    line, column = locator.position(document.index, path, at_key=at_key)
    return Problem(document.file, line, column, message, pointer_of(path), severity)
