"""``erroracle fingerprint --issues`` and ``erroracle issues``, run as the real command."""

from __future__ import annotations

import json

from tests.test_cli import run

USERS = [f"sshd Invalid user {name} from 10.0.0.{n}" for n, name in
         enumerate(("oracle", "admin", "test", "guest", "pi"))]
LINES = [USERS[0], "Disk quota exceeded on /var/data", *USERS[1:4],
         "Block blk_5165786360127153975 stored as bytes in memory",
         "Block blk_4539578763621486 stored as bytes in memory"]


def _issues(cli_env) -> dict[str, str]:
    """fingerprint -> issue, as the lake has them now."""
    listed = json.loads(run(cli_env, "issues", "list", "--json").stdout)["issues"]
    return {fp: issue["issue"] for issue in listed for fp in issue["fingerprints"]}


def test_fingerprint_issues_groups_like_ingest_into_an_empty_lake(tmp_path, cli_env):
    result = run(cli_env, "fingerprint", "--issues", input_text="\n".join(LINES) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(LINES) and all(item["issue"] for item in out)
    assert out[0]["template"] == "sshd Invalid user oracle from <IP>"
    assert out[0]["issue"] == out[2]["issue"] == out[3]["issue"] == out[4]["issue"]
    assert out[0]["issue"] != out[1]["issue"]
    assert out[5]["issue"] == out[6]["issue"]  # identifiers stay identifiers, not card numbers

    path = tmp_path / "lines.log"
    path.write_text("\n".join(LINES) + "\n")
    assert run(cli_env, "ingest", str(path)).returncode == 0
    stored = _issues(cli_env)
    assert {item["fingerprint"]: item["issue"] for item in out} == stored


def test_a_bad_line_is_named_in_place_and_the_rest_is_grouped(cli_env):
    lines = [json.dumps({"message": USERS[0]}), "{not json", json.dumps({"message": USERS[1]})]
    result = run(cli_env, "fingerprint", "--issues", "--jsonl", input_text="\n".join(lines))
    assert result.returncode == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [sorted(item) for item in out] == [
        ["error_type", "fingerprint", "issue", "template"], ["error", "line"],
        ["error_type", "fingerprint", "issue", "template"]]
    assert out[1]["line"] == 2 and result.stderr.count("\n") == 1


def test_merge_and_split_from_the_command_line_and_ids_that_stay(tmp_path, cli_env):
    path = tmp_path / "lines.log"
    path.write_text("\n".join(LINES[:5]) + "\n")
    assert run(cli_env, "ingest", str(path)).returncode == 0
    first = _issues(cli_env)
    users = first[next(fp for fp, issue in first.items() if list(first.values()).count(issue) == 4)]
    disk = next(issue for issue in first.values() if issue != users)

    for args, words in ((("merge", users, "Inowhere"), "issue Inowhere not found"),
                        (("merge", users, users), "already issue"),
                        (("split", disk, "--fingerprint", "f00"), "f00 is not in issue")):
        refused = run(cli_env, "issues", *args)
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
        assert words in refused.stderr
    assert _issues(cli_env) == first

    assert run(cli_env, "issues", "merge", users, disk).returncode == 0
    shown = json.loads(run(cli_env, "issues", "show", disk).stdout)
    assert shown["issue"] == users and shown["merged_from"] == disk and shown["count"] == 5
    disk_fp = next(fp for fp, issue in first.items() if issue == disk)
    split = run(cli_env, "issues", "split", users, "--fingerprint", disk_fp)
    assert split.returncode == 0 and "split" in split.stdout

    # More events later, in another process: every id shown before still leads where it did.
    path.write_text("\n".join(USERS[3:]) + "\n")
    assert run(cli_env, "ingest", str(path)).returncode == 0
    now = _issues(cli_env)
    assert all(now[fp] == users for fp in first if fp != disk_fp)
    assert now[disk_fp] not in (users, disk)
    assert {now[fp] for fp in now if fp not in first} == {users}


def test_resolve_ignore_and_reopen_from_the_command_line(tmp_path, cli_env):
    path = tmp_path / "lines.log"
    path.write_text(LINES[1] + "\n")
    assert run(cli_env, "ingest", str(path)).returncode == 0
    [issue] = set(_issues(cli_env).values())
    refused = run(cli_env, "issues", "ignore", issue, "--until", "next week")
    assert refused.returncode == 1 and "until" in refused.stderr
    assert refused.stderr.count("\n") == 1
    done = run(cli_env, "issues", "resolve", issue, "--in-release", "1.4")
    assert done.stdout.strip() == f"{issue} unresolved -> resolved"
    assert run(cli_env, "issues", "ignore", issue).stdout.strip() == f"{issue} resolved -> ignored"
    assert run(cli_env, "issues", "reopen", issue).returncode == 0
    shown = json.loads(run(cli_env, "issues", "show", issue).stdout)
    assert shown["status"]["status"] == "unresolved"
    assert [e["status"] for e in shown["history"]] == ["resolved", "ignored", "unresolved"]
