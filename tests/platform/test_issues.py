"""The issue grouper: which templates become one issue, and that ids stay where they were put."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from erroracle.platform.issues import Assignment, IssueGrouper, issue_id, shape

USERS = [f"Invalid login {name} from <IP>" for name in ("oracle", "admin", "test", "pi")]


def _assign(grouper: IssueGrouper, templates: list[str], kind: str | None = None) -> list[str]:
    return [grouper.assign(f"fp-{t}", t, kind).issue for t in templates]


def test_a_word_that_takes_four_values_is_a_variable():
    grouper = IssueGrouper()
    issues = _assign(grouper, USERS)
    assert len(set(issues[:3])) == 3  # three values could still be three events
    assert {grouper.issue_of(f"fp-{t}") for t in USERS} == {issues[0]} == {issues[3]}
    joined = grouper.assign("fp-new", "Invalid login guest from <IP>")
    assert joined == Assignment(issues[0], "rule")


def test_one_differing_word_is_not_enough():
    grouper = IssueGrouper()
    issues = _assign(grouper, ["Block <*> stored as bytes in memory",
                               "Block <*> stored as values in memory"])
    assert len(set(issues)) == 2


def test_the_first_word_may_vary_when_the_rest_agree():
    grouper = IssueGrouper()
    lines = [f"{name} session opened for <*>" for name in ("sshd", "cron", "sudo", "su")]
    _assign(grouper, lines)
    assert len({grouper.issue_of(f"fp-{t}") for t in lines}) == 1


def test_a_pattern_keeps_enough_constant_words():
    grouper = IssueGrouper()
    kinds = [f"program interrupt: {kind} <*>" for kind in ("illegal", "trap", "privileged", "fp")]
    assert len(set(_assign(grouper, kinds))) == 4


def test_qualified_names_are_variables_at_once():
    grouper = IssueGrouper()
    issues = _assign(grouper, ["received broadcast for package com.android.phone now",
                               "received broadcast for package com.tencent.mm.ui now"])
    assert issues[0] == issues[1]
    assert shape("name=<*>, uid=<*>") == ("name=<*>,", "uid=<*>")


def test_a_word_with_a_variable_inside_takes_a_plain_value():
    grouper = IssueGrouper()
    masked, plain = _assign(grouper, ["acquire lock name=<*>, tag=<*> done",
                                      "acquire lock name=android, tag=<*> done"])
    assert masked == plain


def test_error_types_and_lengths_never_mix():
    grouper = IssueGrouper()
    for kind in ("KeyError", "KeyError", "KeyError"):
        _assign(grouper, USERS, kind)
    assert grouper.assign("x", USERS[0], "ValueError").issue != grouper.issue_of("fp-" + USERS[0])
    assert grouper.assign("y", "Invalid user a b from <IP>", "KeyError").reason == "new"


def test_variables_with_their_units_and_punctuation_fold_into_one():
    assert shape("sent <*> <*> <IP> bytes to peer") == ("sent", "<*>", "to", "peer")
    assert shape("closed, <*> <*>) sent, lifetime <*>:<*>") == ("closed,", "<*>", "sent,",
                                                                "lifetime", "<*>")


def test_named_things_and_empty_values_are_variables():
    assert shape("auth failure; logname= uid=<*> user=root") == (
        "auth", "failure;", "logname=<*>", "uid=<*>", "user=<*>")
    assert shape("connection from <IP> () at <TS>") == ("connection", "from", "<*>", "at", "<*>")


def test_ids_come_from_the_founding_fingerprint():
    grouper = IssueGrouper()
    assert grouper.assign("abc", "disk full on node").issue == issue_id("abc")
    assert grouper.assign("abc", "whatever").reason == "known"


def test_people_merge_and_split_and_grouping_respects_it():
    grouper = IssueGrouper()
    a = grouper.assign("a", "disk full on node now").issue
    b = grouper.assign("b", "cache miss for key now").issue
    assert grouper.merge(a, b) == a and grouper.issue_of("b") == a
    assert grouper.fingerprints(b) == ["a", "b"]
    apart = grouper.split(a, "b")
    assert apart not in (a, b) and grouper.issue_of("b") == apart and grouper.issue_of("a") == a


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(USERS + ["Invalid user x y from <IP>", "Session opened for a b c",
                                         "Session opened for d b c", "Connection closed"]),
                min_size=1, max_size=30))
def test_the_same_order_gives_the_same_ids_and_an_id_once_given_only_redirects(templates):
    first, second = IssueGrouper(), IssueGrouper()
    shown = {}
    for template in templates:
        issue = first.assign(f"fp-{template}", template).issue
        shown.setdefault(template, issue)
        assert second.assign(f"fp-{template}", template).issue == issue
    for template, issue in shown.items():  # every id shown still leads to the issue now
        assert first.resolve(issue) == first.issue_of(f"fp-{template}")
