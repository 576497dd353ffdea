"""Time per record of the ingest preparer on hostile text (scrub, parse the trace, fingerprint).

Each input is about 1 MB: frames without end, patterns built to make regexes backtrack, and text
that wakes every secret rule. It goes through ``RecordPreparer``, as every ingest path does, once
in the message and once in the stack trace. The target is 50 ms per record. The plain case beside
it is an ordinary one-line error.

Usage: python benchmarks/hostile_text.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write  # noqa: E402

from erroracle.platform.prepare import RecordPreparer  # noqa: E402

MB = 1_000_000
INPUTS = {
    "ordinary one-line error": "ValueError: invalid literal for int() with base 10: 'abc'",
    "1 MB of frames": "Traceback (most recent call last):\n"
    + 'File "x.py", line 1, in f\n    g()\n' * (MB // 36) + "ValueError: x",
    "1 MB of one letter": "a" * MB,
    "a name with a 1 MB value": "password=" + "a" * MB,
    "1 MB of '('": "(" * MB,
    "1 MB of '='": "=" * MB,
    "secret keywords repeated": "sk-ant- glpat- npm_ SG. " * (MB // 24),
    "card-like digit groups": "4111 " * (MB // 5),
    "name=value pairs": "token=x " * (MB // 8),
    "URL credentials repeated": "http://a:b@" * (MB // 11),
    "open quotes": '"a": "' * (MB // 6),
    "email-like": "a@b." * (MB // 4),
}
REPEATS = 5


def per_record_ms(prepare: RecordPreparer, record: dict[str, str]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        prepare(record)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    prepare = RecordPreparer()
    rows = []
    print(f"{'input':<28} {'in message':>11} {'in stack_trace':>15}")
    for name, text in INPUTS.items():
        message = per_record_ms(prepare, {"message": text})
        trace = per_record_ms(prepare, {"message": "x", "stack_trace": text})
        rows.append({"input": name, "chars": len(text), "message_ms": round(message, 2),
                     "stack_trace_ms": round(trace, 2)})
        print(f"{name:<28} {message:>9.2f} ms {trace:>12.2f} ms")
    worst = max(max(r["message_ms"], r["stack_trace_ms"]) for r in rows)
    print(f"worst {worst:.2f} ms per record (target 50)")
    write("hostile_text", {"target_ms": 50, "worst_ms": worst, "inputs": rows})


if __name__ == "__main__":
    main()
