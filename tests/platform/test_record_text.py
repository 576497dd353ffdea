"""A record's text and its stable split, without torch."""

from __future__ import annotations

import subprocess
import sys

from erroracle.platform.record_text import error_text, in_validation


def test_error_text_puts_type_and_message_first_and_adds_frames():
    text = error_text({
        "error_type": "KeyError", "message": "'user'", "title": "Login crashes",
        "frames": [{"module": "app.views", "function": "login"}],
    })
    assert text.splitlines() == ["KeyError: 'user'", "Login crashes", "at app.views:login"]
    assert error_text({"title": "How to fix?", "body": "b" * 1000}).startswith("How to fix?\nbbb")
    assert len(error_text({"title": "t", "body": "b" * 1000})) < 420


def test_the_split_by_group_is_stable_and_seeded():
    chosen = [fp for fp in (f"fp{i}" for i in range(2000)) if in_validation(fp, 0.2)]
    assert 300 < len(chosen) < 500
    assert chosen == [fp for fp in (f"fp{i}" for i in range(2000)) if in_validation(fp, 0.2)]
    reseeded = [fp for fp in (f"fp{i}" for i in range(2000)) if in_validation(fp, 0.2, seed=1)]
    assert reseeded != chosen


def test_record_text_imports_no_torch():
    code = "import sys, erroracle.platform.record_text; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
