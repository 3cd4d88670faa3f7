"""Checks of Statsig's create-time rules that a schema cannot express
(docs/platforms/statsig.md)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from metricsync.definitions import Definition
from metricsync.platforms.base import Finding

Identity = tuple[Any, Any]  # (name, type): how Statsig names a metric, `name::type`
NAME = re.compile(r"^[a-zA-Z0-9_.\-()/ %:]*$")
EVENT_TYPES = frozenset({"sum", "mean", "event_count_custom", "ratio"})
# What a Warehouse Native metric takes outside `warehouseNative`: the vendor's own Terraform
# test sets and reads back directionality, isReadOnly, isVerified and unitTypes there too.
WAREHOUSE_TOP_LEVEL = frozenset(
    {"type", "tags", "isPermanent", "description", "warehouseNative", "directionality",
     "isReadOnly", "isVerified", "unitTypes", "team", "teamID"}
)  # fmt: skip
FUNNEL_STEP_TYPES = {
    "users": {"event_user", "event_dau"},
    "events": {"event_count", "event_count_custom"},
}


def check_metrics(definitions: Sequence[Definition]) -> Iterator[Finding]:
    by_identity = {(d.name, d.spec.get("type")) for d in definitions}
    for definition in definitions:
        yield from _name(definition)
        yield from _per_type(definition, definition.spec)
        yield from _rollup(definition, definition.spec)
        yield from _components(definition, by_identity)
    yield from _cycles(definitions)


def _name(d: Definition) -> Iterator[Finding]:
    if not 4 <= len(d.name) <= 200:
        yield Finding(
            d,
            ("name",),
            f"Statsig metric names are 4 to 200 characters; this one has {len(d.name)}",
        )
    elif not NAME.match(d.name):
        bad = sorted({c for c in d.name if not NAME.match(c)})
        yield Finding(
            d,
            ("name",),
            f"Statsig metric names may use letters, digits, spaces and _ . - ( ) / % : only; "
            f"not {' '.join(repr(c) for c in bad)}",
        )


def _per_type(d: Definition, spec: Mapping[str, Any]) -> Iterator[Finding]:
    kind = spec.get("type")
    if kind in EVENT_TYPES:
        yield from _needs(d, spec, f"a {kind} metric", "unitTypes", "metricEvents")
    elif kind == "event_user":
        for i, event in enumerate(spec.get("metricEvents") or []):
            if not event.get("criteria"):
                yield Finding(
                    d,
                    ("spec", "metricEvents", i),
                    "an event_user metric needs criteria on every event",
                )
    elif kind == "funnel":
        yield from _funnel(d, spec)
    elif kind in ("composite", "composite_sum"):
        yield from _needs(d, spec, f"a {kind} metric", "unitTypes")
        components = spec.get("metricComponentMetrics") or []
        if kind == "composite_sum" and len(components) < 2:
            yield Finding(
                d,
                ("spec", "metricComponentMetrics"),
                "a composite_sum metric needs more than one component metric",
            )
    elif kind == "user_warehouse":
        yield from _warehouse(d, spec)
    elif kind == "percentile":
        yield Finding(
            d,
            ("spec", "type"),
            "percentile is not in the create types of Statsig's API specification (its metric "
            "guidance lists it): the project may refuse the create (docs/platforms/statsig.md)",
            severity="warning",
        )


def _needs(d: Definition, spec: Mapping[str, Any], what: str, *fields: str) -> Iterator[Finding]:
    for field in fields:
        if not spec.get(field):
            yield Finding(d, ("spec",), f"{what} needs a non-empty {field}")


def _funnel(d: Definition, spec: Mapping[str, Any]) -> Iterator[Finding]:
    steps = spec.get("funnelEventList") or []
    if len(steps) < 2:
        yield Finding(
            d,
            ("spec", "funnelEventList") if steps else ("spec",),
            "a funnel metric needs at least 2 steps in funnelEventList",
        )
    distinct = spec.get("funnelCountDistinct")
    if distinct is None:
        yield Finding(d, ("spec",), "a funnel metric needs funnelCountDistinct (events or users)")
        return
    for i, step in enumerate(steps):
        if step.get("type") not in FUNNEL_STEP_TYPES[distinct]:
            allowed = " or ".join(sorted(FUNNEL_STEP_TYPES[distinct]))
            yield Finding(
                d,
                ("spec", "funnelEventList", i, "type"),
                f"with funnelCountDistinct {distinct}, step types must be {allowed}",
            )


def _warehouse(d: Definition, spec: Mapping[str, Any]) -> Iterator[Finding]:
    if not spec.get("warehouseNative"):
        yield Finding(d, ("spec",), "a user_warehouse metric needs warehouseNative")
    for key in spec:
        if key not in WAREHOUSE_TOP_LEVEL:
            yield Finding(
                d,
                ("spec", key),
                f"{key} is not used by user_warehouse metrics; put it inside warehouseNative",
                at_key=True,
            )


def _rollup(d: Definition, spec: Mapping[str, Any]) -> Iterator[Finding]:
    if spec.get("rollupTimeWindow") == "custom":
        for field in ("customRollUpStart", "customRollUpEnd"):
            if field not in spec:
                yield Finding(
                    d, ("spec", "rollupTimeWindow"), f"rollupTimeWindow custom needs {field}"
                )
    start, end = spec.get("customRollUpStart"), spec.get("customRollUpEnd")
    if isinstance(start, int | float) and isinstance(end, int | float) and end < start:
        yield Finding(
            d, ("spec", "customRollUpEnd"), "customRollUpEnd must not be before customRollUpStart"
        )


def _components(d: Definition, known: set[tuple[str, Any]]) -> Iterator[Finding]:
    for i, component in enumerate(d.spec.get("metricComponentMetrics") or []):
        identity = (component.get("name"), component.get("type"))
        if identity == (d.name, d.spec.get("type")):
            yield Finding(
                d, ("spec", "metricComponentMetrics", i), "a composite metric cannot include itself"
            )
        elif identity not in known:
            yield Finding(
                d,
                ("spec", "metricComponentMetrics", i),
                f"component {identity[0]!r} ({identity[1]}) is not among this target's "
                "definitions; it is checked against the live project at plan time",
                severity="warning",
            )


def _cycles(definitions: Sequence[Definition]) -> Iterable[Finding]:
    """One finding per cycle of composite metrics, on the first metric of the cycle."""
    by_identity = {(d.name, d.spec.get("type")): d for d in definitions}
    graph = {
        identity: [
            (c.get("name"), c.get("type"))
            for c in d.spec.get("metricComponentMetrics") or []
            if (c.get("name"), c.get("type")) in by_identity
            and (c.get("name"), c.get("type")) != identity  # reported as including itself
        ]
        for identity, d in by_identity.items()
    }
    for cycle in _find_cycles(graph):
        names = " -> ".join(name for name, _ in [*cycle, cycle[0]])
        yield Finding(
            by_identity[cycle[0]],
            ("spec", "metricComponentMetrics"),
            f"composite metrics form a cycle: {names}",
        )


def _find_cycles(graph: dict[Identity, list[Identity]]) -> Iterator[list[Identity]]:
    """Depth-first search that visits each metric once, without recursion (chains may be long)."""
    done: set[Identity] = set()
    for start in graph:
        if start in done:
            continue
        path, stack = [start], [iter(graph[start])]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                done.add(path.pop())
                stack.pop()
            elif child in path:
                yield path[path.index(child) :]
            elif child not in done:
                path.append(child)
                stack.append(iter(graph[child]))
