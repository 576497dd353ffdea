"""Real tracebacks pasted into public issues (tests/platform/corpora/tracebacks.jsonl, each with
its source): the GitHub crawler must store the error type each one names."""

from __future__ import annotations

from pathlib import Path

from tests.platform.corpora.trace_scoring import load, score

TARGET = 0.995


def test_the_corpus_is_large_real_and_attributed() -> None:
    cases = load()
    assert len(cases) >= 200
    assert all(case["source"].startswith("https://github.com/") for case in cases)
    assert len({case["source"] for case in cases}) == len(cases)
    assert {case["language"] for case in cases} == {
        "python", "jvm", "javascript", "go", "dotnet", "ruby", "php"}


def test_crawled_issues_carry_the_type_their_traceback_names(tmp_path: Path) -> None:
    result = score(load(), tmp_path)
    per_language = {name: f"{v['right']}/{v['total']}" for name, v in result["languages"].items()}
    print(f"right types {result['right']}/{result['cases']}: {per_language}")
    assert result["accuracy"] >= TARGET, result["missed"]
    assert all(v["accuracy"] >= 0.9 for v in result["languages"].values()), per_language
