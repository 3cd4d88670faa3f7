"""Each platform's pure translation, with no HTTP: a definition's request body, stored with the
fields a real server adds, read back and normalised, equals the desired document; exported,
it gives back the definition's spec; and the ownership marker is written and stripped."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from metricsync.definitions import Definition
from metricsync.normalise import normalise
from metricsync.platforms.posthog import mapping as posthog
from metricsync.platforms.statsig import mapping as statsig

OWNER = "managed-by-metricsync"

STATSIG_SPEC: dict[str, Any] = {
    "type": "sum",
    "description": "Revenue per user",
    "unitTypes": ["userID", "stableID"],
    "tags": ["growth"],
    "metricEvents": [
        {
            "name": "purchase",
            "type": "value",
            "metadataKey": "price",
            "criteria": [
                {"type": "metadata", "column": "plan", "condition": "in", "values": ["pro", "free"]}
            ],
        }
    ],
}
STATSIG = Definition(statsig.KIND, "revenue", STATSIG_SPEC)


def statsig_stored(body: dict[str, Any]) -> dict[str, Any]:
    """A created metric as Statsig answers it: the body, with its id and server fields."""
    return {
        "id": f"{body['name']}::{body['type']}",
        **body,
        "isHidden": False,
        "lineage": {"events": ["purchase"], "metrics": []},
        "creatorName": "Console API",
        "creatorEmail": None,
        "createdTime": 1764800000000,
        "lastModifierID": "console-api",
        "lastModifiedTime": 1764800000000,
        "owner": {"ownerID": "u1", "ownerName": "Ada"},
        "team": None,
    }


def test_statsig_payload_fills_documented_defaults_and_adds_the_marker() -> None:
    assert statsig.to_payload(STATSIG, OWNER) == {
        **STATSIG_SPEC,
        "directionality": "increase",
        "isPermanent": False,
        "isReadOnly": False,
        "isVerified": False,
        "tags": ["growth", OWNER],
        "name": "revenue",
    }


def test_statsig_update_payload_leaves_out_the_type() -> None:
    body = statsig.to_payload(STATSIG, OWNER, update=True)
    assert "type" not in body
    assert body["tags"] == ["growth", OWNER]


def test_statsig_marker_is_not_written_twice() -> None:
    marked = Definition(statsig.KIND, "revenue", {**STATSIG_SPEC, "tags": [OWNER, "growth"]})
    assert statsig.to_payload(marked, OWNER)["tags"] == [OWNER, "growth"]


def test_statsig_stored_payload_reads_back_owned_without_the_marker() -> None:
    live = statsig.from_payload(statsig_stored(statsig.to_payload(STATSIG, OWNER)), OWNER)
    assert (live.kind, live.id, live.name) == (statsig.KIND, "revenue::sum", "revenue")
    assert (live.owned, live.generated, live.legacy) == (True, False, False)
    assert live.spec["tags"] == ["growth"]


def test_statsig_round_trip_normalises_to_the_desired_document() -> None:
    live = statsig.from_payload(statsig_stored(statsig.to_payload(STATSIG, OWNER)), OWNER)
    desired = normalise(STATSIG_SPEC, statsig.NORMALISATION)
    assert normalise(live.spec, statsig.NORMALISATION) == desired
    assert desired == {
        "type": "sum",
        "description": "Revenue per user",
        "unitTypes": ["stableID", "userID"],
        "tags": ["growth"],
        "metricEvents": [
            {
                "name": "purchase",
                "type": "value",
                "metadataKey": "price",
                "criteria": [
                    {
                        "type": "metadata",
                        "column": "plan",
                        "condition": "in",
                        "values": ["free", "pro"],
                    }
                ],
            }
        ],
        "directionality": "increase",
        "isPermanent": False,
        "isReadOnly": False,
        "isVerified": False,
    }


def test_statsig_export_gives_back_the_spec_without_defaults_or_server_fields() -> None:
    live = statsig.from_payload(statsig_stored(statsig.to_payload(STATSIG, OWNER)), OWNER)
    assert statsig.to_spec(live) == STATSIG_SPEC
    assert list(statsig.to_spec(live)) == list(STATSIG_SPEC)  # the order a person reads


def test_statsig_export_keeps_a_value_that_differs_from_its_default() -> None:
    spec = {**STATSIG_SPEC, "directionality": "decrease", "isVerified": True}
    body = statsig.to_payload(Definition(statsig.KIND, "revenue", spec), OWNER)
    live = statsig.from_payload(statsig_stored(body), OWNER)
    assert statsig.to_spec(live) == {
        "type": "sum",
        "description": "Revenue per user",
        "directionality": "decrease",
        "unitTypes": ["userID", "stableID"],
        "tags": ["growth"],
        "isVerified": True,
        "metricEvents": STATSIG_SPEC["metricEvents"],
    }


def test_statsig_object_without_the_marker_is_not_owned() -> None:
    body = {**statsig.to_payload(STATSIG, OWNER), "tags": ["growth"]}
    live = statsig.from_payload(statsig_stored(body), OWNER)
    assert (live.owned, live.spec["tags"]) == (False, ["growth"])


POSTHOG_QUERY: dict[str, Any] = {
    "kind": "ExperimentMetric",
    "metric_type": "mean",
    "source": {"kind": "EventsNode", "event": "purchase", "math": "sum"},
}
POSTHOG_SPEC: dict[str, Any] = {
    "description": "Revenue per user",
    "tags": ["Growth", "Revenue "],
    "query": POSTHOG_QUERY,
}
POSTHOG = Definition(posthog.KIND, "Revenue", POSTHOG_SPEC)


def posthog_stored(body: dict[str, Any]) -> dict[str, Any]:
    """A created saved metric as PostHog answers it: an id, the query with a uuid, tags
    lower-cased and trimmed in no particular order, and the server's own fields."""
    return {
        "id": 42,
        "name": body["name"],
        "description": body["description"],
        "query": {**body["query"], "uuid": "0190b4a2-5d6e-7000-8000-00000000a001"},
        "created_by": {"id": 1, "email": "ada@example.com"},
        "created_at": "2026-12-04T22:00:00Z",
        "updated_at": "2026-12-04T22:00:00Z",
        "tags": sorted({t.strip().lower() for t in body["tags"]}, reverse=True),
        "user_access_level": "editor",
    }


def test_posthog_payload_lower_cases_tags_and_adds_the_marker() -> None:
    assert posthog.to_payload(POSTHOG, OWNER) == {
        "description": "Revenue per user",
        "tags": ["growth", "revenue", OWNER],
        "query": POSTHOG_QUERY,
        "name": "Revenue",
    }


def test_posthog_payload_without_tag_support_sends_no_tags() -> None:
    assert posthog.to_payload(POSTHOG, None) == {
        "description": "Revenue per user",
        "query": POSTHOG_QUERY,
        "name": "Revenue",
    }


def test_posthog_payload_clears_an_empty_description_with_an_empty_string() -> None:
    blank = Definition(posthog.KIND, "Revenue", {**POSTHOG_SPEC, "description": None})
    assert posthog.to_payload(blank, OWNER)["description"] == ""


def test_posthog_stored_payload_reads_back_owned_without_the_marker() -> None:
    live = posthog.from_payload(posthog_stored(posthog.to_payload(POSTHOG, OWNER)), OWNER)
    assert (live.kind, live.id, live.name) == (posthog.KIND, "42", "Revenue")
    assert (live.owned, live.generated, live.legacy) == (True, False, False)
    assert live.spec == {
        "description": "Revenue per user",
        "query": {**POSTHOG_QUERY, "uuid": "0190b4a2-5d6e-7000-8000-00000000a001"},
        "tags": ["revenue", "growth"],
    }


def test_posthog_round_trip_normalises_to_the_desired_document() -> None:
    live = posthog.from_payload(posthog_stored(posthog.to_payload(POSTHOG, OWNER)), OWNER)
    desired = normalise(POSTHOG_SPEC, posthog.NORMALISATION)
    assert normalise(live.spec, posthog.NORMALISATION) == desired
    assert desired == {
        "description": "Revenue per user",
        "tags": ["growth", "revenue"],
        "query": POSTHOG_QUERY,
    }


def test_posthog_export_gives_back_the_spec_with_tags_as_the_server_keeps_them() -> None:
    live = posthog.from_payload(posthog_stored(posthog.to_payload(POSTHOG, OWNER)), OWNER)
    assert posthog.to_spec(live) == {
        "description": "Revenue per user",
        "tags": ["revenue", "growth"],
        "query": POSTHOG_QUERY,
    }


def test_posthog_marker_is_recognised_whatever_its_case() -> None:
    stored = posthog_stored(posthog.to_payload(POSTHOG, OWNER))
    live = posthog.from_payload({**stored, "tags": ["Managed-By-Metricsync", "growth"]}, OWNER)
    assert (live.owned, live.spec["tags"]) == (True, ["growth"])


def test_mapping_modules_import_no_transport() -> None:
    """The pure translation stands alone: importing it pulls in neither httpx nor the provider
    contract, so `validate` and `import`'s spec export never load the transport."""
    code = (
        "import sys\n"
        "import metricsync.platforms.posthog.mapping, metricsync.platforms.statsig.mapping\n"
        "print(sorted({'httpx', 'metricsync.provider'} & set(sys.modules)))"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout == "[]\n"
