"""Reads YAML files into plain documents, with YAML 1.2 scalars, and finds where a field sits.

Parsing uses libyaml and keeps no positions: the fast path never pays for them. When a problem
must be reported, `locate` composes the file again and walks the node tree to the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from metricsync.problems import Problem, pointer_of

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class YamlLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """libyaml with the YAML 1.2 core schema: only true/false are booleans, no timestamps,
    no sexagesimal or 0-prefixed octal numbers. Duplicate keys are recorded, not dropped."""

    yaml_implicit_resolvers: ClassVar[dict[Any, Any]] = {}
    yaml_constructors: ClassVar[dict[Any, Any]] = dict(_BaseLoader.yaml_constructors)

    def __init__(self, stream: bytes | str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, yaml.Mark]] = []

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if len(mapping) < len(node.value):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, ScalarNode):
                    if key_node.value in seen:
                        self.duplicates.append((key_node.value, key_node.start_mark))
                    seen.add(key_node.value)
        return mapping


def _construct_int(loader: YamlLoader, node: ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


def _construct_float(loader: YamlLoader, node: ScalarNode) -> float:
    text = loader.construct_scalar(node).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    return float("nan") if text == ".nan" else float(text)


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
YamlLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
YamlLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
YamlLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
YamlLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


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


def load_file(file: str, source: bytes) -> LoadedFile:
    """Parses every document of one file; syntax errors and duplicate keys become problems."""
    loaded = LoadedFile(file, source)
    loader = YamlLoader(source)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            data = loader.construct_document(node)
            loaded.documents.append(Document(file, index, node.start_mark.line + 1, data))
            index += 1
    except yaml.MarkedYAMLError as exc:
        loaded.problems.append(_syntax_problem(file, exc))
    except yaml.YAMLError as exc:
        loaded.problems.append(Problem(file, 1, 1, f"cannot read YAML: {exc}"))
    finally:
        loader.dispose()
    for key, mark in loader.duplicates:
        loaded.problems.append(
            Problem(file, mark.line + 1, mark.column + 1, f"duplicate key {key!r}")
        )
    return loaded


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = " ".join(part for part in (exc.context, exc.problem) if part)
    return Problem(file, line, column, f"invalid YAML: {what}")


def locate(
    source: bytes, index: int, path: Sequence[str | int], *, at_key: bool = False
) -> tuple[int, int]:
    """Line and column (1-based) of the deepest node of `path` that exists in document `index`.

    With `at_key`, a path ending in a mapping key points at the key rather than its value.
    """
    node = _document_node(source, index)
    if node is None:
        return 1, 1
    for step, part in enumerate(path):
        child = _child(node, part, at_key and step == len(path) - 1)
        if child is None:
            break
        node = child
    return node.start_mark.line + 1, node.start_mark.column + 1


def _document_node(source: bytes, index: int) -> Node | None:
    loader = YamlLoader(source)
    try:
        for position, node in enumerate(_nodes(loader)):
            if position == index:
                return node
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return None


def _nodes(loader: YamlLoader) -> Iterator[Node]:
    while loader.check_node():
        yield loader.get_node()


def _child(node: Node, part: str | int, want_key: bool) -> Node | None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                return key_node if want_key else value_node
    elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None


def problem_at(
    loaded_source: bytes,
    document: Document,
    path: tuple[str | int, ...],
    message: str,
    *,
    at_key: bool = False,
    severity: str = "error",
) -> Problem:
    """A problem pointing at `path` inside `document`."""
    line, column = locate(loaded_source, document.index, path, at_key=at_key)
    return Problem(
        document.file,
        line,
        column,
        message,
        pointer_of(path),
        "warning" if severity == "warning" else "error",
    )
