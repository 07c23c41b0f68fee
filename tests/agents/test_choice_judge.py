"""--choice-judge: un_clean_result.py's cleaning prompt through a routed model (a real local server),
cached, costed and recorded, then evaluate_un.py's text[0] on the judge's reply."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests._scripted_server import ScriptedServer, first_text
from tests._store import query as _q
from tests.tasks._layout import make_layout

# un_clean_result.py:17-22, restated here (not imported from svgarena)
OFFICIAL_PROMPT = (
    "You are a strict grading assistant. The ONLY valid outputs you can return "
    "are: 'A.', 'B.', 'C.', 'D.' or 'X.'. Given the RAW answer below, output "
    "the cleaned answer token EXACTLY with nothing else. If none or multiple "
    "choices can be extracted confidently, return 'X.'.\n\nRAW answer:\n{raw}\n\nCleaned answer:"
)
ANSWER = "I think the answer is {letter}, because of the shape."
JUDGE_HEAD = "You are a strict grading assistant."


@pytest.mark.timeout(120)
def test_judge_cleans_replies_and_its_calls_are_recorded(tmp_path: Path) -> None:
    from svgarena.harness import RunConfig, execute, load_results

    suite = make_layout(tmp_path / "suite", n=3)
    targets = {}
    un = suite / "Icon" / "understanding" / "sarena_un.jsonl"
    lines = []
    for line in un.read_text().splitlines():
        obj = json.loads(line)
        targets[str(obj["id"])] = obj["conversations"][1]["value"][0]
        obj["conversations"][0]["value"] += f" (question {obj['id']})"  # distinct prompts: no cache hit across samples
        lines.append(json.dumps(obj))
    un.write_text("\n".join(lines) + "\n")

    answered: list[str] = []

    def model(body: dict[str, Any]) -> str:
        n = len(answered)
        answered.append(first_text(body))
        return ANSWER.format(letter="ABCD"[n % 4])

    def judge(body: dict[str, Any]) -> str:
        text = first_text(body)
        raw = text.split("RAW answer:\n", 1)[1].split("\n\nCleaned answer:", 1)[0]
        # what a strict judge answers: the letter after "answer is"; one reply made unclear on purpose
        letter = raw.split("answer is ", 1)[1][0]
        return "X." if letter == "B" else f"{letter}."

    with ScriptedServer(model) as msrv, ScriptedServer(judge) as jsrv:
        models = tmp_path / "models.yaml"
        models.write_text(
            "models:\n"
            f'  answerer: {{route: openai/scripted, api_base: "{msrv.api_base}"}}\n'
            f'  judge: {{route: openai/scripted, api_base: "{jsrv.api_base}", price: {{input: 1.0, output: 2.0}}}}\n')
        config = RunConfig(suite=str(suite), tasks=["icon/understanding"], models=["answerer"],
                           models_file=str(models), out=str(tmp_path / "runs"), run_id="j", workers=1,
                           choice_judge="judge")
        asyncio.run(execute(config))
        judge_requests = list(jsrv.requests)
        db = tmp_path / "runs" / "j" / "run.sqlite"

    assert len(judge_requests) == 3
    replies = {}
    for sid, reply, answer, rule, extra, outcome in _q(db, "SELECT t.sample_id, a.reply, a.answer, a.rule, a.extra, "
                                                          "a.outcome FROM attempts a JOIN trajectories t ON t.id = a.trajectory_id"):
        replies[sid] = reply
        record = json.loads(extra)["choice_judge"]
        assert record["model"] == "judge" and record["input_tokens"] > 0 and record["cost_usd"] > 0
        # the reference's way: the judge's reply unstripped, then text[0]
        assert answer == record["reply"][0] and rule == "choice-judge" and outcome == "ok"
    # every judge request is exactly the official prompt around the (stripped) reply, as one text part
    sent = sorted(r["messages"][0]["content"][0]["text"] for r in judge_requests)
    assert sent == sorted(OFFICIAL_PROMPT.format(raw=r.strip()) for r in replies.values())
    assert all(len(r["messages"]) == 1 and len(r["messages"][0]["content"]) == 1 for r in judge_requests)
    # accuracy as evaluate_un.py counts it: cleaned letter == target letter
    expected = 0.0
    for sid, reply in replies.items():
        letter = reply.split("answer is ", 1)[1][0]
        cleaned = "X." if letter == "B" else f"{letter}."
        expected += 100.0 * (cleaned[0] == targets[sid])
    results = load_results(db.parent, bootstrap=0)
    (row,) = results["results"]
    assert row["metrics"]["accuracy"]["sarena"] == pytest.approx(expected / len(replies))
    # the judge's calls are in the run's ledger (its spend shows under its own name)
    assert results["spend"]["judge"]["calls"] == 3
    assert results["config"]["choice_judge"] == "judge"
    diffs = {d["setting"]: d for d in results["meta"]["protocol_differences"]}
    assert diffs["choice judge"]["svgarena"] == "judge" and "gpt-4o-mini" in diffs["choice judge"]["official"]
    assert diffs["API retries"]["svgarena"].startswith("up to 6 tries")
    from rich.console import Console

    from svgarena.harness import usage_table

    console = Console(width=200, record=True)
    console.print(usage_table(results))
    assert "judge (judge)" in console.export_text()
    # and its replies are in the run's reply cache (a rerun of the same request is not paid twice)
    assert _q(db.parent / "calls.sqlite", "SELECT count(*) FROM replies WHERE model='judge'") == [(3,)]


@pytest.mark.timeout(60)
def test_judge_must_be_a_routed_model(tmp_path: Path) -> None:
    from svgarena.harness import RunConfig, execute

    suite = make_layout(tmp_path / "suite", n=1)
    config = RunConfig(suite=str(suite), tasks=["icon/understanding"], models=["baseline/oracle"],
                       out=str(tmp_path / "runs"), run_id="b", choice_judge="baseline/oracle", workers=1)
    with pytest.raises(ValueError, match="routed model"):
        asyncio.run(execute(config))
    assert not (tmp_path / "runs" / "b").exists()


@pytest.mark.timeout(120)
def test_a_failed_judge_call_is_a_recorded_wrong_answer(tmp_path: Path) -> None:
    """un_clean_result.py:54-55 writes nothing when the judge fails, so evaluate_un.py scores it wrong;
    here it is a model_error with the judge's reason, accuracy 0 in the SArena view."""
    from svgarena.harness import RunConfig, execute, load_results
    from tests._fault_server import FaultServer

    suite = make_layout(tmp_path / "suite", n=2)
    answers = iter(["The answer is A.", "The answer is B."])
    with ScriptedServer(lambda body: next(answers)) as msrv, \
            FaultServer(lambda body: "A.", script={"answer is B": ["400"]}) as jsrv:
        models = tmp_path / "models.yaml"
        models.write_text(
            "models:\n"
            f'  answerer: {{route: openai/scripted, api_base: "{msrv.api_base}", concurrency: 1}}\n'
            f'  judge: {{route: openai/scripted, api_base: "{jsrv.api_base}"}}\n')
        config = RunConfig(suite=str(suite), tasks=["icon/understanding"], models=["answerer"],
                           models_file=str(models), out=str(tmp_path / "runs"), run_id="f", workers=1,
                           choice_judge="judge", preflight=False, no_cache=True)  # both prompts are identical
        asyncio.run(execute(config))
    rows = _q(tmp_path / "runs" / "f" / "run.sqlite",
              "SELECT a.reply, a.outcome, a.reason, a.answer FROM attempts a ORDER BY a.id")
    by_reply = {r[0]: r[1:] for r in rows}
    assert by_reply["The answer is A."][0] == "ok" and by_reply["The answer is A."][2] == "A"
    outcome, reason, answer = by_reply["The answer is B."]
    assert outcome == "model_error" and reason.startswith("choice judge judge:") and answer is None
    (row,) = load_results(tmp_path / "runs" / "f", bootstrap=0)["results"]
    assert row["failures"] == {"model_error": 1}
    assert jsrv.chat_requests == 2  # a bad request is permanent: not retried
