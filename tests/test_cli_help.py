"""`svgarena run --help` groups its options in Rich help panels a newcomer can scan."""

from __future__ import annotations

import re

PANELS = ["What", "Models", "Solver", "Rendering", "Scoring", "Storage"]
EXPECTED = {
    "What": ["--suite", "--task", "--limit"],
    "Models": ["--model", "--models-file", "--max-cost", "--no-preflight"],
    "Solver": ["--solver", "--rounds", "--select"],
    "Rendering": ["--workers", "--backend", "--renderer", "--animation-mode"],
    "Scoring": ["--choice", "--choice-judge", "--tokenizer", "--device", "--half"],
    "Storage": ["--out", "--run-id", "--resume", "--json"],
}


def test_run_help_has_the_panels_in_order() -> None:
    from typer.testing import CliRunner

    from svgarena.cli import app

    res = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    assert res.exit_code == 0, res.output
    titles = re.findall(r"╭─ (\w+) ─", res.stdout)
    assert [t for t in titles if t != "Options"] == PANELS
    # each option sits inside its panel: between that panel's title and the next one
    blocks = re.split(r"╭─ (\w+) ─", res.stdout)[1:]
    text = {blocks[i]: blocks[i + 1] for i in range(0, len(blocks), 2)}
    for panel, options in EXPECTED.items():
        for opt in options:
            assert re.search(rf"{re.escape(opt)}\b(?!-)", text[panel]), (panel, opt)
    # and no run option is left outside the six panels
    assert not re.search(r"--(?!help)[a-z-]+", text.get("Options", "")), text.get("Options")
