"""Pagination links and redirects: followed whenever a list does not count itself, and only on the
target's configured origin (scheme, host and port), so its credentials never go anywhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from metricsync import listing
from metricsync.client import ForeignOrigin
from metricsync.listing import BadPagination
from metricsync.platforms.posthog import provider as posthog
from metricsync.platforms.statsig import provider as statsig
from tests.engine.conftest import POSTHOG_KEY, STATSIG_KEY
from tests.engine.test_listing import page_of, posthog_target, statsig_target

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder(httpx.MockTransport):
    """A fake server that remembers every request it was sent, credentials included."""

    def __init__(self, handle: Handler, limit: int = 200) -> None:
        self.seen: list[httpx.Request] = []

        def recorded(request: httpx.Request) -> httpx.Response:
            self.seen.append(request)
            assert len(self.seen) <= limit, "the client kept following links"
            return handle(request)

        super().__init__(recorded)

    def hosts(self) -> set[str]:
        return {f"{r.url.scheme}://{r.url.netloc.decode()}" for r in self.seen}


def statsig_server(next_link: Callable[[int], str | None]) -> Recorder:
    """Statsig pages that link to the next one without counting (totalItems is optional)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/console/v1/tags":
            return httpx.Response(200, json={"data": [], "pagination": {"nextPage": None}})
        number = int(request.url.params.get("page", "1"))
        return httpx.Response(200, json=page_of([f"m{number}"], next_link(number)))

    return Recorder(handle)


def posthog_page(names: list[str], next_link: str | None) -> dict[str, Any]:
    results = [{"id": i, "name": n, "tags": [], "query": {}} for i, n in enumerate(names)]
    return {"next": next_link, "previous": None, "results": results}


def posthog_server(next_link: Callable[[int], str | None]) -> Recorder:
    """PostHog pages with `next` links and no `count`."""

    def handle(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", "0"))
        return httpx.Response(200, json=posthog_page([f"m{offset}"], next_link(offset)))

    return Recorder(handle)


POSTHOG_LIST = "http://posthog.sandbox/api/projects/1/experiment_saved_metrics/"


def test_posthog_pages_without_a_count_are_followed_by_their_next_links() -> None:
    def following(offset: int) -> str | None:
        return f"{POSTHOG_LIST}?limit=1&offset={offset + 1}" if offset < 2 else None

    server = posthog_server(following)
    provider = posthog.PostHogProvider(posthog_target(), server)
    assert [o.name for o in provider.read().objects] == ["m0", "m1", "m2"]


@pytest.mark.parametrize(
    "elsewhere",
    [
        "http://evil.example",  # another host
        "http://posthog.sandbox:8080",  # another port
        "https://posthog.sandbox",  # another scheme
    ],
)
def test_a_posthog_next_link_to_another_origin_is_refused_before_the_key_leaves(
    elsewhere: str,
) -> None:
    server = posthog_server(lambda offset: f"{elsewhere}/api/projects/1/?offset={offset + 1}")
    provider = posthog.PostHogProvider(posthog_target(), server)
    with pytest.raises(ForeignOrigin) as caught:
        provider.read()
    assert str(caught.value) == (
        f"posthog-test: refused a link to {elsewhere} (GET {elsewhere}/api/projects/1/): its "
        "credentials are only sent to http://posthog.sandbox"
    )
    assert server.hosts() == {"http://posthog.sandbox"}
    assert POSTHOG_KEY not in str(caught.value)


def test_a_statsig_next_page_on_another_port_is_refused_and_never_requested() -> None:
    server = statsig_server(
        lambda n: f"http://statsig.sandbox:9999/console/v1/metrics/list?page={n + 1}"
    )
    provider = statsig.StatsigProvider(statsig_target(), server)
    with pytest.raises(ForeignOrigin, match=r"^statsig-test: refused a link to http://statsig"):
        provider.read()
    assert server.hosts() == {"http://statsig.sandbox"}


def test_https_targets_never_follow_a_link_down_to_plain_http() -> None:
    server = statsig_server(
        lambda n: f"http://statsig.example/console/v1/metrics/list?page={n + 1}"
    )
    provider = statsig.StatsigProvider(statsig_target("https://statsig.example"), server)
    with pytest.raises(ForeignOrigin, match=r"only sent to https://statsig\.example$"):
        provider.read()
    assert server.hosts() == {"https://statsig.example"}


def test_next_links_that_go_round_in_a_circle_are_an_error() -> None:
    def following(n: int) -> str:
        return f"/console/v1/metrics/list?page={2 if n == 1 else 1}"

    provider = statsig.StatsigProvider(statsig_target(), statsig_server(following))
    with pytest.raises(BadPagination) as caught:
        provider.read()
    assert str(caught.value) == (
        "statsig-test: the list's next-page links go round in a circle (back to "
        "/console/v1/metrics/list?page=2); stopped reading"
    )


def test_next_links_that_never_end_stop_at_the_page_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "MAX_PAGES", 20)
    server = posthog_server(lambda offset: f"{POSTHOG_LIST}?offset={offset + 1}")
    provider = posthog.PostHogProvider(posthog_target(), server)
    with pytest.raises(BadPagination, match=r"^posthog-test: .* go on past 20 pages"):
        provider.read()
    assert len(server.seen) == 20


def test_a_count_of_more_pages_than_any_project_has_is_refused_unread() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/console/v1/tags":
            return httpx.Response(200, json={"data": [], "pagination": {"nextPage": None}})
        page = page_of(["a"], "/console/v1/metrics/list?page=2")
        page["pagination"].update(itemsPerPage=1, totalItems=10**6)
        return httpx.Response(200, json=page)

    server = Recorder(handle)
    with pytest.raises(BadPagination, match="says it has 1000000 pages"):
        statsig.StatsigProvider(statsig_target(), server).read()
    assert len(server.seen) <= 3  # the first page, and the tags beside it


def redirecting(location: str) -> Recorder:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/console/v1/tags":
            return httpx.Response(200, json={"data": [], "pagination": {"nextPage": None}})
        if request.url.host == "statsig.sandbox" and "moved" not in request.url.path:
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, json=page_of(["a"], None))

    return Recorder(handle)


def test_a_redirect_to_another_origin_is_refused_and_never_followed() -> None:
    server = redirecting("http://evil.example:8443/steal")
    with pytest.raises(ForeignOrigin) as caught:
        statsig.StatsigProvider(statsig_target(), server).read()
    assert str(caught.value) == (
        "statsig-test: GET http://statsig.sandbox/console/v1/metrics/list was redirected to "
        "http://evil.example:8443; not followed: its credentials are only sent to "
        "http://statsig.sandbox"
    )
    assert server.hosts() == {"http://statsig.sandbox"}
    assert all(
        STATSIG_KEY not in str(r.headers) for r in server.seen if r.url.host != "statsig.sandbox"
    )


def test_redirects_and_links_on_the_configured_origin_are_followed_for_reads() -> None:
    server = redirecting("/console/v1/moved/list")
    provider = statsig.StatsigProvider(statsig_target(), server)
    assert [o.name for o in provider.read().objects] == ["a"]

    def following(n: int) -> str | None:
        if n == 1:
            return "http://STATSIG.sandbox:80/console/v1/metrics/list?page=2"  # same origin
        return "/console/v1/metrics/list?page=3" if n == 2 else None

    provider = statsig.StatsigProvider(statsig_target(), statsig_server(following))
    assert [o.name for o in provider.read().objects] == ["m1", "m2", "m3"]
