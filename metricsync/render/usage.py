"""How the experiments using an object read in a plan (`protect_in_use` in docs/config.md): a line
under the change in text, and a risk sentence for the pull-request comment."""

from __future__ import annotations

from collections.abc import Callable

from metricsync.plan import Action, Change, Use

Quote = Callable[[str], str]


def used_by_line(change: Change) -> str | None:
    """`used by: checkout-v2 (active, running), old-test (archived)`; None when not looked up."""
    if change.usage_unknown is not None:
        return f"used by: unknown, so treated as in use ({change.usage_unknown})"
    if change.used_by is None:
        return None
    if not change.used_by:
        return "used by: no experiment"
    return "used by: " + ", ".join(_one(u) for u in change.used_by)


def _one(use: Use) -> str:
    running = use.running and use.status != "running"
    return f"{use.name} ({use.status}, running)" if running else f"{use.name} ({use.status})"


def usage_risk(change: Change, name: Quote, text: Quote, most: int | None = None) -> str | None:
    """The risk a reviewer must see first: `deletes `X`, used by 2 running experiments: a, b`;
    for a measuring update, `changes the results of running experiment a (updates `X`)`.
    `name` renders the object's name, `text` an experiment's (escaping for markdown); with
    `most`, each list names that many experiments and counts the rest (`and 3 more`)."""
    verb = {Action.DELETE: "deletes", Action.REPLACE: "replaces"}.get(change.action, "updates")
    what = f"{verb} {name(change.name)}"
    if change.usage_unknown is not None:
        return f"{what}, whose experiments could not be looked up: treated as in use"
    users = change.used_by or ()
    live = [u for u in users if u.running]
    ended = [u for u in users if not u.running]
    if change.action == Action.UPDATE:
        if not live:
            return None
        names = _names(live, text, most)
        return f"changes the results of running {_experiments(len(live))} {names} ({what})"
    if not users:
        return None
    parts = []
    if live:
        parts.append(f"{len(live)} running {_experiments(len(live))}: " + _names(live, text, most))
    if ended:
        parts.append(
            f"{len(ended)} {_experiments(len(ended))} not running: " + _names(ended, text, most)
        )
    return f"{what}, used by " + "; and by ".join(parts)


def _names(users: list[Use], text: Quote, most: int | None = None) -> str:
    shown = users if most is None else users[:most]
    names = ", ".join(text(u.name if u.running else f"{u.name} ({u.status})") for u in shown)
    return names + (f" and {len(users) - len(shown)} more" if len(shown) < len(users) else "")


def _experiments(count: int) -> str:
    return "experiment" if count == 1 else "experiments"
