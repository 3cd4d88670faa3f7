"""`metricsync validate`: exit codes, the json and github formats, warnings, no network, and a
cache that answers warm runs identically and is never stale."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

import metricsync
from metricsync import schema, validation
from metricsync.cli.main import run
from metricsync.problems import Problem
from metricsync.render.validation import _annotation

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """\
version: 1
targets:
  statsig-prod:
    provider: statsig
    api_key: env:STATSIG_CONSOLE_API_KEY
    definitions: [definitions]
"""
RATIO = """\
kind: statsig/metric
name: {name}
spec:
  type: ratio
  unitTypes: [userID]
  metricEvents: [{{name: purchase}}, {{name: checkout_start}}]
"""
COMPOSITE = """\
kind: statsig/metric
name: Score
spec:
  type: composite_sum
  unitTypes: [userID]
  metricComponentMetrics:
    - {name: Checkout conversion, type: ratio}
    - {name: Sessions, type: event_count}
"""


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"metricsync.yaml": CONFIG, **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def validate(root: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str, str]:
    code = run(["validate", "--config", str(root / "metricsync.yaml"), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return project(
        tmp_path, {"definitions/checkout.yaml": RATIO.format(name="Checkout conversion")}
    )


def test_the_shipped_examples_are_valid(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    assert validate(ROOT, capsys, "--no-cache") == (
        0,
        "valid: 0 errors, 0 warnings (11 definitions in 10 files)\n",
        "",
    )


def test_a_component_outside_the_repository_is_a_warning_not_an_error(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (checkout / "definitions" / "score.yaml").write_text(COMPOSITE)
    assert validate(checkout, capsys, "--no-cache") == (
        0,
        "definitions/score.yaml:8:7: warning: component 'Sessions' (event_count) is not among "
        "this target's definitions; it is checked against the live project at plan time "
        "[/spec/metricComponentMetrics/1]\n"
        "valid: 0 errors, 1 warning (2 definitions in 2 files)\n",
        "",
    )


def test_json_format(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (checkout / "definitions" / "score.yaml").write_text(COMPOSITE.replace("Score", "Sc"))
    code, out, _ = validate(checkout, capsys, "--no-cache", "--format", "json")
    assert code == 3
    assert json.loads(out) == {
        "format_version": 1,
        "valid": False,
        "problems": [
            {
                "file": "definitions/score.yaml",
                "line": 2,
                "column": 7,
                "pointer": "/name",
                "severity": "error",
                "message": "Statsig metric names are 4 to 200 characters; this one has 2",
            },
            {
                "file": "definitions/score.yaml",
                "line": 8,
                "column": 7,
                "pointer": "/spec/metricComponentMetrics/1",
                "severity": "warning",
                "message": "component 'Sessions' (event_count) is not among this target's "
                "definitions; it is checked against the live project at plan time",
            },
        ],
    }
    assert out.endswith("}\n")


def test_github_format_prints_one_annotation_per_problem(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "definitions/odd, name: 100%.yaml"
    (checkout / name).write_text(RATIO.format(name="Checkout [EU]"))
    code, out, _ = validate(checkout, capsys, "--no-cache", "--format", "github")
    assert code == 3
    assert out.splitlines() == [
        "::error file=definitions/odd%2C name%3A 100%25.yaml,line=2,col=7,"
        "title=metricsync%3A /name::Statsig metric names may use letters, digits, spaces and "
        "_ . - ( ) / %25 : only; not '[' ']'",
        "invalid: 1 error, 0 warnings (2 definitions in 2 files)",
    ]


def test_github_annotations_escape_data_and_properties() -> None:
    problem = Problem("a,b:c%.yaml", 3, 5, "50% off:\r\nnext, line", "", "warning")
    assert _annotation(problem) == (
        "::warning file=a%2Cb%3Ac%25.yaml,line=3,col=5,title=metricsync%3A definition"
        "::50%25 off:%0D%0Anext, line"
    )


def test_validate_never_touches_the_network(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, closed)
    monkeypatch.setenv("all_proxy", closed)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"validate opened a connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    (checkout / "definitions" / "score.yaml").write_text(COMPOSITE)
    code, out, err = validate(checkout, capsys)
    assert (code, err) == (0, "")
    assert out.endswith("valid: 0 errors, 1 warning (2 definitions in 2 files)\n")


def test_unknown_target_is_a_usage_error(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert validate(checkout, capsys, "--target", "nope") == (
        64,
        "",
        "Error: unknown target 'nope' (targets: statsig-prod)\n",
    )


def test_a_missing_config_is_reported_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = validate(tmp_path, capsys)
    assert (code, out) == (3, "")
    assert err == f"Error: no config file at {tmp_path / 'metricsync.yaml'} (pass --config PATH)\n"


def test_a_folder_shared_by_two_platforms_holds_both_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    shared = CONFIG + (
        "  posthog-us:\n    provider: posthog\n    project_id: 1\n"
        "    api_key: env:POSTHOG_PERSONAL_API_KEY\n    definitions: [definitions]\n"
    )
    mean = (
        "kind: posthog/saved_metric\nname: Revenue\nspec:\n  query: {kind: ExperimentMetric,"
        " metric_type: mean, source: {kind: EventsNode, event: purchase}}\n"
    )
    files = {"metricsync.yaml": shared, "definitions/a.yaml": RATIO.format(name="Checkout")}
    project(tmp_path, {**files, "definitions/b.yaml": mean})
    assert validate(tmp_path, capsys, "--no-cache")[:2] == (
        0,
        "valid: 0 errors, 0 warnings (2 definitions in 2 files)\n",
    )


# The cache ---------------------------------------------------------------------------------


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files validation checked afresh rather than answered from the cache."""
    checked: list[str] = []
    real = validation.check_file

    def counting(file: str, source: bytes) -> Any:
        checked.append(file)
        return real(file, source)

    monkeypatch.setattr(validation, "check_file", counting)
    return checked


def cached_project(root: Path) -> Path:
    files = {f"definitions/m{i}.yaml": RATIO.format(name=f"Metric {i}") for i in range(3)}
    return project(root, {**files, "definitions/bad.yaml": RATIO.format(name="Bad [x]")})


def test_a_warm_run_answers_from_the_cache_with_identical_output(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    calls: list[str],
) -> None:
    monkeypatch.chdir(cached_project(tmp_path))
    cold = validate(tmp_path, capsys)
    assert len(calls) == 4 and (tmp_path / ".metricsync" / "cache" / "validate.json").is_file()
    assert validate(tmp_path, capsys) == cold
    assert len(calls) == 4
    assert cold[0] == 3 and cold[1].startswith("definitions/bad.yaml:2:7: Statsig metric names")


def test_one_changed_byte_is_validated_again(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    calls: list[str],
) -> None:
    monkeypatch.chdir(cached_project(tmp_path))
    validate(tmp_path, capsys)
    bad = tmp_path / "definitions" / "bad.yaml"
    bad.write_bytes(bad.read_bytes().replace(b"Bad [x]", b"Bad (x)"))
    assert validate(tmp_path, capsys)[:2] == (
        0,
        "valid: 0 errors, 0 warnings (4 definitions in 4 files)\n",
    )
    assert calls[4:] == ["definitions/bad.yaml"]


def test_the_cache_names_files_as_seen_from_the_current_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    calls: list[str],
) -> None:
    monkeypatch.chdir(cached_project(tmp_path))
    validate(tmp_path, capsys)
    monkeypatch.chdir(tmp_path / "definitions")
    code, out, _ = validate(tmp_path, capsys)
    assert (code, len(calls)) == (3, 4)
    assert out.startswith("bad.yaml:2:7: Statsig metric names")


@pytest.mark.parametrize("change", ["version", "schema"])
def test_a_new_version_or_schema_empties_the_cache(
    change: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    calls: list[str],
) -> None:
    monkeypatch.chdir(cached_project(tmp_path))
    cold = validate(tmp_path, capsys)
    if change == "version":
        monkeypatch.setattr(metricsync, "__version__", "99.0.0")
    else:
        monkeypatch.setattr(schema, "digest", lambda: "another schema")
    assert validate(tmp_path, capsys) == cold
    assert len(calls) == 8


def test_entries_of_deleted_files_are_pruned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(cached_project(tmp_path))
    validate(tmp_path, capsys)
    cache = tmp_path / ".metricsync" / "cache" / "validate.json"
    (tmp_path / "definitions" / "m0.yaml").unlink()
    validate(tmp_path, capsys)
    entries = json.loads(cache.read_text())["files"]
    assert sorted(Path(key).name for key in entries) == ["bad.yaml", "m1.yaml", "m2.yaml"]


def test_a_run_for_one_target_keeps_the_others_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    other = CONFIG.replace("statsig-prod", "statsig-eu").replace("[definitions]", "[eu]")
    config = CONFIG + other.split("targets:\n")[1]
    project(tmp_path, {"metricsync.yaml": config, "definitions/a.yaml": RATIO.format(name="One")})
    project(tmp_path, {"metricsync.yaml": config, "eu/b.yaml": RATIO.format(name="Two")})
    validate(tmp_path, capsys)
    validate(tmp_path, capsys, "--target", "statsig-eu")
    cache = json.loads((tmp_path / ".metricsync" / "cache" / "validate.json").read_text())
    assert sorted(Path(key).name for key in cache["files"]) == ["a.yaml", "b.yaml"]


def test_no_cache_reads_and_writes_nothing(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    validate(checkout, capsys, "--no-cache")
    assert not (checkout / ".metricsync").exists()


def test_a_corrupt_cache_is_replaced(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    calls: list[str],
) -> None:
    monkeypatch.chdir(cached_project(tmp_path))
    cold = validate(tmp_path, capsys)
    (tmp_path / ".metricsync" / "cache" / "validate.json").write_text('{"key": 1, "files": [')
    assert validate(tmp_path, capsys) == cold
    assert validate(tmp_path, capsys) == cold
    assert len(calls) == 8


@pytest.mark.parametrize(
    "entry", ["1", "[]", "null", '"x"', '["d"]', '["d", 1, 2, 3]', "[" * 100_000 + "]" * 100_000]
)
def test_a_cache_edited_into_any_shape_is_validated_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], entry: str
) -> None:
    monkeypatch.chdir(cached_project(tmp_path))
    cold = validate(tmp_path, capsys)
    cache = tmp_path / ".metricsync" / "cache" / "validate.json"
    document = json.loads(cache.read_text())
    files = {key: "ENTRY" for key in document["files"]}
    cache.write_text(json.dumps({**document, "files": files}).replace('"ENTRY"', entry))
    assert validate(tmp_path, capsys) == cold


def test_a_file_larger_than_one_read_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# padding\n" * 20_000 + b"kind: statsig/metric\n")
    assert validation.read_bytes(str(path)) == path.read_bytes()


def test_composite_cycles_are_found_in_long_chains_and_wide_lattices() -> None:
    from metricsync.definitions import Definition
    from metricsync.platforms.statsig.checks import check_metrics

    def composite(name: str, *parts: str) -> Definition:
        components = [{"name": part, "type": "composite"} for part in parts]
        spec = {"type": "composite", "unitTypes": ["userID"], "metricComponentMetrics": components}
        return Definition("statsig/metric", name, spec)

    chain = [composite(f"Step {i:04d}", f"Step {i + 1:04d}") for i in range(3000)]
    chain.append(composite("Step 3000", "Step 0000"))
    cycles = [f.message for f in check_metrics(chain) if "cycle" in f.message]
    assert len(cycles) == 1 and cycles[0].startswith("composite metrics form a cycle: Step 0000 ->")
    lattice = [composite(f"L{i:02d}{side}", f"L{i + 1:02d}a", f"L{i + 1:02d}b") for i in range(40)
               for side in "ab"]  # fmt: skip
    assert [f.message for f in check_metrics(lattice) if "cycle" in f.message] == []


def test_an_unreadable_folder_is_a_problem_not_a_crash(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(path: str) -> Any:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(validation.os, "scandir", refuse)
    assert validate(checkout, capsys, "--no-cache")[:2] == (
        3,
        "metricsync.yaml:6:19: definitions folder 'definitions' cannot be read: Permission denied "
        "[/targets/statsig-prod/definitions/0]\n"
        "invalid: 1 error, 0 warnings (0 definitions in 0 files)\n",
    )


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n...\n"])
def test_a_file_without_definitions_is_a_warning(
    checkout: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    """An import cut short can leave an empty file: validate names it, without failing."""
    (checkout / "definitions" / "empty.yaml").write_text(text)
    assert validate(checkout, capsys, "--no-cache")[:2] == (
        0,
        "definitions/empty.yaml:1:1: warning: the file holds no definition (it is empty, or only "
        "comments)\nvalid: 0 errors, 1 warning (1 definition in 2 files)\n",
    )


def test_names_equal_once_unicode_normalised_are_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    composed, decomposed = "Caf\u00e9 conversion", "Cafe\u0301 conversion"
    query = "kind: userflux/query\nname: {name}\nspec: {{sql: SELECT 1}}\n"
    root = project(
        tmp_path,
        {
            "metricsync.yaml": USERFLUX_CONFIG,
            "definitions/a.yaml": query.format(name=composed),
            "definitions/b.yaml": query.format(name=decomposed),
        },
    )
    code, out, _ = validate(root, capsys, "--no-cache")
    assert (code, out.splitlines()[0]) == (
        3,
        f"definitions/b.yaml:2:7: duplicate name {decomposed!r} for userflux/query (as "
        f"{composed!r}; the same text in another Unicode form: 'Caf\\xe9 conversion' and "
        "'Cafe\\u0301 conversion'); first defined at definitions/a.yaml:1 [/name]",
    )


USERFLUX_CONFIG = """\
version: 1
targets:
  userflux:
    provider: userflux
    client_secret: env:USERFLUX_CLIENT_SECRET
    environment_api_key: env:USERFLUX_METRICS_API_KEY
    definitions: [definitions]
"""


@pytest.mark.parametrize("broken", ["a folder", "permission denied", "not UTF-8"])
def test_an_unreadable_config_is_invalid_input(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    broken: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "metricsync.yaml"
    if broken == "a folder":
        config.mkdir()
        expected = f"Error: cannot read the config file {config}: Is a directory\n"
    elif broken == "permission denied":
        config.write_text(CONFIG)
        read_bytes = Path.read_bytes

        def refuse(path: Path) -> bytes:  # chmod 000 does not stop root, who runs CI containers
            if path == config:
                raise PermissionError(13, "Permission denied", str(path))
            return read_bytes(path)

        monkeypatch.setattr(Path, "read_bytes", refuse)
        expected = f"Error: cannot read the config file {config}: Permission denied\n"
    else:
        config.write_bytes(b"version: 1\n\xff\xfe\n")
        expected = "metricsync.yaml:2:1: the file is not UTF-8 text (invalid leading UTF-8 octet)\n"
    for command in ("validate", "plan", "targets"):
        code = run([command, "--config", str(config)])
        captured = capsys.readouterr()
        first = (captured.out + captured.err).splitlines(keepends=True)[0]
        assert (code, first) == (3, expected)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "    base_url: 'http://[::1'\n",
            "metricsync.yaml:7:15: 'http://[::1' is not a valid URL (Invalid IPv6 URL) "
            "[/targets/statsig-prod/base_url]",
        ),
        (
            "    base_url: 'https://statsig.example:99999'\n",
            "metricsync.yaml:7:15: 'https://statsig.example:99999' is not a valid URL (Port out "
            "of range 0-65535) [/targets/statsig-prod/base_url]",
        ),
        (
            "    definitions: ['" + "d" * 5000 + "']\n",
            "metricsync.yaml:6:19: definitions folder '" + "d" * 5000 + "' cannot be read: File "
            "name too long [/targets/statsig-prod/definitions/0]",
        ),
        (
            '    definitions: ["a\\0b"]\n',
            "metricsync.yaml:6:19: 'a\\x00b' cannot be a folder: embedded null byte "
            "[/targets/statsig-prod/definitions/0]",
        ),
    ],
)
def test_config_values_no_system_call_accepts_are_problems_not_crashes(
    checkout: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    config = CONFIG.replace("    definitions: [definitions]\n", "")
    if "definitions:" not in line:
        config += "    definitions: [definitions]\n"
    (checkout / "metricsync.yaml").write_text(config + line)
    code, out, err = validate(checkout, capsys, "--no-cache")
    assert (code, err) == (3, "")
    assert out.splitlines()[0] == message
