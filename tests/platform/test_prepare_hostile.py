"""Hostile text through the ingest preparer: it always ends, stores no more than the limits, and
scrubs a secret that sits right at the place where a field is cut. (Its time is measured by
benchmarks/hostile_text.py, not here.)"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from erroracle.platform.prepare import RecordPreparer
from erroracle.platform.records import FIELD_LIMITS

PREPARE = RecordPreparer()
PIECES = ['File "x.py", line 1, in f\n', "password=", "http://a:b@", "token=x ", "4111 ", "(",
          "sk-ant- glpat- ", '"a": "', "=", " ", "Traceback (most recent call last):\n", "a@b."]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8), st.integers(1, 20_000))
def test_repeated_hostile_pieces_end_within_the_limits(pieces, times):
    text = "".join(pieces) * times
    record = PREPARE({"message": text[:200_000], "stack_trace": text[:200_000]})
    assert len(record.message) <= FIELD_LIMITS["message"]
    assert len(record.stack_trace or "") <= FIELD_LIMITS["stack_trace"]


def test_a_secret_across_the_cut_is_scrubbed_whole():
    # A GitLab token is recognised only whole (glpat- and 20 characters). Put it where the
    # field's cut falls: cut before scrubbing without a margin, its head would be stored.
    token = "glpat-xK3mP9qR2sT5vW8yZ1aB"
    limit = FIELD_LIMITS["message"]
    for shift in range(0, 120, 7):
        head = (limit - 60) * 2 // 3 - 10 + shift  # around where truncate_text puts its marker
        text = "x" * head + f" {token} " + "y" * 50_000
        stored = PREPARE({"message": text}).message
        assert "xK3mP9" not in stored and "qR2sT5" not in stored, shift
