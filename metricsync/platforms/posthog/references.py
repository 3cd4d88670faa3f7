"""The actions saved metrics reference by id (ActionsNode), which metricsync does not manage:
what `--sandbox` puts in the sandbox so a project copied from a real account runs there as it is
(docs/sandbox/README.md). A real PostHog project checks them itself ("Action N not found")."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: the record imports this module at start-up, before PyYAML
    from metricsync.config import Target
    from metricsync.definitions import Definition


def referenced_actions(definitions: Sequence[Definition]) -> dict[int, str]:
    """Action id -> the name the definitions give it (the first one that names it; otherwise
    `Action <id>`), in the order the definitions first reference them."""
    names: dict[int, str | None] = {}
    for definition in definitions:
        for node in _actions_nodes(definition.spec.get("query")):
            given = node.get("name") if isinstance(node.get("name"), str) else None
            if names.get(node["id"]) is None:
                names[node["id"]] = given
    return {i: name or f"Action {i}" for i, name in names.items()}


def sandbox_references(target: Target, definitions: Sequence[Definition]) -> dict[str, Any]:
    """The sandbox's posthog seed section holding the target project's referenced actions."""
    actions = [{"id": i, "name": n} for i, n in referenced_actions(definitions).items()]
    if not actions:
        return {}
    return {"projects": {str(target.settings["project_id"]): {"actions": actions}}}


def _actions_nodes(value: Any) -> Iterator[Mapping[str, Any]]:
    """Every ActionsNode with an integer id, at any depth of a query."""
    if isinstance(value, Mapping):
        if value.get("kind") == "ActionsNode" and type(value.get("id")) is int:
            yield value
        for child in value.values():
            yield from _actions_nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _actions_nodes(child)
