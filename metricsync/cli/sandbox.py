"""`metricsync sandbox serve`: every platform's emulator on a loopback port, in the foreground."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from metricsync.errors import ExitCode, MetricsyncError, UsageError

if TYPE_CHECKING:
    from metricsync.sandbox.app import SandboxApp
    from metricsync.sandbox.store import Store

DEFAULT_STATE = Path(".metricsync") / "sandbox.db"


@click.group("sandbox")
def sandbox_group() -> None:
    """The sandbox: an emulator of every platform's API (`sandbox serve` lists them)."""


@sandbox_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address only.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--state",
    "state",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"SQLite file of the sandbox state.  [default: {DEFAULT_STATE}]",
)
@click.option("--memory", is_flag=True, help="Keep the state in memory only (no file).")
@click.option("--reset", is_flag=True, help="Start empty: delete the state file first.")
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    metavar="FILE",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Seed file, YAML or JSON (repeatable, applied in order).",
)
@click.option(
    "--latency-ms",
    type=click.IntRange(0, 60_000),
    default=None,
    metavar="N",
    help="Delay every answer by N milliseconds.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="Fault rule in the syntax below (repeatable).",
)
@click.option(
    "--sandbox",
    is_flag=True,
    expose_value=False,
    help="Accepted for every command; serve runs the sandbox itself.",
)
def serve_command(
    host: str,
    port: int,
    state: Path | None,
    memory: bool,
    reset: bool,
    seeds: tuple[Path, ...],
    latency_ms: int | None,
    faults: tuple[str, ...],
) -> int:
    """Run the sandbox API server in the foreground until Ctrl-C.

    Prints (to stderr) where it listens, the credentials it accepts, `export` lines for the
    example config's variables and the URLs to put in metricsync.yaml. State persists in
    --state between runs; seeding adds to it (use --reset to start from the seed alone).
    METRICSYNC_SANDBOX_LATENCY_MS and METRICSYNC_SANDBOX_FAULTS (JSON) add faults too.

    \b
    Fault SPEC: [METHOD ]GLOB=ACTION[xN][,retry-after=S]
      METHOD  GET, POST, PUT, PATCH, DELETE, HEAD (default: any)
      GLOB    path glob, query excluded; * also matches /
      ACTION  400-599         answer with that status, in the platform's error shape
              drop            close the connection before handling (nothing happened)
              drop-after      handle, then close without answering (the change happened)
              hang:SECONDS    handle, then hold the answer back (at most 300 s)
              latency:MS      delay the answer on top of --latency-ms
      xN      only the next N matching requests (default: every one)
    Examples:
      --fault "POST /console/v1/metrics*=503x2"
      --fault "GET /api/projects/*=429,retry-after=3"
      --fault "POST /console/v1/metrics=drop-after x1"
    """
    import os

    from metricsync.sandbox.app import SandboxApp
    from metricsync.sandbox.faults import faults_from_environment
    from metricsync.sandbox.seed import seed_from_file

    _check_loopback(host)
    if memory and (state or reset):
        raise UsageError("--memory keeps no file: it cannot be combined with --state or --reset")
    path = None if memory else (state or DEFAULT_STATE)
    store = _open_store(path, reset)
    try:
        app = SandboxApp(store)
        try:
            faults_from_environment(app.faults, os.environ)
        except ValueError as exc:
            raise MetricsyncError(str(exc)) from None
        _add_faults(app, latency_ms, faults)
        for seed in seeds:
            seed_from_file(app, seed)
        _serve(app, host, port, path)
    finally:
        store.close()
    return ExitCode.OK


def _check_loopback(host: str) -> None:
    try:
        import ipaddress

        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(f"--host {host!r} is not a loopback address: the sandbox serves locally")


def _open_store(path: Path | None, reset: bool) -> Store:
    from metricsync.sandbox.store import Store

    if path is not None and reset:
        for leftover in (
            path,
            path.with_name(path.name + "-wal"),
            path.with_name(path.name + "-shm"),
        ):
            leftover.unlink(missing_ok=True)
    return Store(path)


def _add_faults(app: SandboxApp, latency_ms: int | None, specs: tuple[str, ...]) -> None:
    if latency_ms is not None:
        app.faults.set_latency(latency_ms)
    for spec in specs:
        try:
            app.faults.add(spec)
        except ValueError as exc:
            raise UsageError(f"--fault: {exc}") from None


def _serve(app: SandboxApp, host: str, port: int, state: Path | None) -> None:
    import contextlib
    import signal
    import threading

    from metricsync.sandbox.server import SandboxServer

    try:
        server = SandboxServer(app, host, port)
    except OSError as exc:
        raise MetricsyncError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    # Ctrl-C and SIGTERM both stop it cleanly, however it was started: a script's background
    # job starts with SIGINT ignored, and Python would leave it ignored
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.default_int_handler)
    with server, contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is meant to stop
        _announce(app, server.url, state)  # inside: a Ctrl-C the moment it is printed stops it too
        threading.Event().wait()
    click.echo("Sandbox stopped.", err=True)


def _announce(app: SandboxApp, url: str, state: Path | None) -> None:
    import shlex

    from metricsync.platforms import PLATFORMS

    credentials = app.credentials()
    lines = [f"Sandbox listening on {url} (state: {state or 'in memory'})", "", "Credentials:"]
    lines += [f"  {name:<9} {_pairs(keys)}" for name, keys in credentials.items()]
    lines += ["", "For the example metricsync.yaml:"]
    lines += [
        f"  export {variable}={shlex.quote(value)}" for variable, value in _exports(credentials)
    ]
    lines += ["", "URLs for metricsync.yaml (http is allowed on loopback):"]
    for name, platform in PLATFORMS.items():
        lines.append(f"  {name:<9} {platform.endpoint_key}: {url}{platform.sandbox_path}")
    if app.faults.latency_ms or app.faults.rules:
        latency = [f"*=latency:{app.faults.latency_ms}"] if app.faults.latency_ms else []
        specs = latency + [rule.spec for rule in app.faults.rules]
        lines += ["", "Faults: " + "; ".join(specs)]
    lines += ["", "Admin endpoints under /_sandbox/. Press Ctrl-C to stop."]
    click.echo("\n".join(lines), err=True)


def _pairs(keys: Mapping[str, str]) -> str:
    return "  ".join(f"{key}={value}" for key, value in keys.items()) or "(none)"


def _exports(credentials: Mapping[str, Mapping[str, str]]) -> list[tuple[str, str]]:
    """(variable, credential) for each variable the example metricsync.yaml reads."""
    from metricsync.platforms import PLATFORMS

    return [
        (variable, credentials[name][key])
        for name, platform in PLATFORMS.items()
        for key, variable in platform.example_variables.items()
        if key in credentials.get(name, {})
    ]
