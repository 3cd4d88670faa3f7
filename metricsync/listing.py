"""Reading a platform's whole list: the pages requested concurrently, the expected ones alongside
the first, and each page decoded into only the fields a plan reads.

msgspec skips every other field while it parses, so reading 10,000 live objects builds a fraction
of what a generic JSON decode would (benchmarks/plan.py); the GC is paused meanwhile (bulk.py).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Required, TypedDict, TypeVar, cast

import msgspec

from metricsync.live import LiveObject

Key = TypeVar("Key", bound=Hashable)
Page = TypeVar("Page")


@dataclass(frozen=True)
class LivePage:
    objects: list[LiveObject]
    envelope: dict[str, Any]  # the rest of the page: counts, links


class ListFormat:
    """A list endpoint's envelope: the key that holds the objects and the other keys a client
    follows (counts, links); of each object, only `fields` are decoded and `required` must be
    present. Anything else the server sends is skipped while parsing, never built."""

    def __init__(
        self,
        items: str,
        required: Iterable[str],
        fields: Iterable[str],
        envelope: Iterable[str] = (),
    ) -> None:
        item_fields: dict[str, Any] = {name: Any for name in fields}
        item_fields.update({name: Required[Any] for name in required})
        # A TypedDict decodes to a plain dict holding just the declared keys that were sent.
        item = TypedDict("Item", item_fields, total=False)  # type: ignore[misc]
        page_fields: dict[str, Any] = {name: Any for name in envelope}
        page_fields[items] = Required[list[item]]
        page = TypedDict("Page", page_fields, total=False)  # type: ignore[misc]
        self.items = items
        self._decoder = msgspec.json.Decoder(page)

    def decode(self, content: bytes) -> dict[str, Any]:
        """The page as a dict; raises ValueError (msgspec.DecodeError) for a body that is not
        JSON or not this envelope, with the JSON path of the first thing that is wrong."""
        return cast(dict[str, Any], self._decoder.decode(content))

    def page(
        self, body: dict[str, Any], to_object: Callable[[dict[str, Any]], LiveObject]
    ) -> LivePage:
        """A decoded page as live objects, mapped as each page arrives rather than all at the
        end, so the mapping overlaps the requests still in flight."""
        objects = [to_object(raw) for raw in body.pop(self.items)]
        return LivePage(objects, body)


def fetch_pages(
    fetch: Callable[[Key], Page],
    first: Key,
    expected: Sequence[Key],
    remaining: Callable[[Page], Sequence[Key]],
    concurrency: int,
) -> list[Page]:
    """The first page, and with it up to one round of the `expected` pages; then every page the
    first one says exists, `concurrency` at a time, in order.

    An expected page the first one does not confirm is dropped, so a wrong guess costs at most
    `concurrency - 1` wasted requests, never a wrong read; a right one saves a round trip.
    """
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        try:
            head = pool.submit(fetch, first)
            early: dict[Key, Future[Page]] = {
                key: pool.submit(fetch, key) for key in expected[: concurrency - 1]
            }
            keys = remaining(head.result())
            confirmed = set(keys)
            for key, future in early.items():
                if key not in confirmed:
                    future.cancel()
            rest = [early[key] if key in early else pool.submit(fetch, key) for key in keys]
            return [head.result(), *(future.result() for future in rest)]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # nothing more is sent after a failure
            raise
