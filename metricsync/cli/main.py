"""The `metricsync` command: every command, the platforms' own from their records, run so that
each expected failure is printed once with its exit code and no traceback gets out."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

import click

from metricsync import __version__
from metricsync.cli.importer import import_command
from metricsync.cli.init import init_command
from metricsync.cli.plan import apply_command, plan_command
from metricsync.cli.sandbox import sandbox_group
from metricsync.cli.schema import schema_command
from metricsync.cli.targets import targets_command
from metricsync.cli.validate import validate_command
from metricsync.cli.verify import verify_command
from metricsync.errors import ExitCode, InvalidInput, MetricsyncError
from metricsync.platforms import PLATFORMS


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="metricsync")
def cli() -> None:
    """Keep experiment and analytics metric definitions in Git.

    YAML definitions are validated against JSON Schemas, diffed against the live platforms
    metricsync syncs and applied as ordered plans, or checked against the platforms it does not
    sync (`metricsync targets --format json` marks each target planned or verified).
    """


cli.add_command(init_command)
cli.add_command(validate_command)
cli.add_command(plan_command)
cli.add_command(apply_command)
cli.add_command(schema_command)
cli.add_command(targets_command)
cli.add_command(sandbox_group)
cli.add_command(verify_command)
for platform in PLATFORMS.values():
    for command in platform.commands:
        cli.add_command(command)
cli.add_command(import_command)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where a Ctrl-C would be: the run stops the same clean way (the lock
    released, no file half written) and exits 143."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def run(argv: list[str] | None = None) -> int:
    """Runs one command and returns its exit code (docs/README.md); never lets a traceback out.
    SIGTERM stops it as Ctrl-C does (apply installs its own handlers for its writes)."""
    if threading.current_thread() is not threading.main_thread():
        return _run(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stopped(interrupt: BaseException | None) -> int | None:
    """The exit code of a run stopped by Ctrl-C or SIGTERM, saying so; None for anything else."""
    if isinstance(interrupt, Terminated):
        click.echo("Terminated.", err=True)
        return ExitCode.TERMINATED
    if isinstance(interrupt, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        return ExitCode.INTERRUPTED
    return None


def _run(argv: list[str] | None) -> int:
    from metricsync.display import printable
    from metricsync.secrets import redact

    try:
        result = cli.main(args=argv, prog_name="metricsync", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        return ExitCode.USAGE
    except click.UsageError as exc:
        exc.show()
        return ExitCode.USAGE
    except click.exceptions.Abort as exc:
        stopped = _stopped(exc.__cause__)  # click's form of a Ctrl-C (or our SIGTERM)
        if stopped is not None:
            return stopped
        click.echo("Aborted.", err=True)
        return ExitCode.ERROR
    except click.ClickException as exc:
        exc.show()
        return ExitCode.ERROR
    except InvalidInput as exc:
        for problem in exc.problems:  # every problem, then the verdict: nothing was sent
            click.echo(printable(redact(str(problem))), err=True)
        click.echo(f"Error: {redact(str(exc))}", err=True)
        return exc.exit_code
    except MetricsyncError as exc:  # server text included: no control sequence reaches a terminal
        click.echo(f"Error: {printable(redact(str(exc)), lines=True)}", err=True)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _stopped(exc) or ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: say so plainly, without secrets
        if os.environ.get("METRICSYNC_DEBUG"):
            import traceback

            click.echo(printable(redact(traceback.format_exc()), lines=True), err=True)
        message = printable(redact(str(exc)), lines=True)
        click.echo(f"Error: unexpected {type(exc).__name__}: {message}", err=True)
        return ExitCode.ERROR
    return int(result or 0)
