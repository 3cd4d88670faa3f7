"""Options shared by every command (docs/commands/): --config, --target, --sandbox, --format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def config_option(function: F) -> F:
    return click.option(
        "--config",
        "config_path",
        # Not dir_okay=False: a folder given as config is exit 3 like any unreadable config
        # (read_config says why), not a usage error.
        type=click.Path(path_type=Path),
        metavar="FILE",
        default=Path("metricsync.yaml"),
        show_default=True,
        help="Project config file.",
    )(function)


def target_option(function: F) -> F:
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="NAME",
        help="Only this target (repeatable; default: all targets).",
    )(function)


def sandbox_option(function: F) -> F:
    return click.option(
        "--sandbox",
        is_flag=True,
        help="Run against the embedded sandbox instead of the real platforms.",
    )(function)


def sandbox_accepted(function: F) -> F:
    """--sandbox on a command that sends nothing: accepted, so that one command line works for
    every command (docs/commands/), and without effect."""
    return click.option(
        "--sandbox",
        is_flag=True,
        expose_value=False,
        help="Accepted for every command; this one sends nothing, so it changes nothing.",
    )(function)


def format_option(*choices: str) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        return click.option(
            "--format",
            "output_format",
            type=click.Choice(choices),
            default=choices[0],
            show_default=True,
            help="Output format.",
        )(function)

    return decorate


def timeout_option(function: F) -> F:
    """--timeout SECONDS on every command that uses the network (docs/network.md): it starts the
    run's deadline as the command line is read, before any request."""
    from metricsync.deadline import DEFAULT_RUN_SECONDS, start_run

    def start(context: click.Context, _param: click.Parameter, seconds: float) -> None:
        start_run(seconds)
        context.call_on_close(lambda: start_run(None))  # a later run in this process starts anew

    return click.option(
        "--timeout",
        type=click.IntRange(min=1),
        default=DEFAULT_RUN_SECONDS,
        show_default=True,
        metavar="SECONDS",
        expose_value=False,
        callback=start,
        help="Deadline for the whole run, rate-limit waits and retries included; each request "
        "also has its own limit of 120 s.",
    )(function)
