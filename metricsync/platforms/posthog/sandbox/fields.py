"""PostHog saved-metric fields as Django REST framework validates them, and the one-error body
`{type, code, detail, attr}` every failure answers with (docs/sandbox/posthog.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metricsync.sandbox.http import Request, Response

MAX_LENGTH = 400


class PostHogError(Exception):
    """A failed request: exactly one error, as drf-exceptions-hog reports it."""

    def __init__(
        self,
        status: int,
        kind: str,
        code: str,
        detail: str,
        attr: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.kind, self.code, self.detail = status, kind, code, detail
        self.attr, self.headers = attr, headers

    def response(self) -> Response:
        body = {"type": self.kind, "code": self.code, "detail": self.detail, "attr": self.attr}
        return Response.json(self.status, body, self.headers)


def invalid(detail: str, attr: str | None = None, code: str = "invalid_input") -> PostHogError:
    return PostHogError(400, "validation_error", code, detail, attr)


def json_body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError as error:
        raise PostHogError(
            400, "invalid_request", "parse_error", f"JSON parse error - {error}"
        ) from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid(f"Invalid data. Expected a dictionary, but got {type(body).__name__}.")
    return body


def clean(
    body: Mapping[str, Any], partial: bool, null_description: str, null_tags: str
) -> dict[str, Any]:
    """The writable fields present in `body`, validated in serializer order; others are dropped.

    `partial` is PATCH (nothing required). `null_description` and `null_tags` are the sandbox's
    choices for a `null` the API documents no answer to ("clear"/"ignore", "reject"/"ignore").
    """
    fields: dict[str, Any] = {}
    for attr, null_ok in (("name", False), ("description", True)):
        if attr in body:
            fields[attr] = _char(body[attr], attr, allow_null=null_ok, allow_blank=null_ok)
        elif attr == "name" and not partial:
            raise invalid("This field is required.", attr, "required")
    if "description" in fields and fields["description"] is None and null_description == "ignore":
        del fields["description"]
    if "query" in body:
        if body["query"] is None:
            raise invalid("This field may not be null.", "query", "null")
        fields["query"] = body["query"]
    elif not partial:
        raise invalid("This field is required.", "query", "required")
    if "tags" in body and not (body["tags"] is None and null_tags == "ignore"):
        fields["tags"] = _tags(body["tags"])
    return fields


def _char(value: Any, attr: str, allow_null: bool, allow_blank: bool) -> str | None:
    """A DRF CharField: numbers become text, whitespace is trimmed, then blank and length rules."""
    if value is None:
        if allow_null:
            return None
        raise invalid("This field may not be null.", attr, "null")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid("Not a valid string.", attr)
    text = str(value).strip()
    if not text and not allow_blank:
        raise invalid("This field may not be blank.", attr, "blank")
    if len(text) > MAX_LENGTH:
        message = f"Ensure this field has no more than {MAX_LENGTH} characters."
        raise invalid(message, attr, "max_length")
    return text


def _tags(value: Any) -> list[str]:
    if value is None:
        raise invalid("This field may not be null.", "tags", "null")
    if not isinstance(value, list):
        detail = f'Expected a list of items but got type "{type(value).__name__}".'
        raise invalid(detail, "tags", "not_a_list")
    for index, tag in enumerate(value):
        if not isinstance(tag, str):
            raise invalid("Not a valid string.", f"tags__{index}")
    return value


def tagify(tags: list[str]) -> list[str]:
    """Trimmed, lower-cased, de-duplicated; PostHog keeps no order, the sandbox sorts them."""
    return sorted({tag.strip().lower() for tag in tags})
