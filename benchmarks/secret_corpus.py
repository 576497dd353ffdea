"""Secrets masked and look-alikes kept, per kind, on the ingest path, beside the plain thing (the
client's standard-library scrubber alone), and what the scrubbing costs per record.

The corpus (tests/platform/corpora/secret_corpus.py) puts tokens in their vendors' documented
formats, sensitive names, headers and look-alikes inside realistic error messages; the scrubber
was fixed against it. The hold-out (secret_holdout.py) was written after that and is reported
apart.

Usage: python benchmarks/secret_corpus.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._report import percentile, write  # noqa: E402
from erroracle.client.scrubber import scrub_text  # noqa: E402
from erroracle.platform.prepare import RecordPreparer  # noqa: E402
from erroracle.platform.vendor_secrets import VendorSecrets  # noqa: E402
from tests.platform.corpora import secret_holdout  # noqa: E402
from tests.platform.corpora.secret_corpus import VENDORS, cases  # noqa: E402
from tests.platform.corpora.secret_scoring import score, stored_text  # noqa: E402

ROUNDS = 20


def cost_ms(scrub, texts: list[str]) -> dict[str, float]:
    """Milliseconds per message over ROUNDS passes."""
    times = []
    for _ in range(ROUNDS):
        for text in texts:
            started = time.perf_counter()
            scrub(text)
            times.append((time.perf_counter() - started) * 1000)
    return {"mean": round(sum(times) / len(times), 4), "p99": round(percentile(times, 99), 4)}


def main() -> None:
    corpus = cases()
    texts = [case["text"] for case in corpus]
    preparer = RecordPreparer()
    vendor = VendorSecrets.bundled()
    results = {
        "secrets": sum(c["group"] == "secret" for c in corpus),
        "look_alikes": sum(c["group"] == "look-alike" for c in corpus),
        "vendor_kinds": len(VENDORS),
        "vendor_rules": len(vendor.rules),
        "ingest": score(corpus, stored_text(preparer)),
        "client_scrubber_alone": score(corpus, scrub_text),
        # written after the scrubber was frozen; scored 30/30 and 20/20 the first time
        "holdout_ingest": score(secret_holdout.cases(), stored_text(preparer)),
        "cost_ms_per_message": {
            "prepare (scrub, vendor rules, trace, fingerprint)": cost_ms(preparer, [
                {"message": t} for t in texts]),
            "client scrubber": cost_ms(scrub_text, texts),
            "vendor rules": cost_ms(vendor.scrub, texts),
        },
    }
    for name in ("ingest", "client_scrubber_alone", "holdout_ingest"):
        for group, figures in results[name]["groups"].items():
            print(f"{name:<22} {group:<10} {figures['right']}/{figures['total']}")
    for name, figures in results["cost_ms_per_message"].items():
        print(f"{name:<52} mean {figures['mean']:.3f} ms  p99 {figures['p99']:.3f} ms")
    write("secret_corpus", results)


if __name__ == "__main__":
    main()
