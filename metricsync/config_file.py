"""Reading metricsync.yaml: the schema, the rules on values and folders the schema cannot state,
then the frozen targets, built with what each platform's record declares. The schema itself is
composed here from its base and each registered platform's part."""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from metricsync import governance, rule_checks, schema
from metricsync.config import CONFIG_SCHEMA, Config, Policy, Target, display_path
from metricsync.documents import Locator, load_file, non_finite, problem_at
from metricsync.errors import ConfigError, InvalidInput
from metricsync.platforms import KINDS, PLATFORMS
from metricsync.problems import Problem
from metricsync.secrets import SecretRef


def read_config(path: Path) -> tuple[Config | None, list[Problem]]:
    """The config and every problem found in it; the config is None when any is an error."""
    try:
        source = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no config file at {path} (pass --config PATH)") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    file = display_path(path)
    loaded = load_file(file, source)
    problems = list(loaded.problems)
    documents = [d for d in loaded.documents if d.data is not None]
    if problems:
        return None, problems
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        return None, [Problem(file, 1, 1, "the config must be one YAML mapping (version, targets)")]
    document = documents[0]
    errors = _validator().errors(document.data)
    unreadable = list(non_finite(document.data))  # the schema sees NaN as null: say what it is
    paths = {where for where, _ in unreadable}
    found = [(e.path, e.message, e.at_key) for e in errors if e.path not in paths]
    found += [(where, message, False) for where, message in unreadable]
    found += [(where, message, False) for where, message in _value_rules(document.data)]
    kinds = {name: kind.schema for name, kind in KINDS.items()}
    platforms = {name: [k.name for k in p.kinds] for name, p in PLATFORMS.items()}
    rules = rule_checks.config_findings(document.data, kinds, platforms)
    found += [(where, message, False) for where, message in rules]
    root = path.resolve().parent
    found += [(where, message, False) for where, message in _folder_rules(root, document.data)]
    locator = Locator(source)
    problems = [problem_at(locator, document, p, m, at_key=k) for p, m, k in found]
    if problems:
        return None, sorted(problems)
    return _build(path.resolve(), document.data), []


def load_config(path: Path) -> Config:
    """The config, or InvalidInput with every problem in it."""
    config, problems = read_config(path)
    if config is None:
        raise InvalidInput(problems)
    return config


Where = tuple[str | int, ...]


def _targets(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    targets = data.get("targets")
    for name, target in targets.items() if isinstance(targets, dict) else ():
        if isinstance(target, dict):
            yield name, target


def _value_rules(data: dict[str, Any]) -> Iterator[tuple[Where, str]]:
    """Rules on values the schema lets through: plain http, secrets written into other keys."""
    for name, target in _targets(data):
        platform = PLATFORMS.get(str(target.get("provider")))
        url = target.get(platform.endpoint_key) if platform else None
        broken = _unparsable(url) if platform and isinstance(url, str) else None
        if platform and broken:
            yield ("targets", name, platform.endpoint_key), broken
        elif platform and isinstance(url, str) and not _secure_enough(url):
            message = f"plain http:// is refused for {urlsplit(url).hostname!r}; use https://"
            yield ("targets", name, platform.endpoint_key), message + " (http is for loopback only)"
        secrets = platform.secrets if platform else ()
        for key, value in target.items():
            what = _secret_looking(value) if key not in secrets else None
            if what:
                yield ("targets", name, key), f"{what}; {SECRET_ADVICE}"


SECRET_ADVICE = "put secrets in environment variables and write env:NAME here"
# Every platform's key shapes, then one no platform owns.
SECRET_SHAPES = (
    *(shape for platform in PLATFORMS.values() for shape in platform.secret_shapes),
    (re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@"), "this URL holds a password"),
)


def _secret_looking(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return next((what for shape, what in SECRET_SHAPES if shape.search(value)), None)


def _folder_rules(root: Path, data: dict[str, Any]) -> Iterator[tuple[Where, str]]:
    """One target's folders must not overlap: their common files would be read twice."""
    for name, target in _targets(data):
        folders = target.get("definitions")
        seen: list[tuple[Path, str]] = []
        for i, folder in enumerate(folders if isinstance(folders, list) else ()):
            if not isinstance(folder, str):
                continue
            try:
                here = (root / folder).resolve()
            except RuntimeError:  # Python before 3.13 raises this for a symbolic link loop
                yield ("targets", name, "definitions", i), f"{folder!r} is a symbolic link loop"
                continue
            except (OSError, ValueError) as exc:  # too long, a NUL: no folder can have the name
                why = exc.strerror if isinstance(exc, OSError) else str(exc)
                yield ("targets", name, "definitions", i), f"{folder!r} cannot be a folder: {why}"
                continue
            for there, other in seen:
                if here == there or there in here.parents or here in there.parents:
                    overlap = f"definitions folders {other!r} and {folder!r} overlap"
                    yield ("targets", name, "definitions", i), f"{overlap}; keep one of them"
                    break
            seen.append((here, folder))


def _unparsable(url: str) -> str | None:
    try:
        urlsplit(url).port  # noqa: B018 - reading it checks the host and port
    except ValueError as exc:
        return f"{url!r} is not a valid URL ({exc})"
    return None


def _secure_enough(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "http":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _build(path: Path, data: dict[str, Any]) -> Config:
    policy = Policy().merged(data.get("policy", {}))
    rules = data.get("rules")
    targets = {name: _target(name, raw, policy, rules) for name, raw in data["targets"].items()}
    return Config(path, targets, policy)


def _target(name: str, raw: dict[str, Any], policy: Policy, rules: Any) -> Target:
    platform = PLATFORMS[raw["provider"]]
    endpoint = raw.get(platform.endpoint_key) or platform.default_endpoint or ""
    reserved = {"provider", "definitions", "policy", "rules", platform.endpoint_key}
    reserved.update(platform.secrets)
    settings = dict(platform.settings_defaults)
    settings.update({k: v for k, v in raw.items() if k not in reserved})
    return Target(
        name=name,
        platform=platform.name,
        definitions=tuple(raw["definitions"]),
        endpoint=endpoint.rstrip("/"),
        policy=policy.merged(raw.get("policy", {})),
        settings=settings,
        secrets={k: SecretRef(raw[k][4:], k) for k in platform.secrets if k in raw},
        rules=governance.effective(
            rules,
            raw.get("rules"),
            [k.name for k in platform.kinds],
            [k.name for k in platform.kinds if k.casefold_tags],
        ),
    )


# -- the config's JSON Schema ---------------------------------------------------------------------

BASE_SCHEMA = "config.base.json"  # in metricsync/schemas: everything no platform adds
PLATFORM_PART = "config.json"  # in each platform's package: what it adds (its $comment says how)


@functools.cache
def config_schema() -> dict[str, Any]:
    """config.schema.json: the base, and each registered platform's part in the registry's order:
    its target keys (as $defs/<platform>, selected by `provider`) and its kinds' rules. Composed
    once and shared: read it, never change it."""
    document: dict[str, Any] = json.loads(schema.text(BASE_SCHEMA))
    parts = {name: _part(name) for name in PLATFORMS}
    target, rules = document["$defs"]["target"], document["$defs"]["rules"]
    names = list(parts)
    target["properties"] = {
        "provider": {"description": f"Platform of this target: {_or(names)}.", "enum": names},
        **target["properties"],
    }
    target["allOf"] = _selected_keys(parts)
    for name, part in parts.items():
        document["$defs"][name] = part["target"]
    kinds = list(KINDS)
    described = {kind: text for part in parts.values() for kind, text in part["rules"].items()}
    rules["propertyNames"] = {
        "enum": kinds,
        "errorMessage": f"unknown kind; rules are given per kind: {_or(kinds)}",
    }
    rules["properties"] = {
        kind: {"description": described[kind], "$ref": "#/$defs/kindRules"} for kind in kinds
    }
    return document


def schema_names() -> list[str]:
    """Every published schema by the name users see it under (`metricsync schema --out-dir`
    and `init` write them so): config.schema.json and <platform>/<kind>.schema.json per kind."""
    return sorted({CONFIG_SCHEMA, *(kind.schema for kind in KINDS.values())})


@functools.cache
def schema_text(name: str) -> str:
    """A shipped schema as `metricsync schema` prints it, by the name users see it under: the
    config's composed here (serialised the same way every time), a kind's as it ships."""
    if name != CONFIG_SCHEMA:
        return schema.text(name)
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"


def _part(platform: str) -> dict[str, Any]:
    part: dict[str, Any] = json.loads(schema.text(f"{platform}/{PLATFORM_PART}"))
    return part


def _selected_keys(parts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each platform's keys checked when `provider` names it, then declared known, then every
    platform's keys known while provider is missing or unknown (the base's $comment says why)."""
    keys = {name: dict.fromkeys(part["target"]["properties"], True) for name, part in parts.items()}
    checked = [{"if": _is({"const": name}), "then": {"$ref": f"#/$defs/{name}"}} for name in parts]
    declared = [{"if": _is({"const": name}), "then": {"properties": keys[name]}} for name in parts]
    every = {key: True for known in keys.values() for key in known}
    return [*checked, *declared, {"if": _is({"enum": list(parts)}), "else": {"properties": every}}]


def _is(provider: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"provider": provider}, "required": ["provider"]}


def _or(items: list[str]) -> str:
    return f"{', '.join(items[:-1])} or {items[-1]}" if len(items) > 1 else "".join(items)


@functools.cache
def _validator() -> schema.Validator:
    return schema.Validator(config_schema())
