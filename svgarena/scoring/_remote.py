"""The neural part of a scoring pass in Ray actors (``--executor ray``).

Each per-sample neural metric (DINO, CLIP, LPIPS, ViCLIP, ...) becomes a ``RemoteMetric`` whose
``score`` loads the batch here (the driver reads the run's files: renders, frames, references)
and ships it to a scoring actor as numpy arrays; the actor holds the networks, built once, on its
own best device: one actor per GPU of the cluster (``num_gpus=1``), else one CPU actor per node.
Set-level metrics (FID, FID-C, FVD) run their networks in the actors too, over shipped images
or clips, and keep their feature statistics and the distance in the driver's pass. A missing
checkpoint on the actors' nodes is skipped with the usual line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from svgarena.scoring._batch import Batch
from svgarena.scoring._metrics import METRICS, Metric, ScoringContext
from svgarena.scoring._scorer import SampleScore
from svgarena.tasks._types import AnswerKind


class PassAborted(BaseException):
    """The cluster is gone: stop the whole pass (a metric's ``Exception`` would only cost one sample)."""


class ScoringActor:
    """Holds one ``ScoringContext`` (networks built once) and the metrics it has prepared."""

    def __init__(self, settings: dict[str, Any]) -> None:
        import svgarena.scoring  # noqa: F401 - registers every metric module
        from svgarena.scoring._torch import resolve_device

        self.ctx = ScoringContext(device=resolve_device(settings.get("device") or "auto"),
                                  half=bool(settings.get("half")), batch_size=int(settings.get("batch_size") or 16),
                                  weights_dir=Path(settings["weights_dir"]) if settings.get("weights_dir") else None,
                                  image_size=int(settings["image_size"]),
                                  tokenizer=settings.get("tokenizer"))
        if self.ctx.half:
            from svgarena.scoring._torch import autocast

            autocast(self.ctx.device, True)
        if self.ctx.device == "cpu" and settings.get("threads"):
            self._cpu_threads(int(settings["threads"]))
        self.metrics: dict[str, Metric] = {}
        self.batches = 0  # batches scored (info(): the pass spreads them over the actors)

    @staticmethod
    def _cpu_threads(wanted: int) -> None:
        """Torch's intra-op threads: the driver's count, capped at this node's CPUs.

        Ray starts actors with ``OMP_NUM_THREADS=1``; a CPU network then sums in another order
        than the driver's local pass would, and scores differ in the last float bits. With the
        driver's count (the scoring pass runs after the renders, so the node's CPUs are free)
        a CPU actor on the same kind of machine gives the local pass's numbers exactly.
        """
        import torch

        torch.set_num_threads(max(1, min(wanted, len(os.sched_getaffinity(0)))))

    def prepare(self, name: str) -> tuple | None:
        """None once ``name`` is ready; ``("missing", checkpoint, looked, metrics)`` for a missing checkpoint."""
        from svgarena.scoring._weights import CheckpointMissing

        if name in self.metrics:
            return None
        metric = METRICS[name]()
        try:
            metric.prepare(self.ctx)
        except CheckpointMissing as exc:  # it does not pickle as itself: rebuilt by the driver
            return ("missing", exc.checkpoint.name, exc.looked, exc.metrics)
        self.metrics[name] = metric
        return None

    def _ready(self, name: str) -> Metric:
        """``name`` prepared on this actor, counting the batch it is about to take."""
        missing = self.prepare(name)
        if missing is not None:
            raise RuntimeError(f"{name} cannot be loaded on this node (checkpoint {missing[1]} is missing)")
        self.batches += 1
        return self.metrics[name]

    def score(self, name: str, batch: Batch) -> list[SampleScore]:
        return self._ready(name).score(batch, self.ctx)

    def features(self, name: str, arrays: Any) -> Any:
        """A set-level metric's network over shipped images (FID, FID-C) or clips (FVD): features only.

        The driver keeps the feature statistics and computes the distance, so a set spread over
        many batches (and actors) adds up exactly as it does in a local pass.
        """
        metric = self._ready(name)
        if name == "fvd":  # its ``features`` is the I3D network itself; FID's and FID-C's take the context
            return metric.features(arrays)
        return metric.features(self.ctx, arrays)

    def info(self) -> dict[str, Any]:
        import torch

        return {"pid": os.getpid(), "device": self.ctx.device, "cuda": torch.cuda.is_available(),
                "gpus": os.environ.get("CUDA_VISIBLE_DEVICES", ""), "batches": self.batches}

    def close(self) -> None:
        self.metrics.clear()
        self.ctx._nets.clear()


def ship(batch: Batch) -> Batch:
    """The batch with every array its metrics read already loaded (files stay on the driver's disk)."""
    out = Batch(batch.task, list(batch.items), batch.size)
    video = batch.task.answer is AnswerKind.ANIMATED_SVG
    for i in range(len(out)):
        loaders = (out.ref_frames, out.pred_frames) if video else (out.ref_image, out.pred_image)
        for load in loaders:
            try:
                load(i)  # cached in the batch (an unreadable file is cached as its error)
            except Exception:  # noqa: BLE001 - the metric reports it, per sample, in the actor
                pass
    return out


class RemoteMetric(Metric):
    """A per-sample neural metric whose batches are scored in the scoring actors."""

    def __init__(self, name: str, pool: Any) -> None:
        local = METRICS[name]()
        self.name = name
        self.checkpoints = local.checkpoints
        self.neural = True
        self.set_level = False
        self.pool = pool

    def prepare(self, ctx: ScoringContext) -> None:
        _prepare_on_actors(self.pool, self.name)

    def score(self, batch: Batch, ctx: ScoringContext) -> list[SampleScore]:
        return self.collect(self.submit(batch, ctx))

    @property
    def window(self) -> int:
        """Batches the pass may keep in flight: one per scoring actor."""
        return self.pool.size

    def submit(self, batch: Batch, ctx: ScoringContext) -> Any:
        """Ship ``batch`` to the next scoring actor and return at once (``collect`` gives the scores)."""
        return _on_actors(self.pool.submit, "score", self.name, ship(batch))

    def collect(self, pending: Any) -> list[SampleScore]:
        return _on_actors(self.pool.collect, pending)


def _on_actors(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` on the actor pool; a lost cluster aborts the whole pass."""
    from svgarena.sandboxes._ray import ClusterLost

    try:
        return fn(*args)
    except ClusterLost as exc:
        raise PassAborted(str(exc)) from None


def _prepare_on_actors(pool: Any, name: str) -> None:
    """Load ``name``'s network in the actors; a checkpoint missing there is the usual ``CheckpointMissing``."""
    from svgarena.scoring._weights import CHECKPOINTS, CheckpointMissing

    missing = _on_actors(pool.call_blocking, "prepare", name)
    if missing is not None:
        _, checkpoint, looked, metrics = missing
        raise CheckpointMissing(CHECKPOINTS[checkpoint], looked, metrics)


class _RemoteFeatures:
    """Stands in for a set-level metric's network on the driver: each call runs in a scoring actor."""

    def __init__(self, name: str, pool: Any, batch_size: int) -> None:
        self.name, self.pool, self.batch_size = name, pool, batch_size

    def __call__(self, *args: Any) -> Any:
        import numpy as np

        arrays = args[-1]  # (ctx, images) for FID/FID-C, (clips,) for FVD
        if not isinstance(arrays, np.ndarray):
            arrays = [np.asarray(a) for a in arrays]
        return _on_actors(self.pool.call_blocking, "features", self.name, arrays)


def remote_set_metric(metric: Metric, pool: Any) -> Metric:
    """``metric`` (FID, FID-C, FVD) with its network in the scoring actors and its statistics here.

    Only the feature extraction moves: references, black substitutes, accumulation, caching of
    reference statistics and the distance stay the local code, so the numbers are the local ones.
    """
    name = metric.name

    def prepare(ctx: ScoringContext) -> None:
        _prepare_on_actors(pool, name)
        metric.features = _RemoteFeatures(name, pool, ctx.batch_size)

    metric.prepare = prepare  # type: ignore[method-assign]
    return metric


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


class RayScoring:
    """The scoring actors of one pass; ``build(name)`` gives the metric a pass should run."""

    def __init__(self, ctx: ScoringContext, device: str = "auto", address: str | None = None) -> None:
        from svgarena.sandboxes._ray import ActorPool, alive_nodes, connect

        ray = connect(address)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        settings = {"device": device, "half": ctx.half, "batch_size": ctx.batch_size,
                    "weights_dir": str(ctx.weights_dir) if ctx.weights_dir else None,
                    "image_size": ctx.image_size, "tokenizer": ctx.tokenizer, "threads": _torch_threads()}
        if gpus:
            self.pool = ActorPool(ray, ScoringActor, (settings,), kind="scoring", size=gpus,
                                  options={"num_gpus": 1}, pin=False)
        else:
            self.pool = ActorPool(ray, ScoringActor, (settings,), kind="scoring", size=len(alive_nodes(ray)))
        self.gpus = gpus

    def build(self, name: str) -> Metric:
        local = METRICS[name]()
        if local.neural and not local.set_level:
            return RemoteMetric(name, self.pool)
        if local.neural and local.set_level:
            return remote_set_metric(local, self.pool)
        return local

    def info(self) -> list[dict[str, Any]]:
        return self.pool.info()

    def shutdown(self) -> None:
        self.pool.shutdown()
