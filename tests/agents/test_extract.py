"""Answer extraction: SVG rules (official, vlmevalkit) and choice rules on realistic replies."""

from __future__ import annotations

import pytest

from svgarena.agents import extract_svg, parse_choice

SVG_A = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 128 128"><rect width="10" height="10"/></svg>'
SVG_B = '<svg viewBox="0 0 128 128">\n  <circle cx="64" cy="64" r="30" fill="red"/>\n</svg>'


def test_official_bare_svg() -> None:
    e = extract_svg(SVG_A)
    assert e.svg == SVG_A and e.rule == "official"


def test_official_inside_markdown_fence_and_prose() -> None:
    reply = f"Sure! Here is the icon:\n\n```svg\n{SVG_B}\n```\n\nIt draws a red circle."
    assert extract_svg(reply).svg == SVG_B


def test_official_takes_first_of_two() -> None:
    reply = f"Draft:\n{SVG_A}\nFinal version:\n```svg\n{SVG_B}\n```"
    assert extract_svg(reply).svg == SVG_A


def test_official_multiline_root_tag() -> None:
    svg = '<svg\n  xmlns="http://www.w3.org/2000/svg"\n  viewBox="0 0 128 128">\n<path d="M0 0h10"/>\n</svg>'
    assert extract_svg("```xml\n" + svg + "\n```").svg == svg


def test_official_keeps_xml_prolog_out() -> None:
    reply = '<?xml version="1.0" encoding="UTF-8"?>\n' + SVG_A
    assert extract_svg(reply).svg == SVG_A


@pytest.mark.parametrize("rule", ["official"])
@pytest.mark.parametrize(
    "reply",
    [
        "",
        "I cannot draw that.",
        '<svg viewBox="0 0 128 128"><path d="M0 0 L10 10',  # truncated at max_tokens
        "Use an <svgz> file",
    ],
)
def test_no_svg(reply: str, rule: str) -> None:
    e = extract_svg(reply, rule)
    assert e.svg is None and e.rule == rule


def test_unclosed_svg_in_fence() -> None:
    # The official regex needs </svg>; VLMEvalKit takes the fenced block as is (it then fails to parse).
    reply = "```svg\n<svg viewBox='0 0 128 128'><rect/>\n```"
    assert extract_svg(reply).svg is None
    assert extract_svg(reply, "vlmevalkit").svg == "<svg viewBox='0 0 128 128'><rect/>"


def test_none_text_is_no_svg() -> None:
    assert extract_svg(None).svg is None


def test_vlmevalkit_prefers_last_svg_fence() -> None:
    reply = f"First try:\n```svg\n{SVG_A}\n```\nBetter:\n```svg\n{SVG_B}\n```\nDone."
    e = extract_svg(reply, "vlmevalkit")
    assert e.svg == SVG_B and e.rule == "vlmevalkit"


def test_vlmevalkit_takes_last_svg_fence_as_is() -> None:
    # VLMEvalKit does not look inside the block: a fence without <svg still wins over a bare SVG.
    reply = f"{SVG_A}\n```svg\n<!-- nothing here -->\n```"
    assert extract_svg(reply, "vlmevalkit").svg == "<!-- nothing here -->"


def _vlmevalkit_reference(text: str) -> str:
    """VLMEvalKit vlmeval/dataset/utils/sarena.py extract_svg_code, restated for the test."""
    import re

    blocks = re.findall(r"```svg(.*?)```", text, re.DOTALL)
    if blocks:
        return blocks[-1].strip()
    i, j = text.find("<svg"), text.rfind("</svg>")
    if i != -1 and j != -1:
        return text[i : j + 6]
    if "<?xml" in text and "</svg>" in text:
        return text[text.find("<?xml") : text.rfind("</svg>") + 6]
    return text.strip()


@pytest.mark.parametrize(
    "reply",
    [
        f"```svg{SVG_A}```",  # no newline after the tag
        f"```svg <g/> ```\nthen\n```svg\n  {SVG_B}  \n```",
        f"```SVG\n{SVG_A}\n```",  # the tag is case-sensitive: falls back to the span
        f"```svg\n{SVG_A}",  # unclosed fence: span
        "I cannot draw that.",  # raw text fallback
        "  truncated <svg viewBox='0 0 1 1'><path  ",
        "<?xml version='1.0'?><g/></svg> trailing",  # <?xml fallback
        f"</svg> then {SVG_A[:-6]}",  # last </svg> before first <svg: the empty slice
        "",
    ],
)
def test_vlmevalkit_matches_reference(reply: str) -> None:
    expected = _vlmevalkit_reference(reply)
    e = extract_svg(reply, "vlmevalkit")
    assert e.svg == (expected or None) and e.rule == "vlmevalkit"


def test_vlmevalkit_span_first_open_to_last_close() -> None:
    reply = f"Here: {SVG_A} and also {SVG_B} bye"
    assert extract_svg(reply, "vlmevalkit").svg == f"{SVG_A} and also {SVG_B}"


def test_vlmevalkit_xml_fence_falls_back_to_span() -> None:
    reply = f"```xml\n{SVG_B}\n```"
    assert extract_svg(reply, "vlmevalkit").svg == SVG_B


def test_unknown_rule() -> None:
    with pytest.raises(ValueError, match="official"):
        extract_svg(SVG_A, "greedy")
    with pytest.raises(ValueError, match="first-letter"):
        parse_choice("A", "llm")


@pytest.mark.parametrize(
    ("reply", "letter"),
    [
        ("A.", "A"),
        ("A", "A"),
        ("  C.\n", "C"),
        ("(B)", "B"),
        ("[D]", "D"),
        ("Answer: C", "C"),
        ("answer:C", "C"),
        ("**D.**", "D"),
        ("**Answer:** B", "B"),
        ("The answer is B.", "B"),
        ("The correct answer is (C) because the icon shows three stars.", "C"),
        ("Final answer: option D", "D"),
        ("B) The circle is blue.", "B"),
        ("C: red and white", "C"),
        ("A circle and a square are shown. The answer is D.", "D"),
        ("A circle and a square are shown, so I pick (B).", "B"),
        ("Looking at the path data, option C matches.", "C"),
        ("I'd go with B", "B"),
        ("A. The icon is a house.\n\nExplanation: ...", "A"),
        ("Option A is wrong, option B is too. Answer: C.", "C"),
        ("Let me think. The shape... answer is A. Hmm, actually the answer is D.", "D"),
        ("<answer>B</answer>", "B"),
        ("`C`", "C"),
        ("### Answer\nD.", "D"),
    ],
)
def test_first_letter(reply: str, letter: str) -> None:
    c = parse_choice(reply, "first-letter")
    assert c.letter == letter and c.rule == "first-letter"


@pytest.mark.parametrize(
    "reply",
    ["", "I am not sure.", "A circle with a dot", "None of these.", "E.", "a.", "The colour is red."],
)
def test_first_letter_none(reply: str) -> None:
    assert parse_choice(reply, "first-letter").letter is None


def _official_reference(result: str | None) -> str | None:
    """InternSVG inference_un.py:70 stores raw.strip(); evaluate_un.py:15-18 takes text[0], None when empty."""
    text = result.strip() if result is not None else None
    if not text:
        return None
    return text[0]


@pytest.mark.parametrize(
    "reply",
    [" B", "  C.\n", "D", "Answer: B", "The answer is C.", "b", "E.", "x", "", "   \n", None, "(A)", "**B**"],
)
def test_official_choice_matches_reference(reply: str | None) -> None:
    c = parse_choice(reply)
    assert c.rule == "official" and c.letter == _official_reference(reply)


def test_official_choice_scores_like_the_scorer() -> None:
    # gt "A": a reply starting with another letter, or with "Answer: B" (first char "A"), as evaluate_un.py scores it.
    assert parse_choice(" A. a house").letter == "A"
    assert parse_choice("C because ...").letter == "C"
    assert parse_choice("Answer: B").letter == "A"


@pytest.mark.parametrize(
    ("reply", "letter"),
    [("B.", "B"), ("The answer is C.", "C"), ("A circle", "A"), ("Color: D", "C"), ("none", None), ("", None),
     ("  answer: d, so B", "B")],
)
def test_vlmevalkit_choice(reply: str, letter: str | None) -> None:
    c = parse_choice(reply, "vlmevalkit")
    assert c.letter == letter and c.rule == "vlmevalkit"
