from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from erroracle.platform.grouping import consolidate

USERS = [
    "Invalid user oracle from <IP>",
    "Invalid user admin from <IP>",
    "Invalid user test from <IP>",
]


def test_a_varying_word_becomes_one_group():
    groups = consolidate(USERS + ["Server started on port <*>"])
    assert {groups[t] for t in USERS} == {"Invalid user <*> from <IP>"}
    assert groups["Server started on port <*>"] == "Server started on port <*>"


def test_two_variants_are_not_enough():
    two = ["Too many failures for admin [preauth]", "Too many failures for root [preauth]"]
    assert consolidate(two) == {t: t for t in two}


def test_the_first_word_never_varies():
    names = ["tickTime set to <*>", "maxClients set to <*>", "minSessionTimeout set to <*>"]
    assert consolidate(names) == {t: t for t in names}


def test_different_lengths_never_merge():
    templates = ["disk full on a", "disk full on b", "disk full on c now"]
    assert consolidate(templates)["disk full on c now"] == "disk full on c now"


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            USERS
            + [
                "Invalid user x y from <IP>",
                "Session opened for a",
                "Session opened for b",
                "Session opened for c",
                "Connection closed",
            ]
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(0, 10**6),
)
def test_groups_do_not_depend_on_order(templates, seed):
    shuffled = list(templates)
    random.Random(seed).shuffle(shuffled)
    assert consolidate(templates) == consolidate(shuffled)
