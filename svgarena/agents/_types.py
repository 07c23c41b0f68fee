"""What a Model returns: a reply with its usage, or a typed failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from svgarena.tasks import Sample, Task


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0


@dataclass
class Reply:
    """One model reply. ``error`` set means the call failed; the text is then empty."""

    text: str = ""
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    retries: int = 0
    raw: dict[str, Any] = field(default_factory=dict)
    # native function calls the model made: [{"id", "name", "arguments"}] (arguments: the JSON text as sent)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


@runtime_checkable
class Model(Protocol):
    """Anything that answers chat messages for a sample: a LiteLLM route or a baseline."""

    name: str

    def supports(self, task: Task) -> str | None:
        """None when the model can do the task, else one sentence saying why not."""
        ...

    async def respond(self, sample: Sample, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                      temperature: float | None = None) -> Reply:
        """``tools``: OpenAI-style tool definitions to offer; ``temperature``: this call's, else the model's."""
        ...
