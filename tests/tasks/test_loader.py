"""The SArena loader on the real layout, malformed input included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from svgarena.tasks import (
    EDIT_SUBTASKS,
    TASK_IDS,
    AnswerKind,
    SuiteError,
    available_tasks,
    get_task,
    iter_samples,
    load_samples,
    match_tasks,
    resolve_suite,
    select_tasks,
)
from tests.tasks._layout import make_layout


@pytest.fixture()
def suite(tmp_path: Path) -> Path:
    return make_layout(tmp_path / "SArena")


def test_registry_covers_every_sarena_task() -> None:
    kinds = {get_task(t).kind for t in TASK_IDS}
    assert kinds == {"understanding", "edit", "text2svg", "img2svg", "text2sani", "video2sani"}
    assert len([t for t in TASK_IDS if t.startswith("icon/edit/")]) == 10 == len(EDIT_SUBTASKS)
    # The folder capitalisation of SArena.zip: Icon but illustration, chemistry, animation.
    assert get_task("icon/img2svg").jsonl == "Icon/generation/img2svg.jsonl"
    assert get_task("illustration/text2svg").jsonl == "illustration/text2svg.jsonl"
    assert get_task("icon/edit/styletransform_openmoji").jsonl == "Icon/edit/data/styletransform_openmoji.jsonl"
    assert get_task("animation/video2sani").answer is AnswerKind.ANIMATED_SVG
    assert "clip_t2i" not in get_task("chemistry/text2svg").metrics


def test_globs_select_tasks() -> None:
    assert {t.id for t in match_tasks(["icon/edit/*"])} == {f"icon/edit/{s}" for s in EDIT_SUBTASKS}
    assert {t.id for t in match_tasks(["*/img2svg"])} == {"icon/img2svg", "illustration/img2svg", "chemistry/img2svg"}
    with pytest.raises(KeyError, match="no task matches"):
        match_tasks(["icon/nothing"])


def test_loads_records_media_references_and_captions(suite: Path) -> None:
    assert {t.id for t in available_tasks(suite)} == {
        "icon/understanding", "icon/edit/flip", "icon/text2svg", "icon/img2svg", "chemistry/text2svg"}
    img = load_samples(suite, "icon/img2svg")
    assert [s.id for s in img] == ["0", "1", "2"]
    s = img[1]
    assert s.image == suite / "Icon/generation/images/1.png" and s.image.is_file()
    assert s.reference_image == suite / "Icon/generation/images/1.png"
    assert s.reference_svg == suite / "Icon/generation/svg/1.svg"
    assert s.target.startswith("<svg") and s.inputs == {"image": s.image}
    t2s = load_samples(suite, "icon/text2svg")
    assert t2s[2].caption == "a circle 2"  # caption[0]["generated_text"], stripped
    edit = load_samples(suite, "icon/edit/flip")
    assert edit[0].reference_image == suite / "Icon/edit/data/flip/images/0.png"
    un = load_samples(suite, "icon/understanding")
    assert [u.target for u in un] == ["A", "B", "C"] and [u.subject for u in un] == ["Color", "Quantity", "Color"]
    assert un[0].reference_image is None
    assert load_samples(suite, "icon/img2svg", limit=2)[-1].id == "1"


def test_loading_streams_records(suite: Path) -> None:
    it = iter_samples(suite, "icon/img2svg")
    first = next(it)  # a generator: records are parsed one at a time, media stay on disk as paths
    assert first.id == "0" and isinstance(first.image, Path)


def test_malformed_line_names_file_and_line(suite: Path) -> None:
    path = suite / "Icon/generation/img2svg.jsonl"
    lines = path.read_text().splitlines()
    lines.insert(1, '{"id": 9, "conversations": [')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SuiteError, match=rf"img2svg.jsonl:2: not valid JSON"):
        load_samples(suite, "icon/img2svg")


def test_missing_fields_and_bad_answers(suite: Path) -> None:
    path = suite / "Icon/understanding/sarena_un.jsonl"
    path.write_text(json.dumps({"id": 1, "conversations": [{"value": "q"}]}) + "\n")
    with pytest.raises(SuiteError, match=r"sarena_un.jsonl:1: malformed record"):
        load_samples(suite, "icon/understanding")
    path.write_text(json.dumps({"id": 1, "conversations": [{"value": "q"}, {"value": "E. five"}]}) + "\n")
    with pytest.raises(SuiteError, match=r":1: multiple-choice answer must start with A, B, C or D"):
        load_samples(suite, "icon/understanding")


def test_missing_reference_file_names_file_and_line(suite: Path) -> None:
    (suite / "Icon/edit/data/flip/images/2.png").unlink()
    with pytest.raises(SuiteError, match=r"flip.jsonl:3: reference render .*2.png is missing"):
        load_samples(suite, "icon/edit/flip")


def test_missing_input_image(suite: Path) -> None:
    path = suite / "Icon/generation/img2svg.jsonl"
    path.write_text(path.read_text().replace("images/0.png", "images/nope.png"))
    with pytest.raises(SuiteError, match=r"img2svg.jsonl:1: input image .*nope.png is missing"):
        load_samples(suite, "icon/img2svg")


def test_folder_not_in_layout(tmp_path: Path) -> None:
    (tmp_path / "random").mkdir()
    (tmp_path / "random" / "notes.txt").write_text("hi")
    with pytest.raises(SuiteError, match="not in SArena layout"):
        available_tasks(tmp_path / "random")
    with pytest.raises(SuiteError, match="not a folder"):
        available_tasks(tmp_path / "missing")


def test_suite_resolution(suite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SVGARENA_DATA", raising=False)
    with pytest.raises(SuiteError, match="--data"):
        resolve_suite("sarena")
    assert resolve_suite("sarena", suite) == suite
    assert resolve_suite("sarena", suite.parent) == suite  # a folder holding SArena/
    monkeypatch.setenv("SVGARENA_DATA", str(suite))
    assert resolve_suite("sarena") == suite
    assert resolve_suite(str(suite)) == suite
    with pytest.raises(SuiteError, match="not a suite name"):
        resolve_suite("/no/such/folder")
    assert [t.id for t in select_tasks(suite, ["icon/*"])] == [
        "icon/understanding", "icon/edit/flip", "icon/text2svg", "icon/img2svg"]
