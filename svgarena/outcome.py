"""The Outcome vocabulary: how every attempt ends (see DESIGN.md).

A leaf module with no dependencies so that tasks, sandboxes, agents, scoring and the
harness all speak the same words.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """Exactly one of these ends every attempt; failures are recorded, never scored as numbers."""

    OK = "ok"
    NO_SVG = "no_svg"  # nothing to extract from the reply (or no choice letter found)
    PARSE_ERROR = "parse_error"  # extracted SVG is not well-formed XML
    RENDER_ERROR = "render_error"  # the renderer raised, crashed, or refused the input
    RENDER_TIMEOUT = "render_timeout"  # the renderer exceeded its wall-clock limit
    MODEL_ERROR = "model_error"  # the model call failed permanently, or the model cannot do the task

    @property
    def failed(self) -> bool:
        return self is not Outcome.OK
