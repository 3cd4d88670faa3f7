"""Reading a platform's whole list: the pages requested concurrently, the expected ones alongside
the first, and each page decoded, as it arrives, into only the fields a plan reads.

msgspec skips every other field while it parses, so reading 10,000 live objects builds a fraction
of what a generic JSON decode would (benchmarks/plan.py); the GC is paused meanwhile (bulk.py).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Annotated, Any, Required, TypedDict, TypeVar, cast

import msgspec

from metricsync.errors import NetworkError
from metricsync.live import LiveObject

MAX_PAGES = 10_000  # pages of one list: ten million objects at Statsig's page size
Key = TypeVar("Key", bound=Hashable)
Body = TypeVar("Body")
Page = TypeVar("Page")
# The envelope fields a client counts and follows, typed so that a server answering anything
# else (a count that is text, negative or a boolean, a link that is not a string) fails the
# page's decode with the field's JSON path, naming the request, never later as a crash.
Count = Annotated[int, msgspec.Meta(ge=0)] | None
Link = str | None


OBJECT = msgspec.json.Decoder(dict[str, Any])  # an answer that must be one JSON object


def envelope_decoder(items: str, envelope: Mapping[str, Any]) -> msgspec.json.Decoder[Any]:
    """A decoder of a list page whose items its reader checks one by one (a missing or null
    list reads as empty), its envelope typed as for ListFormat."""
    fields: dict[str, Any] = dict(envelope)
    fields[items] = list[Any] | None
    page = TypedDict("Page", fields, total=False)  # type: ignore[misc]
    return msgspec.json.Decoder(page)


@dataclass(frozen=True)
class LivePage:
    objects: list[LiveObject]
    envelope: dict[str, Any]  # the rest of the page: counts, links


class ListFormat:
    """A list endpoint's envelope: the key that holds the objects and the other keys a client
    follows (counts, links), each with the type it must have; of each object, only `fields` are
    decoded and `required` must be present. Anything else the server sends is skipped while
    parsing, never built."""

    def __init__(
        self,
        items: str,
        required: Iterable[str],
        fields: Iterable[str],
        envelope: Mapping[str, Any] | None = None,
    ) -> None:
        item_fields: dict[str, Any] = {name: Any for name in fields}
        item_fields.update({name: Required[Any] for name in required})
        # A TypedDict decodes to a plain dict holding just the declared keys that were sent.
        item = TypedDict("Item", item_fields, total=False)  # type: ignore[misc]
        page_fields: dict[str, Any] = dict(envelope or {})
        page_fields[items] = Required[list[item]]
        page = TypedDict("Page", page_fields, total=False)  # type: ignore[misc]
        self.items = items
        self._decoder = msgspec.json.Decoder(page)

    def decode(self, content: bytes) -> dict[str, Any]:
        """The page as a dict; raises ValueError (msgspec.DecodeError) for a body that is not
        JSON or not this envelope, with the JSON path of the first thing that is wrong."""
        return cast(dict[str, Any], self._decoder.decode(content))

    def page(
        self,
        body: dict[str, Any],
        to_object: Callable[[dict[str, Any], str], LiveObject],
        owner: str,
    ) -> LivePage:
        """A decoded page as live objects: `to_object(raw, owner)` maps each one, called plainly
        because a call through a keyword-bound partial costs twice as much, once per object."""
        objects = [to_object(raw, owner) for raw in body.pop(self.items)]
        return LivePage(objects, body)


def fetch_pages(
    get: Callable[[Key], Body],
    parse: Callable[[Body], Page],
    first: Key,
    expected: Sequence[Key],
    remaining: Callable[[Page], Sequence[Key]],
    concurrency: int,
) -> list[Page]:
    """The first page, and with it up to one round of the `expected` pages; then every page the
    first one says exists, `concurrency` in flight at a time, returned in order.

    Pool threads only `get` (send and receive), so a connection takes the next request the moment
    its page has arrived; the calling thread `parse`s each page as it comes in, the first one
    before any other because it says which pages exist. An expected page the first does not
    confirm is dropped, so a wrong guess costs at most `concurrency - 1` wasted requests, never a
    wrong read; a right one saves a round trip.
    """
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        try:
            head = pool.submit(get, first)
            early = {key: pool.submit(get, key) for key in expected[: concurrency - 1]}
            first_page = parse(head.result())
            keys = remaining(first_page)
            confirmed = set(keys)
            for key, future in early.items():
                if key not in confirmed:
                    future.cancel()
            rest = [early[key] if key in early else pool.submit(get, key) for key in keys]
            parsed = {future: parse(future.result()) for future in as_completed(rest)}
            return [first_page, *(parsed[future] for future in rest)]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # nothing more is sent after a failure
            raise


class BadPagination(NetworkError):
    """A list whose pages never end, or whose next-page links go round in a circle."""


def check_page_count(target: str, pages: int) -> None:
    """Refuses a list whose counts say it has more pages than any real project."""
    if pages > MAX_PAGES:
        raise BadPagination(
            f"{target}: the list says it has {pages} pages, more than the {MAX_PAGES} "
            "metricsync reads; stopped before reading them"
        )


def check_first_page(target: str, counted: int, held: int) -> None:
    """Refuses a list whose count is below what its first page, which links a next one, holds:
    reading by that count would silently drop the objects past the first page."""
    if counted < held:
        raise BadPagination(
            f"{target}: the list counts {counted} objects, but its first page alone holds {held} "
            "and links a next page; stopped before reading a list that contradicts itself"
        )


def follow_links(
    target: str,
    get: Callable[[str], Body],
    parse: Callable[[Body], Page],
    first: Page,
    next_link: Callable[[Page], str | None],
) -> list[Page]:
    """The pages after `first`, read one `next_link` after another: for a server that links its
    pages without counting them. A link seen before (a cycle) or more than MAX_PAGES pages stop
    the read with an error; which origins a link may point at is the client's check."""
    pages: list[Page] = []
    seen: set[str] = set()
    link = next_link(first)
    while link:
        if link in seen:
            raise BadPagination(
                f"{target}: the list's next-page links go round in a circle (back to {link}); "
                "stopped reading"
            )
        if len(seen) + 1 >= MAX_PAGES:
            raise BadPagination(
                f"{target}: the list's next-page links go on past {MAX_PAGES} pages; "
                "stopped reading"
            )
        seen.add(link)
        page = parse(get(link))
        pages.append(page)
        link = next_link(page)
    return pages
