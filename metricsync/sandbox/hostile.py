"""The sandbox as a hostile server, on demand (fault actions, faults.py): answers that send a client
elsewhere (links and redirects to another origin), that never end (endless or circular pages, a
trickling body), or that no API sends (an oversized body, an HTML page, NaN in JSON)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from metricsync.sandbox.http import Request, Response

if TYPE_CHECKING:
    from metricsync.sandbox.platform import SandboxPlatform

# action name: whether it takes an argument (after a colon)
ACTIONS = {
    "redirect": True,  # redirect:ORIGIN, a 302 to the same path on ORIGIN
    "foreign-next": True,  # foreign-next:ORIGIN, list pages link their next page on ORIGIN
    "endless": False,  # list pages always link a next page
    "cyclic": False,  # list pages link back to themselves
    "trickle": True,  # trickle:SECONDS, the answer's body spread over SECONDS
    "oversize": True,  # oversize:MIB, a body of MIB mebibytes
    "html": False,  # a 200 that is an HTML page
    "nan": False,  # the JSON answer carries a NaN
}
MAX_TRICKLE_S = 300.0
MAX_OVERSIZE_MIB = 4096
PIECE_S = 0.05  # a trickle sends a piece every 50 ms or so
BLOCK = 64 * 1024
SIGN_IN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in - Corporate proxy</title></head>\n"
    b'<body><form method="post"><input name="user"><input name="password" type="password">'
    b"</form></body></html>\n"
)


@dataclass(frozen=True)
class BodyStream:
    """A body written piece by piece, `interval_s` before each, after a declared `length`."""

    length: int
    interval_s: float
    pieces: Callable[[], Iterator[bytes]]


def problem(action: str) -> str | None:
    """What is wrong with a hostile action, or None."""
    name, colon, argument = action.partition(":")
    if name not in ACTIONS or ACTIONS[name] != bool(colon):
        return f"unknown hostile action {action!r}"
    if name in ("redirect", "foreign-next"):
        parts = urlsplit(argument)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            return f"{name} needs an origin, scheme://host[:port], not {argument!r}"
    if name == "trickle" and not _number_within(argument, MAX_TRICKLE_S):
        return f"trickle needs seconds 0-{MAX_TRICKLE_S:g}"
    if name == "oversize" and not (argument.isdigit() and 1 <= int(argument) <= MAX_OVERSIZE_MIB):
        return f"oversize needs mebibytes 1-{MAX_OVERSIZE_MIB}"
    return None


def _number_within(text: str, most: float) -> bool:
    try:
        return 0 < float(text) <= most
    except ValueError:
        return False


def answer(
    action: str,
    request: Request,
    route: Callable[[Request], Response],
    platform: SandboxPlatform | None,
) -> tuple[Response, BodyStream | None]:
    """The hostile answer to `request`; `route` gives the honest one it is made from, and the
    owning `platform` rewrites its list pages' links."""
    name, _, argument = action.partition(":")
    if name == "redirect":
        location = argument.rstrip("/") + link(request, {})
        return Response(302, b"", {"Location": location}), None
    if name == "html":
        return Response(200, SIGN_IN_PAGE, {"Content-Type": "text/html; charset=utf-8"}), None
    honest = route(request)
    if name == "trickle":
        return honest, _trickle(honest.body, float(argument))
    if name == "oversize":
        return honest, _oversize(int(argument) * 1024 * 1024)
    payload = _json(honest)
    if not isinstance(payload, dict):
        return honest, None
    if name == "nan":
        payload["sandboxScore"] = math.nan
    elif platform is not None:
        origin = argument.rstrip("/") if name == "foreign-next" else None
        platform.relink(payload, request, cyclic=name == "cyclic", origin=origin)
    body = json.dumps(payload, separators=(",", ":"), allow_nan=True).encode()
    return Response(honest.status, body, honest.headers), None


def _json(response: Response) -> Any:
    try:
        return response.payload()
    except ValueError:
        return None


def link(request: Request, changes: dict[str, int]) -> str:
    """The request's path and query, with `changes` made to the query."""
    query = {**request.query, **{k: [str(v)] for k, v in changes.items()}}
    encoded = urlencode(query, doseq=True)
    return request.path + (f"?{encoded}" if encoded else "")


def _trickle(body: bytes, seconds: float) -> BodyStream:
    count = max(1, min(len(body), int(seconds / PIECE_S)))
    size = math.ceil(len(body) / count) if body else 0

    def pieces() -> Iterator[bytes]:
        for start in range(0, max(len(body), 1), max(size, 1)):
            yield body[start : start + size]

    return BodyStream(len(body), seconds / count, pieces)


def _oversize(length: int) -> BodyStream:
    def pieces() -> Iterator[bytes]:
        for start in range(0, length, BLOCK):
            yield b" " * min(BLOCK, length - start)

    return BodyStream(length, 0.0, pieces)
