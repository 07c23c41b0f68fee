"""Pull the answer out of a model's raw reply: an SVG document or a choice letter.

Every extraction records the rule that produced it, so a run can say which protocol its numbers
follow (SArena's official scripts, or VLMEvalKit's SArena reader).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SVG_RULES: tuple[str, ...] = ("official", "vlmevalkit")
CHOICE_RULES: tuple[str, ...] = ("first-letter", "vlmevalkit")


@dataclass(frozen=True)
class Extraction:
    """The SVG found in a reply (None when there is none) and the rule that found it."""

    svg: str | None
    rule: str


@dataclass(frozen=True)
class Choice:
    """The choice letter found in a reply ("A".."D", None when there is none) and the rule used."""

    letter: str | None
    rule: str


_OFFICIAL = re.compile(r"<svg[^>]*>.*?</svg>", re.DOTALL)
_FENCE = re.compile(r"```[ \t]*svg[^\n]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_svg(text: str | None, rule: str = "official") -> Extraction:
    """Find the SVG document in a reply.

    Rules:
    - ``official`` (default; SArena's inference scripts): the first match of
      ``<svg[^>]*>.*?</svg>`` with DOTALL, i.e. from the first ``<svg`` to the nearest ``</svg>``.
    - ``vlmevalkit``: the content of the last fenced ```` ```svg ```` block whose stripped content
      contains ``<svg``; else the span from the first ``<svg`` to the last ``</svg>``.

    A reply with no complete ``<svg ...>...</svg>`` (none at all, or truncated before the
    closing tag) yields ``svg=None``.
    """
    text = text or ""
    if rule == "official":
        m = _OFFICIAL.search(text)
        return Extraction(m.group(0) if m else None, rule)
    if rule == "vlmevalkit":
        blocks = [b.strip() for b in _FENCE.findall(text)]
        blocks = [b for b in blocks if "<svg" in b]
        if blocks:
            return Extraction(blocks[-1], rule)
        start, end = text.find("<svg"), text.rfind("</svg>")
        if start == -1 or end == -1 or end < start:
            return Extraction(None, rule)
        return Extraction(text[start : end + len("</svg>")], rule)
    raise ValueError(f"unknown SVG extraction rule {rule!r}; choose one of {', '.join(SVG_RULES)}")


# Letters are matched case-sensitively (a lowercase "a" is an article, never a choice).
_L = r"(?<![A-Za-z0-9])([A-D])(?![A-Za-z0-9])"
_ANSWER = re.compile(
    r"(?i:answer)(?:\s+(?i:is))?\s*[:=\->：]?\s*(?:(?i:option|choice)\s*)?[(\[]?" + _L
)
_LEADING = re.compile(r"^[(\[]?([A-D])(?:[)\].:,]|\s*$)")
_MARKED = re.compile(
    r"(?<![A-Za-z0-9])(?:[(\[]([A-D])[)\]]|([A-D])[.)](?=\s|$)|(?i:option|choice)\s+([A-D])(?![A-Za-z0-9]))"
)
_BARE = re.compile(_L + r"(?!\s+[a-z])")
_MARKUP = re.compile(r"[*`_#]")


def parse_choice(text: str | None, rule: str = "first-letter") -> Choice:
    """Find the multiple-choice letter (A-D) in a reply, deterministically.

    Rules:
    - ``first-letter`` (default). Markdown markup (``* ` _ #``) is removed and the text stripped;
      letters count only as uppercase ``A``-``D`` standing alone (no letter or digit either
      side). Then the first of these steps that matches decides:

      1. an explicit answer phrase: ``answer`` (any case), optionally ``is``, optionally one of
         ``: = - >`` or a full-width colon, optionally ``option``/``choice``, optionally ``(`` or ``[``, then the letter
         ("Answer: C", "The correct answer is (B)", "Final answer: option D"); when there are
         several, the *last* one wins (replies state their conclusion last);
      2. the reply starts with the letter, optionally bracketed, followed by ``) ] . : ,`` or by
         nothing ("A", "A.", "(B)", "D) a circle", "C: blue");
      3. the first marked letter anywhere: ``(B)``/``[B]``, a letter followed by ``.`` or ``)``
         and then whitespace or the end ("I pick B."), or ``option B``/``choice B``;
      4. the first standalone letter not followed by whitespace and a lowercase word (so the
         article in "A circle ..." is not taken for option A).

      Nothing matching gives ``letter=None``.
    - ``vlmevalkit``: the first character in ``[A-D]`` anywhere in the raw text (VLMEvalKit's
      SArena reader); this takes the "A" of "A circle" and the "C" of "Color".
    """
    raw = text or ""
    if rule == "vlmevalkit":
        m = re.search(r"[A-D]", raw)
        return Choice(m.group(0) if m else None, rule)
    if rule != "first-letter":
        raise ValueError(f"unknown choice rule {rule!r}; choose one of {', '.join(CHOICE_RULES)}")
    s = _MARKUP.sub("", raw).strip()
    answers = _ANSWER.findall(s)
    if answers:
        return Choice(answers[-1], rule)
    m = _LEADING.match(s)
    if m:
        return Choice(m.group(1), rule)
    m = _MARKED.search(s)
    if m:
        return Choice(next(g for g in m.groups() if g), rule)
    m = _BARE.search(s)
    return Choice(m.group(1) if m else None, rule)
