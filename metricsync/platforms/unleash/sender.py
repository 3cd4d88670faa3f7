"""Sends usage payloads to Unleash's POST /api/client/metrics at most once each: counts
add up server-side, so a payload is never resent after a 202 or an unknown outcome, and a local
record of sent digests refuses a second send unless forced."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from metricsync.client import AmbiguousWrite, ApiClient, excerpt
from metricsync.config import Target
from metricsync.definitions import Definition
from metricsync.errors import ExitCode, MetricsyncError
from metricsync.files import write_whole
from metricsync.pacing import Limits
from metricsync.secrets import redact, remember

PATH = "/client/metrics"
RECORDS = {False: "unleash-sent.jsonl", True: "unleash-sent-sandbox.jsonl"}  # by --sandbox
ANSWERED = (204, 400, 401, 403, 413, 415, 429)  # handled here, each with its own message
LIMITS = Limits(windows=((6000, 60.0),))  # Unleash's REGISTER_CLIENT_RATE_LIMIT_PER_MINUTE default


class Delivery(StrEnum):
    ACCEPTED = "accepted"  # 202: queued, will be counted
    NOT_COUNTED = "not counted"  # refused or disabled: nothing was counted
    UNKNOWN = "unknown"  # the request may have reached Unleash: never resent automatically
    REFUSED = "refused"  # not sent: the record says it was sent before
    EMPTY = "empty"  # not sent: no toggle has a count


@dataclass(frozen=True)
class SendResult:
    target: str
    name: str
    source: str
    delivery: Delivery
    message: str
    digest: str = ""
    status: int | None = None


def body_to_send(spec: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The payload without toggles whose counts are all zero (Unleash drops them), and
    the names of the toggles left out."""
    body = json.loads(json.dumps(spec))  # a deep, JSON-only copy
    toggles = (body.get("bucket") or {}).get("toggles") or {}
    empty = [name for name, counts in toggles.items() if not _counted(counts)]
    for name in empty:
        del toggles[name]
    return body, empty


def _counted(counts: Any) -> bool:
    return not isinstance(counts, dict) or bool(counts.get("yes") or counts.get("no"))


def digest(body: Mapping[str, Any]) -> str:
    """Identifies a payload by content: key order and formatting do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class SentRecord:
    """`.metricsync/unleash-sent.jsonl`: one line per send attempt and one per outcome. A line is
    written before each request, so even a run killed mid-request leaves the payload marked.
    The file is rewritten whole on each mark (files.py), so a crash never leaves a cut line.
    Sandbox runs keep their own record, so rehearsing never blocks the real send."""

    def __init__(self, state_dir: Path, sandbox: bool = False) -> None:
        self.path = state_dir / RECORDS[sandbox]

    def last(self, target: str, payload_digest: str) -> dict[str, Any] | None:
        found = None
        for line in self._lines():
            entry = _entry(line)
            if entry and entry.get("target") == target and entry.get("digest") == payload_digest:
                found = entry
        return found

    def mark(self, target: str, name: str, payload_digest: str, state: str) -> None:
        entry = {"target": target, "name": name, "digest": payload_digest, "state": state}
        entry["at"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        lines = [*self._lines(), json.dumps(entry, ensure_ascii=False)]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_whole(self.path, "".join(line + "\n" for line in lines))
        except OSError as exc:
            raise MetricsyncError(
                f"cannot write the sent record {self.path}: {exc.strerror}"
            ) from None

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text("utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise MetricsyncError(
                f"cannot read the sent record {self.path}: {exc.strerror}"
            ) from None


def _entry(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):
        return None  # a line cut short by a crash; the lines before it still count
    return entry if isinstance(entry, dict) else None


class UnleashSender:
    """One Unleash target: its backend token, its HTTP client and the sent-digest record."""

    def __init__(
        self, target: Target, record: SentRecord, transport: httpx.BaseTransport | None = None
    ) -> None:
        token = target.secret("api_token")
        remember(token)  # sandbox tokens do not come from variables: scrub them too
        headers = {"Authorization": token, "unleash-appname": str(target.settings["app_name"])}
        self.target = target
        self.record = record
        self.client = ApiClient(target.name, target.endpoint, headers, LIMITS, transport=transport)

    def close(self) -> None:
        self.client.close()

    def send(self, definition: Definition, force: bool = False) -> SendResult:
        """Sends one payload unless the record says it was sent before (or `force`)."""
        body, empty = body_to_send(definition.spec)
        key, target = digest(body), self.target.name
        if body.get("bucket") and not body["bucket"].get("toggles"):
            message = "not sent: no toggle has a yes or no count"
            return SendResult(
                target, definition.name, definition.where, Delivery.EMPTY, message, key
            )
        previous = None if force else self.record.last(target, key)
        if previous and previous.get("state") != Delivery.NOT_COUNTED:
            message = _already(previous)
            return SendResult(
                target, definition.name, definition.where, Delivery.REFUSED, message, key
            )
        self.record.mark(target, definition.name, key, "sending")
        delivery, message, status = self._post(body)
        self.record.mark(target, definition.name, key, delivery.value)
        if empty and delivery == Delivery.ACCEPTED:
            message += f" (left out toggle(s) with no counts: {', '.join(empty)})"
        return SendResult(target, definition.name, definition.where, delivery, message, key, status)

    def _post(self, body: dict[str, Any]) -> tuple[Delivery, str, int | None]:
        try:
            response = self.client.send("POST", PATH, body=body, resend=False, ok=ANSWERED)
        except AmbiguousWrite as exc:
            return Delivery.UNKNOWN, f"{exc}; {UNKNOWN_ADVICE}", None
        except MetricsyncError as exc:  # an answer that is not Unleash's own (404: wrong url)
            return Delivery.NOT_COUNTED, f"{exc}; is url the Unleash server's /api root?", None
        delivery, message = describe(response)
        return delivery, message, response.status_code


UNKNOWN_ADVICE = (
    "the outcome is unknown, so it was not resent (a duplicate would double the counts); check "
    "/api/admin/client-metrics/features/<flag>/raw before sending again with --force"
)


def describe(response: httpx.Response) -> tuple[Delivery, str]:
    """What one answer of POST /api/client/metrics means for the payload
    (docs/sandbox/unleash.md)."""
    status = response.status_code
    if status == 202:
        return Delivery.ACCEPTED, "accepted (HTTP 202): queued; Unleash adds the counts within ~5 s"
    if status == 204:
        return Delivery.NOT_COUNTED, "not counted (HTTP 204): metrics are disabled on this server"
    if status == 429:
        wait = response.headers.get("Retry-After")
        after = f" after {wait} s" if wait else " after the rate-limit window (1 minute)"
        return (
            Delivery.NOT_COUNTED,
            f"rate limited (HTTP 429): nothing was counted; send again{after}",
        )
    return (
        Delivery.NOT_COUNTED,
        f"{_refusal(response)}; nothing was counted; fix it before resending",
    )


def _refusal(response: httpx.Response) -> str:
    status, body = response.status_code, _json(response)
    if status == 400 and not response.content:
        return (
            "Unleash's handler refused the payload (HTTP 400 with an empty body; the "
            "application instance may still have been registered)"
        )
    if status == 400 and isinstance(body, dict) and body.get("name") == "BadDataError":
        details = [d for d in body.get("details") or [] if isinstance(d, dict)]
        found = "; ".join(f"{d.get('path', '?')}: {d.get('message', '')}" for d in details)
        return f"Unleash's schema check refused the payload (HTTP 400): {redact(found)}"
    detail = redact(excerpt(response))
    reason = REASONS.get(status)
    return reason.format(detail=detail) if reason else f"HTTP {status}: {detail}"


REASONS = {
    400: "Unleash could not read the body as JSON (HTTP 400): {detail}",
    401: "Unleash refused the token (HTTP 401): api_token is missing, unknown or expired "
    "(Unleash keeps refusing an unknown token for 5 minutes, even once it exists)",
    403: "Unleash refused the token's type (HTTP 403): client metrics need a backend token, "
    "not a frontend, admin or personal access token",
    413: "the payload is too large for Unleash (HTTP 413: {detail}; the default limit is "
    "100 kB): split its toggles over several payloads",
    415: "Unleash refused the content type (HTTP 415): {detail}",
}


def _already(previous: Mapping[str, Any]) -> str:
    when = previous.get("at", "earlier")
    if previous.get("state") == Delivery.ACCEPTED:
        what = f"already sent on {when} and accepted; sending it again would double its counts"
    else:
        what = f"sent on {when} with an unknown outcome; check Unleash before sending it again"
    return f"not sent: {what} (--force sends it anyway)"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@dataclass(frozen=True)
class SendReport:
    results: tuple[SendResult, ...]

    def count(self, delivery: Delivery) -> int:
        return sum(1 for r in self.results if r.delivery == delivery)

    @property
    def exit_code(self) -> ExitCode:
        """1 when a payload was not counted or its outcome is unknown (4 when others were
        accepted), else 5 when the record refused one, else 0."""
        failed = self.count(Delivery.NOT_COUNTED) + self.count(Delivery.UNKNOWN)
        if failed:
            return ExitCode.PARTIAL if self.count(Delivery.ACCEPTED) else ExitCode.ERROR
        return ExitCode.REFUSED if self.count(Delivery.REFUSED) else ExitCode.OK


Batch = tuple[Target, Sequence[Definition]]


def send_all(
    batches: Sequence[Batch],
    record: SentRecord,
    force: bool = False,
    transport_for: Callable[[Target], httpx.BaseTransport | None] | None = None,
    progress: Callable[[SendResult], None] | None = None,
) -> SendReport:
    """Sends each target's payloads in order. Every token is resolved before the first request."""
    results: list[SendResult] = []
    with ExitStack() as stack:
        senders = []
        for target, payloads in batches:
            transport = transport_for(target) if transport_for else None
            sender = UnleashSender(target, record, transport)
            stack.callback(sender.close)
            senders.append((sender, payloads))
        for sender, payloads in senders:
            for payload in payloads:
                results.append(sender.send(payload, force))
                if progress:
                    progress(results[-1])
    return SendReport(tuple(results))
