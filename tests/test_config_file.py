"""The config's JSON Schema, composed by config_file.py from its base and each registered platform's
part: it must stay the document it was when every platform was written into one file, so that
validate's messages, init's scaffold, `metricsync schema config` and docs/config.md do not move."""

from __future__ import annotations

import json
from pathlib import Path

from metricsync.config import CONFIG_SCHEMA
from metricsync.config_file import config_schema, schema_text
from metricsync.platforms import KINDS, PLATFORMS

ROOT = Path(__file__).resolve().parents[1]
# config.schema.json as one hand-written file held it before the platforms' parts moved into their
# packages: a change to the composed document must be a change to this copy too, made on purpose.
FROZEN = ROOT / "tests" / "fixtures" / "config_schema" / "config.schema.json"


def test_the_composed_config_schema_is_the_one_file_it_was() -> None:
    assert config_schema() == json.loads(FROZEN.read_text(encoding="utf-8"))


def test_the_composition_follows_the_registry() -> None:
    composed = config_schema()["$defs"]
    assert composed["target"]["properties"]["provider"]["enum"] == list(PLATFORMS)
    assert [c["if"]["properties"]["provider"] for c in composed["target"]["allOf"]] == [
        *({"const": name} for name in PLATFORMS),
        *({"const": name} for name in PLATFORMS),
        {"enum": list(PLATFORMS)},
    ]
    assert all(name in composed for name in PLATFORMS)
    assert composed["rules"]["propertyNames"]["enum"] == list(KINDS)


def test_the_printed_config_schema_is_deterministic_json_of_the_document() -> None:
    text = schema_text(CONFIG_SCHEMA)
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"
    assert json.loads(text) == config_schema()
    assert (ROOT / "schemas" / CONFIG_SCHEMA).read_text(encoding="utf-8") == text
