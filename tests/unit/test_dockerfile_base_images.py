"""Reading a Dockerfile's base images (todo_deploy.images.dockerfile): continuations and
comments, ``ARG`` substitution forms and their defaults, stage names, ``FROM`` flags, and
``ARG``s after the first ``FROM`` (which do not apply to ``FROM`` lines)."""

from __future__ import annotations

from todo_deploy.images.dockerfile import base_images, logical_lines, substitute


def test_continuations_are_joined_and_comments_dropped() -> None:
    text = ("# syntax comment\n\n  FROM a\\\n    AS b\n# inside\nRUN x\\\n# dropped\n  y\n"
            "RUN z\\\n")
    assert list(logical_lines(text)) == ["FROM a AS b", "RUN x y", "RUN z"]


def test_a_last_line_continuation_of_spaces_only_yields_nothing_more() -> None:
    assert list(logical_lines("RUN a\n\\\n")) == ["RUN a"]
    assert list(logical_lines("")) == []


def test_each_substitution_form_takes_the_value_or_its_default() -> None:
    values = {"A": "1", "E": ""}
    assert substitute("$A-${A}-${A:-d}-${A-d}", values) == "1-1-1-1"
    assert substitute("${B:-d}|${B-d}|$B|${B}|${E:-d}", values) == "d|d|||d"
    assert substitute("no refs $ here", values) == "no refs $ here"


def test_global_args_with_defaults_quotes_and_build_args_name_the_base() -> None:
    text = 'ARG REG="docker.io" BASE=python:3.11\nARG TAG\nFROM ${REG}/${BASE}${TAG:-}\n'
    assert base_images(text, {}) == ("docker.io/python:3.11",)
    assert base_images(text, {"TAG": "-slim", "BASE": "py"}) == ("docker.io/py-slim",)
    assert base_images("ARG B='x:1'\nFROM $B\n", {}) == ("x:1",)


def test_an_arg_after_the_first_from_does_not_change_later_froms() -> None:
    text = "ARG B=one\nFROM $B AS s1\nARG B=two\nFROM $B\n"
    assert base_images(text, {}) == ("one",)


def test_stages_flags_and_repeats_are_not_new_bases() -> None:
    text = ("from --platform=$BUILDPLATFORM node:24 as Deps\nFROM deps AS build\n"
            "FROM node:24\nFROM --platform=linux/amd64\nFROM BUILD\nFROM scratch as\n")
    assert base_images(text, {}) == ("node:24", "scratch")


def test_a_stage_is_named_only_by_as_and_a_third_word() -> None:
    text = "FROM a b\nFROM b\n"
    assert base_images(text, {}) == ("a", "b")


def test_only_quotes_are_stripped_from_an_arg_default() -> None:
    assert base_images("ARG B=Xorg/img:1X\nFROM $B\n", {}) == ("Xorg/img:1X",)


def test_a_continuation_over_three_lines_keeps_every_part() -> None:
    assert list(logical_lines("RUN a\\\n  b\\\n  c\n")) == ["RUN a b c"]
