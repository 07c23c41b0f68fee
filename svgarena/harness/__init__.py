"""How a run happens: config, runner, run store, resume, reports."""

from svgarena.harness._artifacts import ArtifactStore
from svgarena.harness._config import RunConfig, new_run_id
from svgarena.harness._meta import run_metadata
from svgarena.harness._preflight import PreflightError, preflight
from svgarena.harness._rescore import ScoringOptions, rescore, score_stored
from svgarena.harness._report import collect, load_results, tables, usage_table
from svgarena.harness._runner import DEFAULT_MODELS, Progress, RunSummary, execute
from svgarena.harness._store import STORE_VERSION, RunStore, StoreVersionError, TrajectoryKey

__all__ = [
    "ArtifactStore",
    "DEFAULT_MODELS",
    "PreflightError",
    "Progress",
    "RunConfig",
    "RunStore",
    "STORE_VERSION",
    "StoreVersionError",
    "RunSummary",
    "ScoringOptions",
    "TrajectoryKey",
    "collect",
    "execute",
    "load_results",
    "new_run_id",
    "preflight",
    "rescore",
    "run_metadata",
    "score_stored",
    "tables",
    "usage_table",
]
