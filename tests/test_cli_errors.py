"""Bad arguments get one clear error line and exit 2, never a traceback (real subprocesses, as a user runs them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def _svgarena(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "svgarena.cli", *args], capture_output=True, text=True, timeout=120)


def _one_error_line(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.mark.parametrize(("animate", "name", "expected"), [
    (True, "out.out", "with --animate the output is an MP4 video; give a .mp4 name (got '.out')"),
    (False, "out.jpg", "the output is a PNG image (--animate for MP4); give a .png name (got '.jpg')"),
])
def test_render_checks_the_output_extension_before_rendering(tmp_path: Path, animate: bool, name: str,
                                                              expected: str) -> None:
    svg = tmp_path / "a.svg"
    svg.write_text(SVG)
    out = tmp_path / name
    res = _svgarena("render", str(svg), *(["--animate"] if animate else []), "-o", str(out))
    assert expected in _one_error_line(res)
    assert not out.exists()


def test_render_of_a_missing_file(tmp_path: Path) -> None:
    line = _one_error_line(_svgarena("render", str(tmp_path / "nope.svg"), "-o", str(tmp_path / "o.png")))
    assert "nope.svg: no such file" in line


def test_report_of_an_unknown_run(tmp_path: Path) -> None:
    line = _one_error_line(_svgarena("report", "no-such-run", "--out", str(tmp_path)))
    assert "no-such-run: no such run" in line


def test_run_with_a_malformed_models_file(tmp_path: Path) -> None:
    bad = tmp_path / "models.yaml"
    bad.write_text("models: [oops\n")
    res = _svgarena("run", "-m", "x/y", "--models-file", str(bad), "--out", str(tmp_path / "runs"))
    assert f"models file {bad} is not valid YAML" in _one_error_line(res)
    assert not (tmp_path / "runs").exists()


# --- every command and subcommand with bad arguments: one clear line, no traceback -----------------

BAD_YAML = "models: [oops\n"


def _bad_cases(tmp: Path) -> list[tuple[str, list[str], str]]:
    """(id, argv, a substring the one error line must hold)."""
    svg = tmp / "a.svg"
    svg.write_text(SVG)
    bad = tmp / "bad.yaml"
    bad.write_text(BAD_YAML)
    plain = tmp / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("not a benchmark")
    runs = str(tmp / "runs")
    notdb = tmp / "x.png"
    notdb.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    missing = str(tmp / "missing.yaml")
    two = tmp / "two"  # a run with two models' groups on icon/understanding, for compare --baseline
    two.mkdir()
    from svgarena.harness import RunStore, TrajectoryKey

    store = RunStore(two / "run.sqlite")
    store.init_run("two", {"seed": 0}, {})
    for model in ("m/a", "m/b"):
        tid = store.start_trajectory(TrajectoryKey("icon/understanding", model, "direct", "1", 0))
        store.finish_trajectory(tid, outcome="ok", answer="A", scores=[("accuracy", 100.0, True, None)])
    store.close()
    return [
        ("run-missing-suite", ["run", "--suite", str(tmp / "nope"), "--out", runs], "nope"),
        ("run-non-sarena-folder", ["run", "--suite", str(plain), "--out", runs], "plain"),
        ("run-unknown-task", ["run", "--task", "zzz/none", "--out", runs], "zzz/none"),
        ("run-unknown-model", ["run", "-m", "nosuchmodel", "--out", runs], "nosuchmodel"),
        ("run-unknown-baseline", ["run", "-m", "baseline/nope", "--out", runs], "baseline/nope"),
        ("run-missing-models-file", ["run", "-m", "x/y", "--models-file", missing, "--out", runs], "missing.yaml"),
        ("run-malformed-models-file", ["run", "-m", "x/y", "--models-file", str(bad), "--out", runs], "not valid YAML"),
        ("run-unknown-resume", ["run", "--resume", "no-such-run", "--out", runs], "no-such-run"),
        ("run-bad-choice", ["run", "--choice", "bogus", "--out", runs], "--choice"),
        ("run-bad-extract", ["run", "--extract", "bogus", "--out", runs], "--extract"),
        ("run-bad-video-input", ["run", "--video-input", "bogus", "--out", runs], "--video-input"),
        ("run-bad-solver", ["run", "--solver", "bogus", "--out", runs], "bogus"),
        ("run-bad-select", ["run", "--select", "bogus", "--out", runs], "--select"),
        ("run-bad-feedback", ["run", "--feedback", "bogus", "--out", runs], "--feedback"),
        ("run-zero-rounds", ["run", "--rounds", "0", "--out", runs], "--rounds"),
        ("run-bad-backend", ["run", "--backend", "bogus", "--out", runs], "bogus"),
        ("run-bad-renderer", ["run", "--renderer", "bogus", "--out", runs], "bogus"),
        ("run-bad-animation-mode", ["run", "--animation-mode", "bogus", "--out", runs], "bogus"),
        ("run-bad-tokenizer", ["run", "--tokenizer", "bogus", "--out", runs], "bogus"),
        ("run-baseline-judge", ["run", "--choice-judge", "baseline/oracle", "--out", runs], "routed model"),
        ("run-unknown-judge", ["run", "--choice-judge", "nosuchjudge", "--out", runs], "nosuchjudge"),
        ("run-judge-and-choice", ["run", "--choice-judge", "openai/gpt-4o-mini", "--choice", "vlmevalkit", "--out", runs],
         "does not combine with --choice vlmevalkit"),
        ("run-sarena-without-data", ["run", "--suite", "sarena", "--out", runs], "--data"),
        ("run-bad-shard", ["run", "--shard", "3/2", "--out", runs], "--shard"),
        ("run-bad-executor", ["run", "--executor", "bogus", "--out", runs], "bogus"),
        ("run-bad-stop-on", ["run", "--solver", "refine", "--stop-on", "bogus", "--out", runs], "--stop-on"),
        ("run-zero-sample-budget", ["run", "--solver", "refine", "--sample-max-tokens", "0", "--out", runs],
         "--sample-max-tokens"),
        ("report-bad-by", ["report", "no-such-run", "--by", "bogus", "--out", runs], "unknown --by 'bogus'"),
        ("merge-unknown-run", ["merge", "no-such-run", "--into", "m", "--out", runs], "no-such-run"),
        ("merge-not-a-store", ["merge", str(notdb), "--into", "m", "--out", runs], "not a svgarena run store"),
        ("import-missing-folder", ["import", str(tmp / "nope"), "--model-name", "x", "--out", runs], "nope"),
        ("import-non-internsvg-folder", ["import", str(plain), "--model-name", "x", "--out", runs], "no official output folders found"),
        ("import-bad-format", ["import", str(plain), "--format", "bogus", "--model-name", "x", "--out", runs], "bogus"),
        ("export-unknown-run", ["export", "no-such-run", str(tmp / "exp"), "--out", runs], "no-such-run"),
        ("export-bad-format", ["export", "no-such-run", str(tmp / "exp"), "--format", "bogus", "--out", runs], "bogus"),
        ("report-unknown-run", ["report", "no-such-run", "--out", runs], "no-such-run"),
        ("report-not-a-store", ["report", str(notdb)], "not a svgarena run store"),
        ("watch-not-a-store", ["watch", str(notdb)], "not a svgarena run store"),
        ("compare-not-a-store", ["compare", str(notdb)], "not a svgarena run store"),
        ("score-not-a-store", ["score", str(notdb)], "not a svgarena run store"),
        ("report-bad-bootstrap", ["report", "no-such-run", "--bootstrap", "-1", "--out", runs], "--bootstrap"),
        ("watch-unknown-run", ["watch", "no-such-run", "--out", runs], "no-such-run"),
        ("compare-unknown-run", ["compare", "no-such-run", "--out", runs], "no-such-run"),
        ("compare-unknown-baseline", ["compare", str(two), "--baseline", "m/zzz"],
         "--baseline 'm/zzz' matches no group; the groups are: m/a, m/b"),
        ("compare-ambiguous-baseline", ["compare", str(two), "--baseline", "m/"],
         "--baseline 'm/' matches 2 groups of icon/understanding (m/a, m/b); give one whole label"),
        ("score-unknown-run", ["score", "no-such-run", "--out", runs], "no-such-run"),
        ("score-unknown-metric", ["score", "no-such-run", "--metrics", "bogus", "--out", runs], "unknown metric bogus"),
        ("score-bad-executor", ["score", "no-such-run", "--executor", "slurm", "--out", runs], "--executor 'slurm'"),
        ("tasks-missing-suite", ["tasks", "--suite", str(tmp / "nope")], "nope"),
        ("tasks-non-sarena-folder", ["tasks", "--suite", str(plain)], "plain"),
        ("render-missing-file", ["render", str(tmp / "nope.svg"), "-o", str(tmp / "o.png")], "nope.svg"),
        ("render-wrong-extension", ["render", str(svg), "-o", str(tmp / "o.jpg")], ".png"),
        ("render-animate-wrong-extension", ["render", str(svg), "--animate", "-o", str(tmp / "o.out")], ".mp4"),
        ("render-bad-renderer", ["render", str(svg), "--renderer", "bogus", "-o", str(tmp / "o.png")], "bogus"),
        ("render-bad-backend", ["render", str(svg), "--backend", "bogus", "-o", str(tmp / "o.png")], "bogus"),
        ("render-bad-mode", ["render", str(svg), "--animate", "--mode", "bogus", "-o", str(tmp / "o.mp4")], "bogus"),
        ("sandbox-build-bad-stage", ["sandbox", "build", "--stage", "bogus"], "bogus"),
        ("models-list-malformed-file", ["models", "list", "--models-file", str(bad)], "not valid YAML"),
        ("models-list-missing-file", ["models", "list", "--models-file", missing], "missing.yaml"),
        ("models-check-unknown", ["models", "check", "nosuchmodel"], "nosuchmodel"),
        ("models-check-baseline", ["models", "check", "baseline/oracle"], "baseline"),
        ("serve-internsvg-bad-backend", ["serve", "internsvg", "--model-path", str(tmp), "--backend", "bogus"], "bogus"),
        ("serve-gguf-missing-model", ["serve", "gguf", "--model", str(tmp / "nope.gguf")], "nope.gguf"),
        ("weights-fetch-unknown", ["weights", "fetch", "no-such-checkpoint"], "no-such-checkpoint"),
        ("weights-verify-unknown", ["weights", "verify", "no-such-checkpoint"], "no-such-checkpoint"),
    ]


_IDS = ["run-missing-suite", "run-non-sarena-folder", "run-unknown-task", "run-unknown-model", "run-unknown-baseline",
        "run-missing-models-file", "run-malformed-models-file", "run-unknown-resume", "run-bad-choice", "run-bad-extract",
        "run-bad-video-input", "run-bad-solver", "run-bad-select", "run-bad-feedback", "run-zero-rounds",
        "run-bad-backend", "run-bad-renderer", "run-bad-animation-mode", "run-bad-tokenizer", "run-baseline-judge",
        "run-unknown-judge", "run-judge-and-choice", "run-sarena-without-data", "run-bad-shard", "run-bad-executor", "run-bad-stop-on", "run-zero-sample-budget", "report-bad-by", "merge-unknown-run", "merge-not-a-store", "import-missing-folder", "import-non-internsvg-folder", "import-bad-format", "export-unknown-run", "export-bad-format",
        "report-unknown-run",
        "report-not-a-store", "watch-not-a-store", "compare-not-a-store", "score-not-a-store", "report-bad-bootstrap", "watch-unknown-run", "compare-unknown-run",
        "compare-unknown-baseline", "compare-ambiguous-baseline",
        "score-unknown-run", "score-unknown-metric", "score-bad-executor", "tasks-missing-suite", "tasks-non-sarena-folder", "render-missing-file",
        "render-wrong-extension", "render-animate-wrong-extension", "render-bad-renderer", "render-bad-backend",
        "render-bad-mode", "sandbox-build-bad-stage", "models-list-malformed-file", "models-list-missing-file",
        "models-check-unknown", "models-check-baseline", "serve-internsvg-bad-backend", "serve-gguf-missing-model",
        "weights-fetch-unknown", "weights-verify-unknown"]


def test_every_case_is_listed(tmp_path: Path) -> None:
    assert [c[0] for c in _bad_cases(tmp_path)] == _IDS


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", _IDS)
def test_bad_arguments_end_in_one_clear_line(case: str, tmp_path: Path, monkeypatch) -> None:
    """In-process (typer's CliRunner, one import for all cases): exit 2, one ``error:`` line on stderr,
    no exception escaping the command (a user would see a traceback), nothing created under --out."""
    from typer.testing import CliRunner

    from svgarena.cli import app

    tmp = tmp_path
    ((argv, expected),) = [(a, e) for cid, a, e in _bad_cases(tmp) if cid == case]
    monkeypatch.chdir(tmp)
    monkeypatch.setenv("SVGARENA_CONFIG_DIR", str(tmp / "config"))
    monkeypatch.delenv("SVGARENA_DATA", raising=False)
    res = CliRunner().invoke(app, argv)
    assert res.exception is None or isinstance(res.exception, SystemExit), (
        f"{case}: {type(res.exception).__name__}: {res.exception}")
    assert res.exit_code == 2, (case, res.exit_code, res.stdout, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, (case, res.stderr)
    assert lines[0].startswith("error: ") and expected in lines[0], (case, lines[0])
    assert "Traceback" not in res.stdout + res.stderr
    assert not (tmp / "runs").exists() or not any((tmp / "runs").iterdir()), f"{case} left a run folder"
