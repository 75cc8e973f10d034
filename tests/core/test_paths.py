"""asl_core.is_path_like: names from data files that would leave their folder are refused."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asl_core import is_path_like


@pytest.mark.parametrize(
    "name",
    ["Basketball/v_Basketball_g01_c01", "v001", "a b/c-d_e.f", "0a1b2c3d", "x..y", "..x/y.."],
)
def test_ordinary_ids_are_accepted(name):
    assert not is_path_like(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        ".",
        "../etc/passwd",
        "a/../../b",
        "a\\..\\b",
        "/etc/passwd",
        "\\\\server\\share",
        "C:evil",
        "c:/x",
        "a/./b",
        "a//b",
        "a/",
        "nul\x00byte",
        None,
        42,
    ],
)
def test_names_that_could_escape_are_refused(name):
    assert is_path_like(name)


SAFE = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\\\x00:"), min_size=1, max_size=8
).filter(lambda s: s not in (".", ".."))


@given(st.lists(st.one_of(SAFE, st.sampled_from(["..", ".", ""])), min_size=1, max_size=4))
def test_an_accepted_name_stays_inside_its_folder(parts):
    name = "/".join(parts)
    if not is_path_like(name):
        # normpath folds ".." lexically, as the filesystem would (no symlinks here)
        joined = os.path.normpath(os.path.join("/data/root", name))
        assert joined.startswith("/data/root/")
