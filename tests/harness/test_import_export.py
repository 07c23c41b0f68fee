"""`export --format internsvg` and `import --format internsvg`: the official InternSVG scripts' folders.

(a) A folder written the way hmwang2002/InternSVG's inference scripts write it (built here from their
documented format: ``output.jsonl`` of ``{"id", "answer"}`` with the raw reply, ``svg/<id>.svg`` the
first ``<svg>...</svg>`` of it, ``<model>_un_result.jsonl`` of ``{"id", "result"}``) imports and scores
as a native run of the same answers does. (b) Export then import gives the same answers and scores.
(c) A malformed folder ends with one line per problem, exit code 2, no traceback and no run left.
The neural metrics need checkpoints that cannot be had offline; SSIM, PSNR, token length and
accuracy are computed for real.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from svgarena.agents import OracleBaseline, VTracerBaseline
from svgarena.harness import RunConfig, execute, export_internsvg, import_internsvg
from svgarena.tasks import bundled_suite_path, iter_samples

LIMIT = 3
ORACLE_TASKS = ["icon/understanding", "icon/edit/flip", "icon/text2svg"]
TRACED = "icon/img2svg"


def _run(out: Path, run_id: str, model: str, tasks: list[str]) -> Path:
    config = RunConfig(tasks=tasks, models=[model], limit=LIMIT, out=str(out), run_id=run_id, workers=2)
    asyncio.run(execute(config))
    return out / run_id


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    _run(out, "oracle", "baseline/oracle", ORACLE_TASKS)
    _run(out, "vtracer", "baseline/vtracer", [TRACED])
    return out


def _rows(run_dir: Path) -> dict[tuple[str, str], dict]:
    """(task, sample) -> outcome, answer and every score of the run's trajectory."""
    con = sqlite3.connect(run_dir / "run.sqlite")
    try:
        out = {(t, s): {"outcome": o, "answer": a, "scores": {}} for t, s, o, a in con.execute(
            "SELECT task, sample_id, outcome, answer FROM trajectories WHERE status='done'")}
        for t, s, metric, value, ok in con.execute(
                "SELECT t.task, t.sample_id, r.metric, r.value, r.ok FROM scores r "
                "JOIN trajectories t ON t.id = r.trajectory_id"):
            out[(t, s)]["scores"][metric] = (round(value, 9) if value is not None else None, ok)
        return out
    finally:
        con.close()


def _status(run_dir: Path) -> str:
    con = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return con.execute("SELECT status FROM runs").fetchone()[0]
    finally:
        con.close()


def _samples(task: str) -> list:
    return list(iter_samples(bundled_suite_path(), task))[:LIMIT]


def _official_folder(root: Path) -> Path:
    """What the official scripts write for these answers (inference.py L51-65, inference_un.py L152, L131-134)."""
    vtracer, oracle = VTracerBaseline(), OracleBaseline()
    for task in (TRACED, "icon/edit/flip", "icon/text2svg"):
        folder = root / task
        (folder / "svg").mkdir(parents=True)
        with open(folder / "output.jsonl", "a") as f:
            for n, sample in enumerate(_samples(task)):
                model = vtracer if task == TRACED else oracle
                svg = asyncio.run(model.respond(sample, [])).text
                reply = f"Here is the SVG you asked for:\n```svg\n{svg}\n```" if n % 2 else svg
                f.write(json.dumps({"id": int(sample.id), "answer": reply}) + "\n")
                found = re.search(r"<svg[^>]*>.*?</svg>", reply, re.DOTALL)
                (folder / "svg" / f"{int(sample.id)}.svg").write_text(found.group(0))
    lines = []
    for n, sample in enumerate(_samples("icon/understanding")):
        letter = sample.target.strip()[0]
        lines.append({"id": int(sample.id), "result": f"{letter}." if n % 2 else f"{letter}. The shape is a circle."})
    with open(root / "icon" / "gpt-x_un_result.jsonl", "w") as f:
        f.writelines(json.dumps(obj) + "\n" for obj in sorted(lines, key=lambda o: o["id"]))
    return root


def test_official_folder_scores_as_native_run(native: Path, tmp_path: Path) -> None:
    folder = _official_folder(tmp_path / "official")
    report = import_internsvg(folder, "gpt-x", out=native, run_id="official", limit=LIMIT, workers=2)
    assert _status(report.run_dir) == "finished"
    imported = _rows(report.run_dir)
    expected = {**_rows(native / "oracle"), **_rows(native / "vtracer")}
    assert set(imported) == set(expected)
    assert imported == expected  # same outcomes, same SVG artifacts (by content hash), same scores
    traced = [v["scores"]["ssim"][0] for (t, _), v in imported.items() if t == TRACED]
    assert traced and all(0 < s < 1 for s in traced)  # a real, imperfect trace: not a trivial match
    assert imported[("icon/understanding", _samples("icon/understanding")[0].id)]["scores"]["accuracy"][0] == 100.0
    con = sqlite3.connect(report.run_dir / "run.sqlite")
    meta = json.loads(con.execute("SELECT meta FROM runs").fetchone()[0])
    models = {r[0] for r in con.execute("SELECT DISTINCT model FROM trajectories")}
    con.close()
    assert meta["imported"]["format"] == "internsvg" and meta["imported"]["source"] == str(folder.resolve())
    assert models == {"gpt-x"}


def test_export_writes_official_layout(native: Path, tmp_path: Path) -> None:
    dest = tmp_path / "exp"
    report = export_internsvg("vtracer", dest, out=native)
    ids = [int(s.id) for s in _samples(TRACED)]
    lines = [json.loads(x) for x in (dest / TRACED / "output.jsonl").read_text().splitlines()]
    assert [obj["id"] for obj in lines] == sorted(ids) and all("<svg" in obj["answer"] for obj in lines)
    for i in ids:  # evaluate_gen.py L83-87 reads these two for every id
        assert (dest / TRACED / "images" / f"{i}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (dest / TRACED / "svg" / f"{i}.svg").read_text().startswith("<svg")
    assert report.answers == len(ids) == report.svgs == report.renders
    export_internsvg("oracle", tmp_path / "exp2", out=native)
    un = tmp_path / "exp2" / "icon" / "baseline_oracle_un_result.jsonl"  # inference_un.py L152
    results = [json.loads(x) for x in un.read_text().splitlines()]
    assert [r["result"] for r in results] == [f"{s.target.strip()[0]}." for s in
                                              sorted(_samples("icon/understanding"), key=lambda s: int(s.id))]
    assert (tmp_path / "exp2" / "icon" / "edit" / "flip" / "images").is_dir()  # inference_edit.py L89


@pytest.mark.parametrize("run_id", ["oracle", "vtracer"])
def test_round_trip_same_answers_and_scores(native: Path, tmp_path: Path, run_id: str) -> None:
    dest = tmp_path / "exp"
    export_internsvg(run_id, dest, out=native)
    report = import_internsvg(dest, "again", out=tmp_path / "runs", run_id="back", limit=LIMIT, workers=2)
    assert _rows(report.run_dir) == _rows(native / run_id)
    assert sum(report.answers.missing.values()) == 0


def _run_cli(args: list[str]):
    from svgarena.cli import app

    return CliRunner().invoke(app, args)


def test_malformed_folder_one_line_each_and_no_run(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    (folder / "icon" / "text2svg" / "svg").mkdir(parents=True)
    (folder / "icon" / "bogus").mkdir()
    good = _samples("icon/text2svg")[0]
    (folder / "icon" / "text2svg" / "output.jsonl").write_text(
        json.dumps({"id": int(good.id), "answer": good.target}) + "\n" + "{not json\n"
        + json.dumps({"id": 987654, "answer": "<svg></svg>"}) + "\n")
    out = tmp_path / "runs"
    result = _run_cli(["import", "--format", "internsvg", str(folder), "--model-name", "m", "--out", str(out)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert all(x.startswith("error: ") for x in lines)
    text = "\n".join(lines)
    assert "bogus: unknown task folder" in text
    assert "output.jsonl:2: unreadable line" in text
    assert "output.jsonl:3: sample id 987654 is not in icon/text2svg" in text
    assert len(lines) == 4  # three problems and "nothing was imported"
    assert not out.exists() or not any(out.iterdir())


def test_failure_midway_leaves_no_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import svgarena.harness._runner as runner

    folder = tmp_path / "ok" / "icon" / "text2svg"
    folder.mkdir(parents=True)
    sample = _samples("icon/text2svg")[0]
    (folder / "output.jsonl").write_text(json.dumps({"id": int(sample.id), "answer": sample.target}) + "\n")

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003
        raise RuntimeError("scorer crashed")

    monkeypatch.setattr(runner, "score_stored", broken)
    out = tmp_path / "runs"
    with pytest.raises(RuntimeError):
        import_internsvg(tmp_path / "ok", "m", out=out, run_id="r", limit=1, workers=1)
    assert not any(out.iterdir())  # neither the run nor its staging folder


def test_export_unknown_run_one_line(tmp_path: Path) -> None:
    result = _run_cli(["export", "nope", str(tmp_path / "d"), "--format", "internsvg", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len([x for x in result.output.splitlines() if x.strip()]) == 1


def test_compare_across_imported_and_native(native: Path, tmp_path: Path) -> None:
    dest = tmp_path / "exp"
    export_internsvg("vtracer", dest, out=native)
    import_internsvg(dest, "official-vtracer", out=native, run_id="imported-vtracer", limit=LIMIT, workers=2)
    result = _run_cli(["compare", "vtracer", "imported-vtracer", "--out", str(native), "--json"])
    assert result.exit_code == 0, result.output
    rows = [c for c in json.loads(result.output[result.output.index("{"):])["comparisons"]
            if c["task"] == TRACED]
    assert rows and rows[0]["shared"] == LIMIT
    assert all(m["delta"] == 0 for c in rows for m in c["metrics"] if m.get("delta") is not None)


def test_read_folder_official_variants(tmp_path: Path) -> None:
    """svg/ files alone are replies; a re-run's appended line wins; `Icon` as in SArena; --limit counts."""
    from svgarena.harness import InterchangeError, read_folder

    samples = _samples("icon/text2svg")
    folder = tmp_path / "out" / "Icon" / "text2svg"
    (folder / "svg").mkdir(parents=True)
    (folder / "svg" / f"{int(samples[0].id)}.svg").write_text("<svg>first</svg>")
    with open(folder / "output.jsonl", "w") as f:
        f.write(json.dumps({"id": int(samples[1].id), "answer": "no svg here"}) + "\n")
        f.write(json.dumps({"id": int(samples[1].id), "answer": "<svg>retried</svg>"}) + "\n")
    found = read_folder(tmp_path / "out", bundled_suite_path(), limit=LIMIT)
    assert found.replies == {"icon/text2svg": {samples[0].id: "<svg>first</svg>", samples[1].id: "<svg>retried</svg>"}}
    assert found.missing == {"icon/text2svg": LIMIT - 2} and found.beyond == {"icon/text2svg": 0}
    assert read_folder(tmp_path / "out", bundled_suite_path(), limit=1).beyond == {"icon/text2svg": 1}
    (tmp_path / "out" / "img2svg").mkdir()  # one script run's output dir given without its domain
    with pytest.raises(InterchangeError, match=r"img2svg: unknown task folder .* put it under a domain"):
        read_folder(tmp_path / "out", bundled_suite_path())
    (tmp_path / "empty").mkdir()
    with pytest.raises(InterchangeError, match="no official output folders found"):
        read_folder(tmp_path / "empty", bundled_suite_path())
