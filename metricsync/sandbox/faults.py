"""Faults on demand: rules that make matching requests slow, fail, hang or lose their connection.

The app asks `Faults.match` once per request and gets a `Decision`; the carriers (server,
transport) carry out its delay and dropped connection, so both behave the same.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from fnmatch import fnmatchcase
from typing import Any, Literal

from metricsync.sandbox import hostile

MAX_HANG_S = 300.0  # a hang is bounded so a forgotten rule cannot pin a thread for ever
MAX_LATENCY_MS = 60_000
METHODS = ("*", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
Drop = Literal["before", "after"]

_SPEC = re.compile(
    r"^(?P<action>\d{3}|drop|drop-before|drop-after|hang:\d+(?:\.\d+)?|latency:\d+"
    r"|(?:redirect|foreign-next):[^\s,]+|trickle:\d+(?:\.\d+)?|oversize:\d+"
    r"|endless|cyclic|html|nan)"
    r"(?:\s*x(?P<times>\d+))?$"
)


@dataclass(frozen=True)
class FaultRule:
    """One rule; exactly one of `status`, `drop`, `hang_s`, `latency_ms`, `hostile` says what it
    does (`hostile`: an answer no honest server gives, hostile.py).

    `times` is how many more matching requests it applies to (None: every one).
    """

    path: str = "*"  # fnmatch glob over the raw (percent-encoded) path, query excluded
    method: str = "*"
    status: int | None = None
    retry_after: int | None = None
    drop: Drop | None = None
    hang_s: float = 0.0
    latency_ms: int = 0
    hostile: str | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        effects = [self.status is not None, self.drop is not None, self.hang_s > 0]
        effects.append(self.hostile is not None)
        if sum(effects) + (self.latency_ms > 0) != 1:
            raise ValueError(
                f"fault {self.spec!r}: give exactly one of status, drop, hang_s, latency_ms, "
                "hostile"
            )
        _check(self)

    @property
    def is_latency(self) -> bool:
        return self.latency_ms > 0

    @property
    def action(self) -> str:
        """The action as the compact syntax writes it: 503, drop-after, hang:2, latency:50."""
        if self.status is not None:
            return str(self.status)
        if self.drop is not None:
            return f"drop-{self.drop}"
        if self.hang_s > 0:
            return f"hang:{self.hang_s:g}"
        if self.hostile is not None:
            return self.hostile
        return f"latency:{self.latency_ms}"

    @property
    def spec(self) -> str:
        method = "" if self.method == "*" else f"{self.method} "
        # "503x2" reads well, "drop-afterx1" does not
        times = "" if self.times is None else f"{'' if self.status else ' '}x{self.times}"
        extra = "" if self.retry_after is None else f",retry-after={self.retry_after}"
        return f"{method}{self.path}={self.action}{times}{extra}"

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and fnmatchcase(path, self.path)

    def to_json(self) -> dict[str, Any]:
        """The rule's fields that differ from their defaults (path and method always)."""
        return {
            name: value
            for name, value in asdict(self).items()
            if name in ("path", "method") or value != _DEFAULTS[name]
        }


_DEFAULTS = {f.name: f.default for f in fields(FaultRule)}


def _check(rule: FaultRule) -> None:
    problems = []
    if not rule.path.startswith(("/", "*")):
        problems.append("the path glob must start with / or *")
    if rule.method not in METHODS:
        problems.append(f"method must be one of {', '.join(METHODS)}")
    if rule.status is not None and not 400 <= rule.status <= 599:
        problems.append("status must be 400-599")
    if rule.retry_after is not None and (rule.status is None or rule.retry_after < 0):
        problems.append("retry_after needs a status and must be >= 0")
    if rule.drop not in (None, "before", "after"):
        problems.append("drop must be 'before' or 'after'")
    if not 0 <= rule.hang_s <= MAX_HANG_S:
        problems.append(f"hang_s must be 0-{MAX_HANG_S:g}")
    if not 0 <= rule.latency_ms <= MAX_LATENCY_MS:
        problems.append(f"latency_ms must be 0-{MAX_LATENCY_MS}")
    if rule.times is not None and rule.times < 1:
        problems.append("times must be >= 1")
    if rule.hostile is not None:
        wrong = hostile.problem(rule.hostile) if isinstance(rule.hostile, str) else "not a string"
        if wrong:
            problems.append(wrong)
    if problems:
        raise ValueError(f"fault {rule.spec!r}: {'; '.join(problems)}")


def parse_rule(spec: str) -> FaultRule:
    """A rule from the compact syntax `[METHOD ]GLOB=ACTION[xN][,retry-after=S]`."""
    target, equals, rest = spec.strip().partition("=")
    action, *options = [part.strip() for part in rest.split(",")]
    match = _SPEC.match(action)
    if not equals or match is None:
        raise ValueError(
            f"fault {spec!r}: expected [METHOD ]GLOB=ACTION[xN][,retry-after=S] with ACTION one "
            "of a 4xx/5xx status, drop, drop-before, drop-after, hang:SECONDS, latency:MS, or a "
            "hostile answer: redirect:ORIGIN, foreign-next:ORIGIN, endless, cyclic, "
            "trickle:SECONDS, oversize:MIB, html, nan"
        )
    method, _, path = target.strip().rpartition(" ")
    values: dict[str, Any] = {"path": path or "*", "method": method.strip().upper() or "*"}
    values.update(_action_fields(match["action"]))
    if match["times"]:
        values["times"] = int(match["times"])
    for option in options:
        name, _, value = option.partition("=")
        if name.strip() != "retry-after" or not value.strip().isdigit():
            raise ValueError(f"fault {spec!r}: unknown option {option!r} (only retry-after=S)")
        values["retry_after"] = int(value)
    return FaultRule(**values)


def _action_fields(action: str) -> dict[str, Any]:
    if action.isdigit():
        return {"status": int(action)}
    if action in ("drop", "drop-before", "drop-after"):
        return {"drop": "after" if action == "drop-after" else "before"}
    kind, _, number = action.partition(":")
    if kind in hostile.ACTIONS:
        return {"hostile": action}
    if kind == "hang":
        return {"hang_s": float(number)}
    return {"latency_ms": int(number)}


def rule_from(value: FaultRule | str | Mapping[str, Any]) -> FaultRule:
    """A rule from the compact syntax, a JSON object with FaultRule's fields, or a rule."""
    if isinstance(value, FaultRule):
        return value
    if isinstance(value, str):
        return parse_rule(value)
    if isinstance(value, Mapping):
        unknown = set(value) - set(_DEFAULTS)
        if unknown:
            raise ValueError(f"fault {dict(value)}: unknown key(s) {', '.join(sorted(unknown))}")
        values = {**value, "method": str(value.get("method", "*")).upper()}
        try:
            return FaultRule(**values)
        except TypeError:  # a number given as a string, and the like
            raise ValueError(f"fault {dict(value)}: a field has the wrong type") from None
    raise ValueError(f"a fault is a string or an object, not {type(value).__name__}")


@dataclass(frozen=True)
class Decision:
    """What the faults make of one request: extra delay, and the rule that changes the answer."""

    delay_s: float = 0.0
    effect: FaultRule | None = None  # status, drop, hang or hostile
    labels: tuple[str, ...] = ()  # the actions applied, for the request log

    @property
    def label(self) -> str | None:
        return " ".join(self.labels) or None


NO_FAULT = Decision()


class Faults:
    """The rule set of one app: a global latency plus rules tried in order.

    Every matching latency rule adds its delay; the first matching status, drop or hang rule
    decides the answer. A rule with `times` is used up after that many matching requests.
    """

    def __init__(self) -> None:
        self.latency_ms = 0
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def add(self, rule: FaultRule | str | Mapping[str, Any]) -> FaultRule:
        parsed = rule_from(rule)
        with self._lock:
            self._rules.append(parsed)
        return parsed

    def set_latency(self, milliseconds: int) -> None:
        if not isinstance(milliseconds, int) or not 0 <= milliseconds <= MAX_LATENCY_MS:
            raise ValueError(f"latency_ms must be an integer 0-{MAX_LATENCY_MS}")
        self.latency_ms = milliseconds

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
        self.latency_ms = 0

    def load(self, document: Any) -> None:
        """Adds a fault document: a list of rules, or {"latency_ms": N, "rules": [...]}."""
        rules, latency = _unpack(document)
        parsed = [rule_from(rule) for rule in rules]  # all or nothing
        if latency is not None:
            self.set_latency(latency)
        for rule in parsed:
            self.add(rule)

    def to_json(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "rules": [r.to_json() for r in self.rules]}

    def match(self, method: str, path: str) -> Decision:
        """The decision for one request; uses up one of each applied rule's `times`."""
        base = (f"latency:{self.latency_ms}",) if self.latency_ms else ()
        if not self._rules:
            return Decision(self.latency_ms / 1000, None, base) if base else NO_FAULT
        with self._lock:
            matching = [r for r in self._rules if r.matches(method, path)]
            slow = [r for r in matching if r.is_latency]
            effect = next((r for r in matching if not r.is_latency), None)
            applied = slow + ([effect] if effect else [])
            for rule in applied:
                self._use(rule)
        delay_ms = self.latency_ms + sum(r.latency_ms for r in slow)
        hang = effect.hang_s if effect else 0.0
        return Decision(delay_ms / 1000 + hang, effect, base + tuple(r.action for r in applied))

    def _use(self, rule: FaultRule) -> None:
        if rule.times is None:
            return
        index = self._rules.index(rule)
        if rule.times == 1:
            del self._rules[index]
        else:
            self._rules[index] = replace(rule, times=rule.times - 1)


def _unpack(document: Any) -> tuple[list[Any], int | None]:
    if isinstance(document, list):
        return document, None
    if isinstance(document, Mapping):
        unknown = set(document) - {"latency_ms", "rules"}
        if unknown:
            raise ValueError(f"faults: unknown key(s) {', '.join(sorted(unknown))}")
        rules = document.get("rules") or []
        if not isinstance(rules, list):
            raise ValueError("faults: 'rules' must be a list")
        return rules, document.get("latency_ms")
    raise ValueError('faults: expected a list of rules or {"latency_ms": N, "rules": [...]}')


def faults_from_environment(faults: Faults, environ: Mapping[str, str]) -> None:
    """Applies METRICSYNC_SANDBOX_LATENCY_MS and METRICSYNC_SANDBOX_FAULTS (JSON)."""
    latency = environ.get("METRICSYNC_SANDBOX_LATENCY_MS", "").strip()
    if latency:
        if not latency.isdigit() or int(latency) > MAX_LATENCY_MS:
            raise ValueError(
                f"METRICSYNC_SANDBOX_LATENCY_MS must be an integer 0-{MAX_LATENCY_MS}, "
                f"not {latency!r}"
            )
        faults.set_latency(int(latency))
    text = environ.get("METRICSYNC_SANDBOX_FAULTS", "").strip()
    if text:
        try:
            faults.load(json.loads(text))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError too
            raise ValueError(f"METRICSYNC_SANDBOX_FAULTS: {exc}") from None
