"""BM25 over fix documents: the tokens it counts, and scores scaled to the query's best."""

from __future__ import annotations

import numpy as np

from erroracle.platform.lexical import LexicalIndex, words


def test_dotted_names_count_whole_and_split_and_common_words_do_not():
    assert words("How to catch requests.exceptions.ConnectionError on port 6379 in 3 tries") == [
        "catch", "requests.exceptions.connectionerror", "requests", "exceptions",
        "connectionerror", "port", "6379", "tries"]


def test_scores_are_scaled_to_the_best_match_and_zero_when_nothing_matches():
    index = LexicalIndex([words("psycopg2 OperationalError could not connect to server"),
                          words("numpy ValueError shapes not aligned"),
                          []]).extended([words("psycopg2 install pg_config not found")])
    scores = index.scores("psycopg2.OperationalError: could not connect")
    assert scores.shape == (4,) and scores[0] == 1.0 and 0 < scores[3] < 1
    assert scores[1] == scores[2] == 0.0
    assert not index.scores("kubernetes").any() and not index.scores("the of to").any()
    assert np.array_equal(LexicalIndex([]).scores("anything"), np.zeros(0, np.float32))
