"""Pull the answer out of a model's raw reply: an SVG document or a choice letter.

Every extraction records the rule that produced it, so a run can say which protocol its numbers
follow (SArena's official scripts, or VLMEvalKit's SArena reader).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SVG_RULES: tuple[str, ...] = ("official", "vlmevalkit")
CHOICE_RULES: tuple[str, ...] = ("official", "vlmevalkit", "first-letter")


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
# VLMEvalKit vlmeval/dataset/utils/sarena.py, extract_svg_code: r"```svg(.*?)```" with DOTALL,
# case-sensitive, no newline required after the tag.
_VLMEVALKIT_FENCE = re.compile(r"```svg(.*?)```", re.DOTALL)


def extract_svg(text: str | None, rule: str = "official") -> Extraction:
    """Find the SVG document in a reply.

    Rules:
    - ``official`` (default; SArena's inference scripts): the first match of
      ``<svg[^>]*>.*?</svg>`` with DOTALL, i.e. from the first ``<svg`` to the nearest ``</svg>``.
      A reply with no complete ``<svg ...>...</svg>`` yields ``svg=None``.
    - ``vlmevalkit``: exactly VLMEvalKit's ``extract_svg_code``
      (open-compass/VLMEvalKit vlmeval/dataset/utils/sarena.py, ``extract_svg_code``):
      the stripped content of the last ```` ```svg ...``` ```` block, whatever it holds; else
      the slice from the first ``<svg`` to the last ``</svg>`` (empty when the last ``</svg>``
      comes before the first ``<svg``); else, when the reply holds ``<?xml`` and ``</svg>``,
      the slice from the first ``<?xml`` to the last ``</svg>``; else the stripped reply itself.
      An empty result (VLMEvalKit writes an empty file, which renders black) is ``svg=None``.
    """
    text = text or ""
    if rule == "official":
        m = _OFFICIAL.search(text)
        return Extraction(m.group(0) if m else None, rule)
    if rule == "vlmevalkit":
        blocks = _VLMEVALKIT_FENCE.findall(text)
        if blocks:
            found = blocks[-1].strip()
        else:
            start, end = text.find("<svg"), text.rfind("</svg>")
            if start != -1 and end != -1:
                found = text[start : end + 6]
            elif "<?xml" in text and "</svg>" in text:
                found = text[text.find("<?xml") : text.rfind("</svg>") + 6]
            else:
                found = text.strip()
        return Extraction(found or None, rule)
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


def parse_choice(text: str | None, rule: str = "official") -> Choice:
    """Find the multiple-choice letter (A-D) in a reply, deterministically.

    Rules:
    - ``official`` (default; SArena's scorer): the first character of the stripped reply,
      whatever it is (hmwang2002/InternSVG metrics/inference/inference_un.py:70 stores
      ``raw_rsp.strip()``; evaluate_un.py:15-18 ``extract_choice`` returns ``text[0]``, None for
      an empty reply). So " B" gives "B", "Answer: B" gives "A", "x" gives "x" (scored wrong),
      and an empty or all-whitespace reply gives None.
    - ``first-letter`` (a named heuristic, not any reference's rule). Markdown markup (``* ` _ #``) is removed and the text stripped;
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
    - ``vlmevalkit``: the first character in ``[A-D]`` anywhere in the reply (VLMEvalKit
      vlmeval/dataset/utils/sarena.py, ``evaluate_understanding``: ``re.search(r"[A-D]",
      pred.strip())``); this takes the "A" of "A circle" and the "C" of "Color".
    """
    raw = text or ""
    if rule == "official":
        s = raw.strip()
        return Choice(s[0] if s else None, rule)
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
