"""A provider keeps nothing a run learns: a read returns what it found (LiveRead), a write
returns what it learnt (Written), and the caller hands both back in. So one provider serves
reads of a target that changes between them, and apply's worker threads never write to it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from metricsync.apply import Status
from metricsync.config import Policy
from metricsync.definitions import Definition
from metricsync.live import LiveRead
from metricsync.plan import Action, Change
from metricsync.planner import target_view
from metricsync.platforms import KINDS
from metricsync.platforms.posthog import mapping as posthog_mapping
from metricsync.platforms.posthog import provider as posthog
from metricsync.platforms.statsig import mapping as statsig_mapping
from metricsync.platforms.statsig import provider as statsig
from metricsync.provider import Learnt, Provider
from metricsync.sandbox.app import SandboxApp
from metricsync.sandbox.transport import SandboxTransport
from tests.engine.conftest import Project
from tests.engine.test_listing import OWNER, posthog_target, statsig_target

STATSIG_SPEC = {
    "type": "sum",
    "unitTypes": ["userID"],
    "tags": ["growth"],
    "metricEvents": [{"name": "purchase", "type": "value"}],
}
POSTHOG_QUERY = {
    "kind": "ExperimentMetric",
    "metric_type": "mean",
    "source": {"kind": "EventsNode", "event": "purchase", "math": "sum"},
}
POSTHOG_METRIC = """\
kind: posthog/saved_metric
name: {name}
spec:
  tags: [checkout]
  query: {{kind: ExperimentMetric, metric_type: mean, source: {{kind: EventsNode, event: e{name}}}}}
"""


def held(provider: Provider) -> dict[str, Any]:
    """Everything the provider holds but its client (the transport's pacing and counters)."""
    return {key: value for key, value in vars(provider).items() if key != "client"}


def create(kind: str, name: str, spec: dict[str, Any]) -> Change:
    return Change(Action.CREATE, kind, name, definition=Definition(kind, name, spec))


def test_statsig_setup_follows_the_read_it_is_given_not_the_last_one() -> None:
    provider = statsig.StatsigProvider(statsig_target(), SandboxTransport(SandboxApp()))
    before = held(provider)
    change = create(statsig_mapping.KIND, "revenue", STATSIG_SPEC)
    first = provider.read()
    provider.prepare([change], first.facts)  # creates both tags
    second = provider.read()
    assert provider.missing_tags([change], first.facts) == ["growth", OWNER]
    assert provider.missing_tags([change], second.facts) == []
    assert provider.setup_calls([change], first.facts) == 2
    written = provider.create(change, second.facts)
    assert written.answered is not None and written.answered.owned
    assert written.learnt == Learnt()
    assert held(provider) == before


def test_posthog_tag_check_returns_what_it_learnt_and_the_provider_keeps_nothing() -> None:
    app = SandboxApp()
    app.seed({"posthog": {"settings": {"tagging": False}, "projects": {"1": {}}}})
    provider = posthog.PostHogProvider(posthog_target(), SandboxTransport(app))
    before = held(provider)
    spec = {"tags": ["checkout"], "query": POSTHOG_QUERY}
    first = provider.create(create(posthog_mapping.KIND, "first", spec), {})
    assert first.learnt == Learnt(
        {"tags_ignored": True}, (posthog.TAGS_IGNORED.format(project="1"),)
    )
    kind = KINDS[provider.kind]
    assert provider.written_view({}, kind).marker_supported
    assert not provider.written_view(first.learnt.facts, kind).marker_supported
    second = provider.create(create(posthog_mapping.KIND, "second", spec), first.learnt.facts)
    assert second.learnt == Learnt()  # the run knows already: nothing new, no second note
    assert held(provider) == before


def test_apply_records_what_concurrent_writes_learnt_once(project: Project) -> None:
    project.app.configure({"posthog": {"tagging": False}})
    for name in ("a", "b", "c", "d", "e", "f"):
        project.write(f"definitions/posthog/{name}.yaml", POSTHOG_METRIC.format(name=name))
    report = project.apply()
    assert [o.status for o in report.outcomes] == [Status.APPLIED] * 6
    assert report.notes == (posthog.TAGS_IGNORED.format(project="12345"),)
    assert report.learnt == {"posthog-test": {"tags_ignored": True}}


def test_how_names_compare_is_declared_once_on_the_kind() -> None:
    views = {
        view.kind: view.casefold_names
        for provider in (
            statsig.StatsigProvider(statsig_target(), SandboxTransport(SandboxApp())),
            posthog.PostHogProvider(posthog_target(), SandboxTransport(SandboxApp())),
        )
        for view in [target_view(provider, LiveRead([]), frozenset())]
    }
    assert views == {kind: KINDS[kind].casefold_names for kind in views}
    assert views == {statsig_mapping.KIND: False, posthog_mapping.KIND: True}


def test_how_tags_compare_is_declared_once_on_the_kind() -> None:
    """PostHog lower-cases tags, so another repository's marker is found whatever the case of
    the prefix: the provider learns that from the Kind, not from a constant of its own."""
    target = replace(posthog_target(), policy=Policy(foreign_owner_prefix="Managed-By-"))
    provider = posthog.PostHogProvider(target, SandboxTransport(SandboxApp()))
    kind = KINDS[provider.kind]
    stored = {"tags": ["managed-by-another-repo"]}  # as PostHog keeps "Managed-By-Another-Repo"
    assert kind.casefold_tags
    assert provider.kind_diff(LiveRead([]), kind).foreign(stored) is not None
    as_written = replace(kind, casefold_tags=False)
    assert provider.kind_diff(LiveRead([]), as_written).foreign(stored) is None


def test_a_read_leaves_each_provider_as_it_was() -> None:
    app = SandboxApp()
    app.seed({"posthog": {"projects": {"1": {}}}})
    providers = (
        statsig.StatsigProvider(statsig_target(), SandboxTransport(app)),
        posthog.PostHogProvider(posthog_target(), SandboxTransport(app)),
    )
    for provider in providers:
        before = held(provider)
        provider.read()
        assert held(provider) == before, type(provider).__name__
