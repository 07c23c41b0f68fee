"""Attempt and Trajectory: what a solver produces for one (sample, model, solver, epoch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from svgarena.agents._types import Usage
from svgarena.outcome import Outcome


@dataclass
class Attempt:
    """One round: what was sent, what came back, what was extracted, and how it rendered."""

    round: int
    outcome: Outcome
    reply: str = ""
    answer: str | None = None  # extracted SVG, or the choice letter
    rule: str = ""  # extraction / parsing rule used
    reason: str = ""  # why it failed, in one sentence
    usage: Usage = field(default_factory=Usage)
    retries: int = 0
    renderer: str = ""
    render_seconds: float = 0.0
    feedback: str = ""  # what the solver told the model after this round (the next round's input)
    feedback_mode: str = ""  # render | render+target | oracle | none | tool ('' when no feedback followed)
    feedback_images: list[bytes] = field(default_factory=list, repr=False)  # PNG bytes shown after this round
    model_chose: bool = False  # the model chose this round as its answer (submit, done marker)
    tool_calls: int = 0  # tools solver: tool calls made in this round
    malformed_calls: int = 0  # tools solver: calls that did not parse
    extra: dict[str, Any] = field(default_factory=dict)  # solver-specific details, stored as JSON
    messages: list[dict[str, Any]] = field(default_factory=list)
    image: np.ndarray | None = field(default=None, repr=False)  # render of a static answer
    frames: np.ndarray | None = field(default=None, repr=False)  # (N,H,W,3) metric frames of an animated answer
    media: dict[str, bytes] = field(default_factory=dict, repr=False)  # encoded renders to keep ("mp4", "mp4_128")
    priced_usd: float | None = None  # what the reply cost when first paid (a cache hit keeps it): per-sample budgets
    oracle: dict[str, float | None] | None = field(default=None, repr=False)  # SSIM/PSNR vs the reference, if asked


@dataclass
class Trajectory:
    """The attempts of one sample, the final answer and why the solver stopped."""

    sample_id: str
    task: str
    model: str
    solver: str
    epoch: int = 0
    attempts: list[Attempt] = field(default_factory=list)
    stop_reason: str = ""
    selection: str = "last"  # last | best-model | best-oracle
    selected_round: int | None = None  # set by the harness once every round is scored; None: the last round
    arm: dict[str, Any] = field(default_factory=dict)  # solver, feedback, selection, rounds/samples, budget
    budget_error: Exception | None = field(default=None, repr=False)  # the run cap that ended it ("run budget")

    @property
    def final(self) -> Attempt | None:
        """The trajectory's answer: the selected round, else the last one."""
        if not self.attempts:
            return None
        if self.selected_round is not None:
            for attempt in self.attempts:
                if attempt.round == self.selected_round:
                    return attempt
        return self.attempts[-1]

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def outcome(self) -> Outcome:
        return self.final.outcome if self.final else Outcome.MODEL_ERROR
