"""The collator that pads a training batch: distinct solutions first, then hard negatives."""

from __future__ import annotations

import pyarrow as pa

from erroracle.learners.data import Collator


def test_hard_negatives_follow_the_batchs_solutions_once_each():
    batch = pa.table({
        "input_ids": [[5, 6], [7], [8, 9, 10]],
        "solution_ids": [[11], [12, 13], [11]],
        "solution_text": ["restart", "reinstall", "restart"],
        "negative_ids": [[12, 13], [14], [14]],
        "negative_text": ["reinstall", "reboot", "reboot"],
        "category": [0, 1, -1], "category_weight": [1.0, 1.0, 0.0],
        "severity": [0, 0, 0], "severity_weight": [1.0, 1.0, 1.0],
    })
    out = Collator(pad_id=0)(batch)
    # "restart" once (rows 0 and 2 share it), "reinstall" is row 1's fix, "reboot" a negative
    assert out["solution_rows"].tolist() == [0, 1]
    assert out["solution_input_ids"].tolist() == [[11, 0], [12, 13], [14, 0]]
    assert out["solution_attention_mask"].tolist() == [[1, 0], [1, 1], [1, 0]]
    assert out["input_ids"].shape == (3, 3)
