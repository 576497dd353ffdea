"""The issue log: one order for every writer, the same ids for every reader, corrections kept."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from erroracle.errors import ConflictError, NotFoundError, StorageError, UnprocessableError
from erroracle.platform.issue_book import IssueBook

USERS = [(f"fp-{name}", f"Invalid login {name} from <IP>", None) for name in
         ("bob", "amy", "eve", "joe", "ann", "sam")]
OTHER = ("fp-disk", "disk full on node now", None)


def _writer(folder: str, observations: list) -> dict[str, str]:
    book = IssueBook(folder)
    return {fp: issue for obs in observations for fp, issue in book.observe([obs]).items()}


def test_a_reopened_book_and_a_reader_give_the_same_ids(tmp_path: Path):
    book = IssueBook(tmp_path)
    ids = book.observe([*USERS[:4], OTHER])
    assert len(set(ids.values())) == 2
    for other in (IssueBook(tmp_path), IssueBook(tmp_path, writable=False)):
        assert other.issues_of(ids) == [book.issue_of(fp) for fp in ids]
    assert book.observe(USERS[:4]) == {fp: ids[fp] for fp, _, _ in USERS[:4]}  # nothing new
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 5


def test_writers_in_two_processes_share_one_order(tmp_path: Path):
    everything = [*USERS, OTHER]
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        seen = pool.starmap(_writer, [(str(tmp_path), everything),
                                      (str(tmp_path), everything[::-1])])
    reader = IssueBook(tmp_path, writable=False)
    for answers in seen:  # what a writer answered may since have merged, never moved elsewhere
        for fp, issue in answers.items():
            assert reader.resolve(issue) == reader.issue_of(fp)
    assert len(set(reader.issues_of(fp for fp, _, _ in everything))) == 2


def test_a_torn_last_line_is_ignored_and_then_replaced(tmp_path: Path):
    book = IssueBook(tmp_path)
    book.observe([OTHER])
    with open(tmp_path / "log.jsonl", "ab") as log:
        log.write(b'{"fp":"fp-half","t":"Invalid')  # a crash in the middle of a write
    again = IssueBook(tmp_path)
    assert again.issue_of("fp-half") is None and again.issue_of(OTHER[0]) == book.issue_of(OTHER[0])
    again.observe([USERS[0]])
    assert IssueBook(tmp_path).issue_of(USERS[0][0]) is not None
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 2


def test_merge_and_split_are_logged_and_survive_regrouping(tmp_path: Path):
    book = IssueBook(tmp_path)
    ids = book.observe([USERS[0], OTHER])
    users, disk = ids[USERS[0][0]], ids[OTHER[0]]
    entry = book.merge(users, disk, by="admin")
    assert entry["into"] == users and entry["from"] == disk and entry["by"] == "admin"
    assert IssueBook(tmp_path).issue_of(OTHER[0]) == users
    split = book.split(users, OTHER[0], by="admin")
    again = IssueBook(tmp_path)
    assert again.issue_of(OTHER[0]) == split["new_issue"] != users
    assert [e["op"] for e in again.history] == ["merge", "split"]
    assert again.resolve(disk) == users  # the merged id still leads somewhere


def test_every_merge_has_its_reason(tmp_path: Path):
    book = IssueBook(tmp_path)
    ids = book.observe([*USERS[:4], OTHER])
    users = ids[USERS[0][0]]
    book.merge(users, ids[OTHER[0]], by="admin")
    changes = IssueBook(tmp_path).changes(ids[USERS[3][0]])
    assert [c["op"] for c in changes] == ["rule", "rule", "rule", "merge"]
    assert {c["pattern"] for c in changes[:3]} == {"Invalid login <*> from <*>"}
    assert changes[3]["by"] == "admin"


def test_refusals_name_the_id_and_change_nothing(tmp_path: Path):
    book = IssueBook(tmp_path)
    ids = book.observe([USERS[0], OTHER])
    users, disk = ids[USERS[0][0]], ids[OTHER[0]]
    before = (tmp_path / "log.jsonl").read_bytes()
    with pytest.raises(NotFoundError, match="Inope"):
        book.merge(users, "Inope", by="admin")
    with pytest.raises(ConflictError, match=users):
        book.merge(users, users, by="admin")
    with pytest.raises(UnprocessableError, match="fp-disk"):
        book.split(users, OTHER[0], by="admin")
    with pytest.raises(UnprocessableError, match="only one"):
        book.split(disk, OTHER[0], by="admin")
    assert (tmp_path / "log.jsonl").read_bytes() == before
    with pytest.raises(StorageError, match="read-only"):
        IssueBook(tmp_path, writable=False).observe([("fp-x", "a b c d", None)])


def test_a_book_without_a_folder_keeps_issues_in_memory():
    book = IssueBook(None)
    ids = book.observe(USERS[:4])
    assert len(set(book.issues_of(ids))) == 1
