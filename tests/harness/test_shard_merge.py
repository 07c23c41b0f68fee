"""`run --shard K/N` + `merge`: two shard runs of the bundled suite merge into the unsharded run.

The set-level FID needs an Inception checkpoint that cannot be had offline; the tests register, in
its place, the real Frechet distance over a 3-d pixel feature (mean RGB). That is enough to show the
merged set-level value is the one over all merged predictions, not a mean of the shards' values.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from svgarena.harness import MergeError, RunConfig, execute, load_results, merge_runs, parse_shard, shard_index
from svgarena.harness._shard import Shard
from svgarena.scoring._metrics import METRICS, _Frechet
from svgarena.tasks import bundled_suite_path, iter_samples

TASKS = ["icon/img2svg", "icon/text2svg"]  # vtracer where it can answer; oracle and blank on both


class _PixelFID(_Frechet):
    """The real Frechet distance over mean-RGB features: a set-level metric that needs no download."""

    name = "fid"
    checkpoints = ()
    dim = 3
    net_key = "test-mean-rgb"

    def prepare(self, ctx) -> None:  # noqa: ANN001
        return None

    def features(self, ctx, images: np.ndarray) -> np.ndarray:  # noqa: ANN001
        return np.asarray(images, dtype=np.float64).reshape(len(images), -1, 3).mean(axis=1)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(METRICS, "fid", _PixelFID)
        for run_id, shard in (("whole", None), ("s1", "1/2"), ("s2", "2/2")):
            config = RunConfig(tasks=TASKS, limit=8, out=str(out), run_id=run_id, shard=shard, workers=2)
            asyncio.run(execute(config))
        merge_runs(["s1", "s2"], "merged", out=out)
    return out


def _scores(run_dir: Path) -> dict[tuple, tuple]:
    con = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return {(r[0], r[1], r[2], r[3], r[4]): (r[5], r[6], r[7]) for r in con.execute(
            "SELECT t.task, t.model, t.sample_id, t.epoch, s.metric, s.value, s.ok, t.outcome FROM scores s "
            "JOIN trajectories t ON t.id = s.trajectory_id")}
    finally:
        con.close()


def _set_scores(run_dir: Path) -> dict[tuple, tuple]:
    con = sqlite3.connect(run_dir / "run.sqlite")
    try:
        return {(r[0], r[1], r[2], r[3]): (r[4], r[5], r[6]) for r in con.execute(
            "SELECT task, model, metric, view, value, n_ref, n_pred FROM set_scores")}
    finally:
        con.close()


def _table_text(run_dir: Path) -> str:
    from rich.console import Console

    from svgarena.harness import tables

    console = Console(width=400, record=True, file=open("/dev/null", "w"))
    for table in tables(load_results(run_dir, bootstrap=200)):
        console.print(table)
    return console.export_text()


def test_shard_spec_is_one_based_and_checked() -> None:
    assert parse_shard("2/4") == Shard(2, 4)
    for bad in ("0/2", "3/2", "1/0", "2", "a/b"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_shards_partition_the_suite_by_a_stable_hash() -> None:
    ids = [s.id for s in iter_samples(bundled_suite_path(), "icon/img2svg")]
    parts = [[i for i in ids if Shard(k, 3).holds("icon/img2svg", i)] for k in (1, 2, 3)]
    assert sorted(sum(parts, [])) == sorted(ids)  # every sample in exactly one shard
    assert all(parts)
    # sha256("icon/img2svg\0" + id)[:8] mod N, not Python's salted hash(): pinned, the same on every machine
    assert shard_index("icon/img2svg", "0", 1000) == 572
    assert [shard_index("icon/img2svg", str(i), 2) for i in range(8)] == [0, 1, 1, 0, 1, 1, 1, 0]


def test_shard_runs_hold_their_slice_and_record_it(runs: Path) -> None:
    whole = {k[:4] for k in _scores(runs / "whole")}
    one, two = ({k[:4] for k in _scores(runs / s)} for s in ("s1", "s2"))
    assert one and two and not one & two and one | two == whole
    meta = load_results(runs / "s1", bootstrap=0)["meta"]
    assert meta["shard"]["spec"] == "1/2" and meta["shard"]["n"] == 2
    assert load_results(runs / "s1", bootstrap=0)["config"]["shard"] == "1/2"


def test_merged_run_equals_the_unsharded_run(runs: Path) -> None:
    whole, merged = _scores(runs / "whole"), _scores(runs / "merged")
    assert set(merged) == set(whole)
    for key, (value, ok, outcome) in whole.items():
        assert merged[key][1:] == (ok, outcome), key
        assert merged[key][0] == pytest.approx(value, abs=1e-9), key
    assert _table_text(runs / "merged") == _table_text(runs / "whole")
    merged_results = load_results(runs / "merged", bootstrap=0)
    assert merged_results["status"] == "finished"
    assert [m["shard"] for m in merged_results["meta"]["merged_from"]] == ["1/2", "2/2"]


def test_set_level_metrics_are_recomputed_over_the_merged_set(runs: Path) -> None:
    whole, merged = _set_scores(runs / "whole"), _set_scores(runs / "merged")
    parts = [_set_scores(runs / s) for s in ("s1", "s2")]
    assert [k for k in merged if k[2] == "fid"]
    for key in [k for k in merged if k[2] == "fid" and k[3] == "sarena"]:
        value, n_ref, n_pred = merged[key]
        assert (n_ref, n_pred) == whole[key][1:]
        assert n_pred == parts[0][key][2] + parts[1][key][2]
        assert value == pytest.approx(whole[key][0], rel=1e-9, abs=1e-9)
    # blank answers are all black substitutes: the merged FID is over all references, not a mean of two
    key = ("icon/text2svg", "baseline/blank", "fid", "sarena")
    assert merged[key][0] != pytest.approx((parts[0][key][0] + parts[1][key][0]) / 2, rel=1e-6)


def test_artifacts_are_copied(runs: Path) -> None:
    con = sqlite3.connect(runs / "merged" / "run.sqlite")
    media = [json.loads(r[0]) for r in con.execute("SELECT media FROM trajectories")]
    answers = [r[0] for r in con.execute("SELECT answer FROM trajectories")]
    con.close()
    names = [n for m in media for n in m.values()] + [a for a in answers if a]
    assert len(names) > 20
    for name in names:
        digest, ext = name.split(".")
        assert (runs / "merged" / "artifacts" / digest[:2] / name).is_file()


def test_incomplete_merge_names_the_missing_keys_and_creates_nothing(runs: Path) -> None:
    with pytest.raises(MergeError) as err:
        merge_runs(["s1"], "partial", out=runs)
    lines = str(err.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith("missing ")
    missing = sorted({k[:4] for k in _scores(runs / "s2")}, key=lambda k: (k[0], k[1], int(k[2])))
    assert f"missing {len(missing)} of " in lines[0]
    task, model, sid, epoch = missing[0]
    assert f"{task}|{model}|{sid}|{epoch}" in lines[0]
    assert not (runs / "partial").exists()


def test_a_duplicate_shard_is_refused(runs: Path, tmp_path: Path) -> None:
    shutil.copytree(runs / "s1", tmp_path / "s1-again")
    with pytest.raises(MergeError) as err:
        merge_runs(["s1", "s2", str(tmp_path / "s1-again")], "dup", out=runs)
    assert "shard 1/2 given more than once: s1, s1-again" in str(err.value)
    with pytest.raises(MergeError, match="given twice"):
        merge_runs(["s1", "s2", "s1"], "dup", out=runs)
    assert not (runs / "dup").exists()


def test_an_unsharded_overlap_is_named_as_duplicates(runs: Path) -> None:
    """A whole run and a shard of the same plan overlap: each duplicated key is named."""
    with pytest.raises(MergeError) as err:
        merge_runs(["whole", "s1"], "overlap", out=runs)
    text = str(err.value)
    assert "split the suite differently" in text


def test_different_arms_are_refused(runs: Path, tmp_path: Path) -> None:
    shutil.copytree(runs / "s2", tmp_path / "s2-other")
    con = sqlite3.connect(tmp_path / "s2-other" / "run.sqlite")
    config = json.loads(con.execute("SELECT config FROM runs").fetchone()[0])
    config["select"] = "best-oracle"
    con.execute("UPDATE runs SET config=?", (json.dumps(config),))
    con.commit()
    con.close()
    with pytest.raises(MergeError, match="differ in select"):
        merge_runs(["s1", str(tmp_path / "s2-other")], "other", out=runs)


def test_cli_merge_and_bad_shard(runs: Path) -> None:
    from svgarena.cli import app

    cli = CliRunner()
    result = cli.invoke(app, ["merge", "s1", "s2", "--into", "cli-merged", "--out", str(runs), "--reuse-sample-scores"])
    assert result.exit_code == 0, result.output
    assert "merged 2 shard runs" in result.output
    assert _scores(runs / "cli-merged") == _scores(runs / "merged")
    # no Inception checkpoint here: FID is skipped, and the shards' own FID values are never copied in
    assert not [k for k in _set_scores(runs / "cli-merged") if k[1] == "fid"]
    result = cli.invoke(app, ["merge", "s2", "--into", "cli-partial", "--out", str(runs)])
    assert result.exit_code == 2 and result.output.startswith("error: missing ")
    assert "Traceback" not in result.output and not (runs / "cli-partial").exists()
    result = cli.invoke(app, ["run", "--shard", "3/2", "--out", str(runs), "--model", "baseline/vtracer"])
    assert result.exit_code == 2 and "K must be between 1 and N" in result.output
    assert "Traceback" not in result.output


def test_a_shard_run_resumes_as_the_same_shard(tmp_path: Path) -> None:
    config = RunConfig(tasks=["icon/img2svg"], models=["baseline/oracle"], limit=8, out=str(tmp_path), run_id="r",
                       shard="2/2", workers=1)
    asyncio.run(execute(config))
    db = tmp_path / "r" / "run.sqlite"
    con = sqlite3.connect(db)
    ids = {r[0] for r in con.execute("SELECT sample_id FROM trajectories")}
    assert ids == {str(i) for i in range(8) if shard_index("icon/img2svg", str(i), 2) == 1}
    victim = sorted(ids)[0]
    # as a kill mid-sample leaves it: started, its round stored, not scored nor finished
    tid = con.execute("SELECT id FROM trajectories WHERE sample_id=?", (victim,)).fetchone()[0]
    con.execute("DELETE FROM round_scores WHERE trajectory_id=?", (tid,))
    con.execute("DELETE FROM scores WHERE trajectory_id=?", (tid,))
    con.execute("UPDATE trajectories SET status='running', finished=NULL WHERE id=?", (tid,))
    con.commit()
    con.close()
    summary = asyncio.run(execute(RunConfig(out=str(tmp_path), run_id="r"), resume=True))
    assert (summary.cleared, summary.done, summary.skipped) == (1, 1, len(ids) - 1)
    con = sqlite3.connect(db)
    assert {r[0] for r in con.execute("SELECT sample_id FROM trajectories WHERE status='done'")} == ids
    con.close()
