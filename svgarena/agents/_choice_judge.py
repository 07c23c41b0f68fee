"""``--choice-judge MODEL``: the official cleaning step for understanding replies, through any routed model.

hmwang2002/InternSVG ``metrics/inference/un_clean_result.py`` sends each stored reply (the
stripped raw answer, ``inference_un.py:70``) to gpt-4o-mini inside ``PROMPT_TEMPLATE``
(``un_clean_result.py:17-22``) as one user text part (``utils/api.py`` ``chat``), writes the
judge's reply *unstripped* as the new ``result`` (``:56-57``), and ``evaluate_un.py:15-18`` then
takes its first character. A judge call that fails writes nothing (``:54-55``), so the item counts
as wrong. Here the judge is any routed model: its calls go through the run's reply cache, budget
and call ledger like the answering model's, and what it said is kept with the attempt
(``extra["choice_judge"]``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from svgarena.agents._extract import Choice
from svgarena.agents._types import Reply

JUDGE_RULE = "choice-judge"

# un_clean_result.py:17-22, verbatim
PROMPT_TEMPLATE = (
    "You are a strict grading assistant. The ONLY valid outputs you can return "
    "are: 'A.', 'B.', 'C.', 'D.' or 'X.'. Given the RAW answer below, output "
    "the cleaned answer token EXACTLY with nothing else. If none or multiple "
    "choices can be extracted confidently, return 'X.'.\n\nRAW answer:\n{raw}\n\nCleaned answer:"
)

# (messages, round) -> the judge's reply; the runner binds it to the judge's managed model
JudgeCall = Callable[[list[dict[str, Any]], int], Awaitable[Reply]]


def judge_messages(reply_text: str) -> list[dict[str, Any]]:
    """The judge's request: the official prompt around the stripped reply, one user text part."""
    return [{"role": "user", "content": [{"type": "text", "text": PROMPT_TEMPLATE.format(raw=reply_text.strip())}]}]


def judged_choice(judge_text: str | None) -> Choice:
    """``evaluate_un.py`` ``extract_choice`` on the judge's unstripped reply: ``text[0]``, None when empty."""
    return Choice(judge_text[0] if judge_text else None, JUDGE_RULE)


async def judge_choice(call: JudgeCall, model_name: str, reply_text: str, round_no: int) -> tuple[Choice, Reply, dict[str, Any]]:
    """Ask the judge to clean ``reply_text``; the parsed choice, the judge's reply and the record to keep."""
    reply = await call(judge_messages(reply_text), round_no)
    record = {
        "model": model_name, "reply": reply.text, "error": reply.error,
        "input_tokens": reply.usage.input_tokens, "output_tokens": reply.usage.output_tokens,
        "cost_usd": reply.usage.cost_usd, "latency_s": reply.usage.latency_s, "retries": reply.retries,
        "cached": bool(reply.raw.get("cached")),
    }
    return judged_choice(None if reply.error else reply.text), reply, record


def resolve_judge(name: str, registry: Any) -> Any:
    """The judge as a routed model (a registry name or a LiteLLM route); a baseline cannot judge."""
    from svgarena.agents._litellm import LiteLLMModel
    from svgarena.agents._resolve import get_model

    model = get_model(name, registry)  # an unknown name raises RegistryError (a ValueError): one line
    if not isinstance(model, LiteLLMModel):
        raise ValueError(f"--choice-judge {name}: the judge must be a routed model (a registry name or a "
                         "LiteLLM route such as openai/gpt-4o-mini, the official judge), not a baseline")
    return model
