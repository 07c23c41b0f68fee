"""The Ray executor on a real local cluster of two logical nodes: same numbers as local, and faults.

One cluster serves the module (it takes 10-50 s to start on a loaded 2-core machine): HOME points
at a temporary folder (Ray 2.6x writes ~/.ray), the object store is capped at 100 MB per node, the
dashboard is off, and the finalizer stops every Ray process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'svgarena[ray]')")

from svgarena.harness import RunConfig, execute  # noqa: E402
from svgarena.outcome import Outcome  # noqa: E402
from svgarena.sandboxes import chromium_path  # noqa: E402
from svgarena.sandboxes._ray import ActorFailed, ActorPool, RayRenderer  # noqa: E402

pytestmark = pytest.mark.slow

OBJECT_STORE = 100 * 1024 * 1024
LOOPBACK = "127.0.0.1"  # every node and the driver on loopback (tests/conftest.py sets RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    from ray.cluster_utils import Cluster

    home = tmp_path_factory.mktemp("ray-home")
    saved = {k: os.environ.get(k) for k in ("HOME", "RAY_ADDRESS")}
    os.environ["HOME"] = str(home)  # ~/.ray/auth_token and the like land here, not in the real home
    os.environ.pop("RAY_ADDRESS", None)
    head = {"num_cpus": 1, "object_store_memory": OBJECT_STORE, "include_dashboard": False, "node_ip_address": LOOPBACK}
    gpus = _cuda_devices()
    if gpus:  # a GPU machine: the head offers its GPUs, so scoring actors take num_gpus=1 each
        head["num_gpus"] = gpus
    c = Cluster(initialize_head=True, connect=False, head_node_args=head)
    try:
        c.add_node(num_cpus=1, object_store_memory=OBJECT_STORE, node_ip_address=LOOPBACK)
        c.wait_for_nodes()
        ray.init(address=c.address, log_to_driver=False, _node_ip_address=LOOPBACK)
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {LOOPBACK}
        yield c
    finally:
        ray.shutdown()
        c.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _cuda_devices() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # noqa: BLE001
        return 0


def _rows(db: Path) -> tuple[list, list]:
    con = sqlite3.connect(db)
    try:
        trajs = con.execute("SELECT task, model, sample_id, epoch, outcome, answer, media FROM trajectories "
                            "ORDER BY task, model, sample_id").fetchall()
        scores = con.execute("SELECT t.task, t.model, t.sample_id, s.metric, s.value, s.ok FROM scores s "
                             "JOIN trajectories t ON t.id = s.trajectory_id ORDER BY 1, 2, 3, 4").fetchall()
        return trajs, scores
    finally:
        con.close()


@pytest.mark.timeout(900)  # two runs of three tasks, DINO on CPU: minutes on a loaded 2-core machine
def test_ray_run_gives_the_local_run_numbers_and_bytes(cluster, tmp_path: Path, monkeypatch) -> None:
    """Outcomes, pixel scores, a neural score (DINO, random weights, in the scoring actors) and the render bytes."""
    import json

    from svgarena.harness import ScoringOptions
    from tests.scoring._random_weights import write_dino

    wdir = tmp_path / "weights"
    wdir.mkdir()
    write_dino(wdir)
    scoring = ScoringOptions(metrics=["dino"], weights_dir=str(wdir), batch_size=2, image_size=64)

    tasks = ["icon/img2svg", "icon/edit/flip"] + (["animation/video2sani"] if chromium_path() else [])
    out = tmp_path / "runs"
    outcomes = {}
    for executor in ("ray", "local"):
        config = RunConfig(tasks=tasks, models=["baseline/vtracer", "baseline/oracle"], limit=1, out=str(out),
                           run_id=executor, executor=executor, ray_address=cluster.address, animation_mode="fast")
        summary = asyncio.run(execute(config, scoring=scoring))
        assert summary.done == len(tasks) * 2
        outcomes[executor] = summary.outcomes
    # vtracer cannot answer icon/edit (no input image): model_error there, on both executors
    assert outcomes["ray"] == outcomes["local"] == {"ok": len(tasks) * 2 - 1, "model_error": 1}
    (ray_trajs, ray_scores), (local_trajs, local_scores) = _rows(out / "ray" / "run.sqlite"), _rows(out / "local" / "run.sqlite")
    assert ray_trajs == local_trajs  # same outcomes, and the same artifact names: content hashes of the renders
    assert ray_scores == local_scores and len(ray_scores) >= len(ray_trajs)
    dino = [row for row in ray_scores if row[3] == "dino"]
    assert len(dino) == 4 and all(row[4] is not None for row in dino if row[0] == "icon/img2svg")
    pngs = 0
    for (*_, outcome, _answer, media) in ray_trajs:  # byte for byte: each run wrote its own copy of every render
        for kind, name in json.loads(media or "{}").items():
            assert _artifact(out / "ray", name) == _artifact(out / "local", name)
            pngs += kind == "png"
    assert pngs == sum(1 for t in ray_trajs if t[4] == "ok")
    con = sqlite3.connect(out / "ray" / "run.sqlite")
    config_json, meta_json = con.execute("SELECT config, meta FROM runs").fetchone()
    assert json.loads(config_json)["executor"] == "ray"
    assert json.loads(meta_json)["scoring"]["executor"] == "ray"  # dino ran in the scoring actors
    con.close()


def _artifact(run_dir: Path, name: str) -> bytes:
    from svgarena.harness._artifacts import ArtifactStore

    return ArtifactStore(run_dir / "artifacts").path(name).read_bytes()


def _busy_svg(n: int = 6000) -> str:
    shapes = "".join(f'<circle cx="{(i * 37) % 448}" cy="{(i * 91) % 448}" r="{5 + i % 40}" fill="#{i % 4096:03x}" '
                     f'fill-opacity="0.5" stroke="black"/>' for i in range(n))
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="448" height="448">{shapes}</svg>'


def test_sigkilled_render_actor_is_replaced_and_its_render_retried(cluster) -> None:
    renderer = RayRenderer("local", 1)

    async def go() -> tuple:
        first = await renderer.render('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>')
        pid = first.meta["actor_pid"]
        task = asyncio.ensure_future(renderer.render(_busy_svg()))
        await asyncio.sleep(0.5)  # the render is in flight in the actor's worker
        assert not task.done()
        os.kill(pid, signal.SIGKILL)
        result = await task
        return pid, result

    try:
        pid, result = asyncio.run(go())
    finally:
        renderer.shutdown()
    assert result.outcome is Outcome.OK and result.image.shape == (448, 448, 3)
    assert result.meta["actor_pid"] != pid  # rendered again, by the replacement actor
    assert renderer.pool.replaced == 1


class _DiesOnce:
    """Exits hard on its first call in the whole cluster (a marker file says it happened), then works."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def work(self, x: int) -> int:
        if not os.path.exists(self.marker):
            Path(self.marker).write_text("died")
            os._exit(1)
        return x * 2

    def info(self) -> dict:
        return {"pid": os.getpid()}

    def close(self) -> None:
        pass


class _AlwaysDies(_DiesOnce):
    def work(self, x: int) -> int:
        os._exit(1)


def test_actor_death_is_retried_once_then_a_typed_failure(cluster, tmp_path: Path) -> None:
    once = ActorPool(ray, _DiesOnce, (str(tmp_path / "marker"),), kind="test", size=1)
    always = ActorPool(ray, _AlwaysDies, (str(tmp_path / "unused"),), kind="test", size=1)

    async def go() -> tuple:
        value = await once.call("work", 21)
        try:
            await always.call("work", 1)
        except ActorFailed as exc:
            return value, str(exc)
        return value, None

    try:
        value, failure = asyncio.run(go())
    finally:
        once.shutdown()
        always.shutdown()
    assert value == 42 and once.replaced == 1
    assert failure is not None and "died twice" in failure and always.replaced == 2


def test_blocking_calls_of_the_scoring_pass_retry_once_too(cluster, tmp_path: Path) -> None:
    once = ActorPool(ray, _DiesOnce, (str(tmp_path / "marker"),), kind="scoring", size=1)
    always = ActorPool(ray, _AlwaysDies, (str(tmp_path / "unused"),), kind="scoring", size=1)
    try:
        assert once.call_blocking("work", 5) == 10 and once.replaced == 1
        with pytest.raises(ActorFailed, match="died twice"):
            always.call_blocking("work", 1)
        assert always.replaced == 2
    finally:
        once.shutdown()
        always.shutdown()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda_devices(), reason="no CUDA device")
def test_scoring_actors_run_on_cuda_where_the_cluster_has_gpus(cluster) -> None:
    from svgarena.scoring import ScoringContext
    from svgarena.scoring._remote import RayScoring

    scoring = RayScoring(ScoringContext(image_size=64))
    try:
        infos = scoring.info()
    finally:
        scoring.shutdown()
    assert scoring.gpus == _cuda_devices() and len(infos) == scoring.gpus
    assert all(i["cuda"] and i["device"].startswith("cuda") and i["gpus"] for i in infos)


def test_cpu_scoring_actors_one_per_node_without_gpus(cluster) -> None:
    from svgarena.scoring import ScoringContext
    from svgarena.scoring._remote import RayScoring

    if _cuda_devices():
        pytest.skip("this machine has GPUs")
    scoring = RayScoring(ScoringContext(image_size=64))
    try:
        infos = scoring.info()
    finally:
        scoring.shutdown()
    assert scoring.gpus == 0 and [i["device"] for i in infos] == ["cpu", "cpu"]


@pytest.mark.timeout(600)
def test_a_rescore_keeps_both_scoring_actors_busy_and_matches_the_local_scores(cluster, tmp_path: Path,
                                                                               monkeypatch) -> None:
    """One batch in flight per scoring actor (one per node here): both score, and the numbers (DINO per
    sample, FID over the set with its Inception in the actors) are the local ones."""
    import shutil

    from svgarena.harness import ScoringOptions, rescore
    from svgarena.scoring._remote import RayScoring
    from tests.scoring._random_weights import write_dino, write_inception

    wdir = tmp_path / "weights"
    wdir.mkdir()
    write_dino(wdir)
    write_inception(wdir)
    opts = dict(metrics=["dino", "fid"], weights_dir=str(wdir), batch_size=2, image_size=64)
    out = tmp_path / "runs"
    config = RunConfig(tasks=["icon/img2svg", "icon/text2svg"], models=["baseline/oracle", "baseline/vtracer"], limit=4,
                       out=str(out), run_id="local", executor="local")
    asyncio.run(execute(config, scoring=ScoringOptions(**opts)))
    shutil.copytree(out / "local", out / "ray")
    seen: list[dict] = []
    shutdown = RayScoring.shutdown

    def spy(self: RayScoring) -> None:
        seen.extend(self.info())
        shutdown(self)

    monkeypatch.setattr(RayScoring, "shutdown", spy)
    rescore(out / "ray", out, ScoringOptions(**opts, executor="ray", ray_address=cluster.address))
    dino = {name: [row for row in _rows(out / name / "run.sqlite")[1] if row[3] == "dino"] for name in ("local", "ray")}
    assert len(dino["local"]) == 8 and dino["ray"] == dino["local"]
    assert len(seen) == 2 and all(info["batches"] >= 1 for info in seen), seen  # batches of 2 over 2 actors
    fid = {}
    for name in ("local", "ray"):
        con = sqlite3.connect(out / name / "run.sqlite")
        fid[name] = con.execute("SELECT model, view, value, n_ref, n_pred FROM set_scores WHERE metric = 'fid' "
                                "ORDER BY 1, 2").fetchall()
        con.close()
    oracle = [row for row in fid["local"] if row[0] == "baseline/oracle"]  # icon/text2svg: FID over the set
    assert len(oracle) == 2 and all(row[2] is not None for row in oracle) and fid["ray"] == fid["local"]


def test_fvd_features_come_from_a_scoring_actor_and_equal_the_local_network(cluster, tmp_path: Path) -> None:
    import numpy as np
    import torch

    from svgarena.scoring import ScoringContext
    from svgarena.scoring._fvd import FVD, I3D_FILE, I3DFeatures, build_i3d
    from svgarena.scoring._remote import RayScoring

    torch.manual_seed(0)
    net = build_i3d()
    torch.save({k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")},
               tmp_path / I3D_FILE)
    clips = np.random.default_rng(0).integers(0, 256, (2, 16, 128, 128, 3), dtype=np.uint8)
    ctx = ScoringContext(image_size=64, weights_dir=tmp_path, batch_size=2)
    scoring = RayScoring(ctx)
    try:
        metric = scoring.build("fvd")
        metric.prepare(ctx)
        remote = metric.features(list(clips))
        infos = scoring.info()
    finally:
        scoring.shutdown()
    local = I3DFeatures(build_i3d(torch.load(tmp_path / I3D_FILE)), "cpu", batch_size=2)(list(clips))
    assert isinstance(metric, FVD) and remote.shape == local.shape and len(local) == 2
    assert np.array_equal(remote, local) and sum(i["batches"] for i in infos) == 1


def test_renders_spread_over_both_nodes(cluster) -> None:
    renderer = RayRenderer("local")  # one actor per CPU of each node: two here
    try:
        assert renderer.size == 2
        nodes = {info["pid"] for info in renderer.actor_info()}
        assert len(nodes) == 2
    finally:
        renderer.shutdown()


def _done(db: Path) -> dict[tuple, tuple]:
    if not db.exists():
        return {}
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT sample_id, epoch, id, finished FROM trajectories WHERE status='done'").fetchall()
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()
    return {(s, e): (i, f) for s, e, i, f in rows}


def _wait_done(db: Path, n: int, proc, timeout_s: float = 180) -> None:
    deadline = time.time() + timeout_s
    while len(_done(db)) < n and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)


@pytest.mark.timeout(900)  # four CLI runs, each starting Ray actors: minutes on a loaded 2-core machine
def test_driver_sigkill_resumes_and_a_lost_cluster_stops_the_run_resumably(cluster, tmp_path: Path) -> None:
    """Last in the module: it ends the module's cluster."""
    import subprocess
    import sys

    from tests._servers import ChatServer

    svg = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="32" height="32" fill="red"/></svg>'
    epochs, n_samples = 3, 14  # the bundled icon/text2svg has 14 samples
    total = epochs * n_samples
    out = tmp_path / "runs"
    ray.shutdown()  # this process must not be a driver of the cluster the test ends
    with ChatServer(lambda body: f"Here it is:\n{svg}", delay=0.2) as server:
        env = dict(os.environ, OPENAI_API_BASE=server.api_base, OPENAI_API_KEY="sk-test-not-a-real-key",
                   RAY_ADDRESS=cluster.address)
        cmd = [sys.executable, "-m", "svgarena.cli", "run", "--task", "icon/text2svg", "--model", "openai/test-model",
               "--epochs", str(epochs), "--concurrency", "2", "--out", str(out)]

        # 1. SIGKILL the driver mid-run, then resume on the cluster: nothing finished is redone.
        db = out / "r1" / "run.sqlite"
        proc = subprocess.Popen([*cmd, "--executor", "ray", "--run-id", "r1"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_done(db, 6, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        before = _done(db)
        assert 6 <= len(before) < total, "the driver must be killed part-way"
        res = subprocess.run([*cmd, "--resume", "r1", "--json"], env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        after = _done(db)
        assert len(after) == total and all(after[k] == v for k, v in before.items())
        con = sqlite3.connect(db)
        assert con.execute("SELECT count(*), count(DISTINCT trajectory_id) FROM attempts").fetchone() == (total, total)
        assert con.execute("SELECT count(*) FROM trajectories WHERE outcome != 'ok'").fetchone()[0] == 0
        con.close()

        # 2. The whole cluster goes away mid-run: one clear line, a resumable store, finished locally.
        db = out / "r2" / "run.sqlite"
        proc = subprocess.Popen([*cmd, "--executor", "ray", "--run-id", "r2"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _wait_done(db, 4, proc)
        assert proc.poll() is None, "the run must still be going when the cluster goes"
        cluster.shutdown()
        _, err = proc.communicate(timeout=120)
        con = sqlite3.connect(db)
        status = con.execute("SELECT status FROM runs").fetchone()[0]
        con.close()
        # The head watch usually sees the loss first (the driver ends itself with the line); when the driver's
        # local raylet dies first, Ray's core worker ends the driver, and the supervising parent says it instead.
        assert proc.returncode == 2, err[-3000:]
        assert "error: lost the Ray cluster" in err and "--resume r2" in err, err[-3000:]
        assert status == "interrupted"
        if "lost the Ray cluster (the head" not in err:  # the driver's own ending: no stray traceback either
            assert "Traceback" not in err, err[-3000:]
        lost_before = _done(db)
        res = subprocess.run([*cmd, "--resume", "r2", "--executor", "local", "--json"], env=env, capture_output=True,
                             text=True, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        after = _done(db)
        assert len(after) == total and all(after[k] == v for k, v in lost_before.items())
