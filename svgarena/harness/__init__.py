"""How a run happens: config, runner, run store, resume, reports."""

from svgarena.harness._artifacts import ArtifactStore
from svgarena.harness._config import RunConfig, new_run_id
from svgarena.harness._html import HtmlReport, build_html
from svgarena.harness._edit_overall import EDIT_OVERALL, edit_overall, official_edit_lines, official_token_length
from svgarena.harness._dashboard import LineLog, RunDashboard
from svgarena.harness._failures import failure_lines, failure_reasons, recent_failures, short_reason
from svgarena.harness._internsvg import InterchangeError, export_internsvg, import_internsvg, read_folder
from svgarena.harness._merge import MergeError, MergeReport, merge_runs
from svgarena.harness._meta import run_metadata
from svgarena.harness._preflight import PreflightError, preflight
from svgarena.harness._rescore import ScoringOptions, rescore, score_stored
from svgarena.harness._report import collect, legend, load_results, tables, usage_table
from svgarena.harness._runner import DEFAULT_MODELS, Progress, RunSummary, execute
from svgarena.harness._shard import Shard, parse_shard, shard_index
from svgarena.harness._stats import Interval, bootstrap_mean, holm, mcnemar_exact, paired_bootstrap, wilcoxon_test
from svgarena.harness._compare import compare_runs, compare_table
from svgarena.harness._rounds import DEFAULT_EPSILON, load_rounds, rounds_report
from svgarena.harness._export import load_samples, write_csv
from svgarena.harness._paper import paper_rows
from svgarena.harness._rounds_tables import rounds_tables
from svgarena.harness._steps import StepProgress
from svgarena.harness._supervise import ChildEnd, stored_executor, supervise, supervising
from svgarena.harness._store import STORE_VERSION, RunStore, StoreVersionError, TrajectoryKey
from svgarena.harness._watch import Snapshot, snapshot
from svgarena.harness._watch import watch as watch_run

__all__ = [
    "ChildEnd",
    "stored_executor",
    "supervise",
    "supervising",
    "ArtifactStore",
    "DEFAULT_EPSILON",
    "load_rounds",
    "load_samples",
    "paper_rows",
    "write_csv",
    "rounds_report",
    "rounds_tables",
    "HtmlReport",
    "build_html",
    "EDIT_OVERALL",
    "edit_overall",
    "official_edit_lines",
    "official_token_length",
    "Interval",
    "LineLog",
    "RunDashboard",
    "bootstrap_mean",
    "compare_runs",
    "compare_table",
    "holm",
    "mcnemar_exact",
    "paired_bootstrap",
    "wilcoxon_test",
    "DEFAULT_MODELS",
    "InterchangeError",
    "export_internsvg",
    "import_internsvg",
    "read_folder",
    "MergeError",
    "MergeReport",
    "Shard",
    "PreflightError",
    "Progress",
    "RunConfig",
    "RunStore",
    "STORE_VERSION",
    "Snapshot",
    "StepProgress",
    "StoreVersionError",
    "RunSummary",
    "ScoringOptions",
    "TrajectoryKey",
    "collect",
    "execute",
    "failure_lines",
    "failure_reasons",
    "legend",
    "load_results",
    "merge_runs",
    "new_run_id",
    "parse_shard",
    "recent_failures",
    "preflight",
    "rescore",
    "run_metadata",
    "score_stored",
    "shard_index",
    "short_reason",
    "snapshot",
    "tables",
    "usage_table",
    "watch_run",
]
