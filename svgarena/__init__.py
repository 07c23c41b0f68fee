"""svgarena: evaluate language and vision-language models on SVG (the SArena benchmark)."""

from svgarena.outcome import Outcome

__version__ = "0.1.0"

__all__ = ["Outcome", "__version__"]
