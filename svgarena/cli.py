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
from typing import Annotated, Optional

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


class _BarProgress:
    """Rich progress bars, one per (task, model)."""

    def __init__(self, console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[fails]}"), TimeElapsedColumn(), console=console,
                             transient=False)
        self.ids: dict[tuple[str, str], int] = {}
        self.fails: dict[tuple[str, str], int] = {}
        self.console = console

    def start(self, task: str, model: str, total: int) -> None:
        if not self.ids:  # the display starts with the first bar, so early errors print alone
            self.bars.start()
        key = (task, model)
        self.fails[key] = 0
        self.ids[key] = self.bars.add_task(f"{task:<24} {model:<20}", total=total, fails="")

    def advance(self, task: str, model: str, outcome) -> None:
        key = (task, model)
        if outcome.value != "ok":
            self.fails[key] += 1
        n = self.fails[key]
        self.bars.update(self.ids[key], advance=1, fails=f"[red]{n} failed[/red]" if n else "")

    def note(self, text: str) -> None:
        self.console.print(text)

    def stop(self) -> None:
        if self.ids:
            self.bars.stop()


@app.command()
def run(
    suite: Annotated[str, typer.Option(help="sarena-mini (bundled), sarena (needs --data), or a folder in SArena layout.")] = "sarena-mini",
    data: Annotated[Optional[str], typer.Option(help="The unzipped SArena folder for --suite sarena (or $SVGARENA_DATA).")] = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", "-t", help="Task id or glob, repeatable (icon/*, */img2svg). Default: every task in the suite.")] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="LiteLLM route or baseline/<name>, repeatable. Default: the built-in baselines, each where it can answer.")] = None,
    solver: Annotated[str, typer.Option(help="How each sample is solved.")] = "direct",
    limit: Annotated[Optional[int], typer.Option(help="At most this many samples per task.")] = None,
    epochs: Annotated[int, typer.Option(help="Repeats of each sample.")] = 1,
    concurrency: Annotated[int, typer.Option(help="Model calls in flight per model.")] = 8,
    workers: Annotated[Optional[int], typer.Option(help="Render workers (default: one per core).")] = None,
    render_timeout: Annotated[float, typer.Option(help="Seconds one render may take.")] = 10.0,
    animation_mode: Annotated[str, typer.Option(help="Animated answers: sarena-exact (150 frames, H.264 at 448 and 128) or fast (only the 8 metric frames).")] = "sarena-exact",
    extract: Annotated[str, typer.Option(help="SVG extraction rule: official or vlmevalkit.")] = "official",
    tokenizer: Annotated[Optional[str], typer.Option(help="Token-length tokenizer: internvl3-8b, smollm2, utf8-bytes (default: best available).")] = None,
    seed: Annotated[int, typer.Option(help="Seed recorded with the run.")] = 0,
    out: Annotated[str, typer.Option(help="Folder that holds run folders.")] = "runs",
    run_id: Annotated[Optional[str], typer.Option(help="Name of a new run (default: timestamp).")] = None,
    resume: Annotated[Optional[str], typer.Option(help="Resume this run id: finish only what is missing.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON instead of tables.")] = False,
) -> None:
    """Evaluate models on tasks; with no options, the bundled suite with the built-in baselines."""
    from rich.console import Console

    from svgarena.harness import RunConfig, execute, load_results, new_run_id
    from svgarena.tasks import SuiteError

    console = Console(stderr=True)
    config = RunConfig(
        suite=suite, data=data, tasks=list(task or []), models=list(model or []), solver=solver, limit=limit,
        epochs=epochs, concurrency=concurrency, workers=workers, render_timeout_s=render_timeout,
        animation_mode=animation_mode,
        extract_rule=extract, tokenizer=tokenizer, seed=seed, out=out, run_id=resume or run_id or new_run_id(),
    )
    progress = _BarProgress(console)
    try:
        summary = asyncio.run(execute(config, resume=resume is not None, progress=progress))
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


@app.command()
def report(
    run: Annotated[str, typer.Argument(help="Run id (under --out), run folder, or run.sqlite.")],
    out: Annotated[str, typer.Option(help="Folder that holds run folders.")] = "runs",
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Reprint a run's results from its store alone."""
    from svgarena.harness import load_results

    try:
        results = load_results(run, out)
    except _USER_ERRORS as exc:
        _fail(exc)
    _print_results(results, as_json)


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


def _print_results(results: dict, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(results, indent=2, default=str) + "\n")
        return
    from rich.console import Console

    from svgarena.harness import tables, usage_table

    console = Console(width=max(160, Console().width))
    for table in tables(results):
        console.print(table)
    console.print(usage_table(results))
    for note in results.get("notes", []):
        console.print(f"note: {note['text']}")
    if results.get("tokenizer"):
        console.print(f"token length counted with the {results['tokenizer']} tokenizer, over valid predictions only")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
