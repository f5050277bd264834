"""Fuzzed calls over every public function and estimator method (tests/fuzz_targets.py), in child
processes (tests/fuzz_runner.py): each call must return a correct result or raise ValueError or
TypeError (MemoryError where it asks for too much); no crash, no hang, no other exception.

A few seconds in the normal suite (and under ASan/UBSan in scripts/sanitize.sh); the long run:

    FASTNN_FUZZ_CALLS=100000 FASTNN_FUZZ_SEED=7 python3 -m pytest tests/test_fuzz.py -s
    python3 tests/fuzz_runner.py --calls 100000 --seed 7 --jobs 2      (the same, with a report)
"""
import json
import os

from fuzz_runner import BAD, fuzz
from support import fastnn_env

CALLS = int(os.environ.get("FASTNN_FUZZ_CALLS", "600"))
SEED = int(os.environ.get("FASTNN_FUZZ_SEED", "0"))


def test_fuzzed_calls_return_right_results_or_refuse_clearly():
    counts, bad = fuzz(CALLS, SEED, env=fastnn_env())
    print(f"\n{CALLS} fuzzed calls (seed {SEED}): {dict(counts)}")
    assert not bad, "\n".join(json.dumps(record) for record in bad[:20])
    assert sum(counts.values()) == CALLS
    # the fuzzer reaches both sides: results it checks, and arguments it makes fastnn refuse
    assert counts["returned"] > CALLS // 10 and counts["refused"] > CALLS // 10, counts


def test_the_runner_sees_crashes_hangs_and_unclear_errors():
    counts, bad = fuzz(8, SEED, env=fastnn_env(FASTNN_FUZZ_INJECT="crash:2,hang:4,unclear:6",
                                               FASTNN_FUZZ_CALL_TIMEOUT="2"))
    assert [(r["index"], r["outcome"]) for r in bad] == [(2, "crash"), (4, "hang"), (6, "unclear")]
    assert sum(counts[k] for k in BAD) == 3 and sum(counts.values()) == 8, counts
