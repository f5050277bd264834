"""Runs fuzzed calls (tests/fuzz_targets.py) in child processes and sorts their outcomes.

Call i of seed s is drawn from numpy.random.default_rng([s, i]) alone, so any call can be
replayed on its own. A child runs calls start.. in order, noting the index of the call under way
in a progress file; the parent restarts a child after the call that killed one (a crash: a
signal, or a sanitizer's abort) or hung (no return within CALL_TIMEOUT: faulthandler's watchdog
ends the child). Outcomes:

    returned   the call returned and its result passed its check
    refused    it raised ValueError or TypeError (MemoryError where the call may ask too much)
    unclear    it raised anything else
    wrong      it returned a result its check rejects
    crash      the child died during it
    hang       it did not return within CALL_TIMEOUT seconds

    python3 tests/fuzz_runner.py --calls 100000 [--seed 1] [--jobs 2]
    python3 tests/fuzz_runner.py --seed 1 --start 4711 --calls 1 --verbose    (replay one call)
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
CALL_TIMEOUT = float(os.environ.get("FASTNN_FUZZ_CALL_TIMEOUT", "60"))
BAD = ("unclear", "wrong", "crash", "hang")


def run_calls(seed, start, count, progress_path, verbose=False):
    """In the child: calls start..start+count-1, one JSON line per outcome that is not 'returned'
    or 'refused' on stdout, and a final line of counts."""
    import faulthandler
    import traceback

    import numpy as np

    # FASTNN_FUZZ_INJECT="crash:3,hang:5": those calls abort or sleep and the others do nothing,
    # so that a test can check quickly that the runner sees crashes and hangs at all
    injected = dict(reversed(item.split(":")) for item in filter(None, os.environ.get("FASTNN_FUZZ_INJECT", "").split(",")))
    if injected:
        def draw_call(rng):
            return types.SimpleNamespace(label="injected", thunk=lambda: None, check=None, may_be_too_large=False)
    else:
        sys.path.insert(0, HERE)
        from fuzz_targets import draw_call
    counts = collections.Counter()
    progress = os.open(progress_path, os.O_WRONLY | os.O_CREAT, 0o644)
    for index in range(start, start + count):
        os.pwrite(progress, f"{index:>20}".encode(), 0)
        rng = np.random.default_rng([seed, index])
        faulthandler.dump_traceback_later(CALL_TIMEOUT, exit=True)
        label = "drawing the call"
        try:
            call = draw_call(rng)
        except Exception:  # noqa: BLE001 - the fuzzer's own error (or fastnn's while setting up)
            outcome, detail = "unclear", traceback.format_exc()[-1500:]
            faulthandler.cancel_dump_traceback_later()
            counts[outcome] += 1
            print(json.dumps({"index": index, "outcome": outcome, "label": label, "detail": detail}), flush=True)
            continue
        try:
            if injected.get(str(index)) == "crash":
                os.abort()
            if injected.get(str(index)) == "hang":
                time.sleep(10 * CALL_TIMEOUT)
            if injected.get(str(index)) == "unclear":
                raise KeyError("injected")
            label = call.label
            result = call.thunk()
            try:
                if call.check is not None:
                    call.check(result)
                outcome, detail = "returned", ""
            except AssertionError as exc:
                outcome, detail = "wrong", f"{exc}"
        except (ValueError, TypeError) as exc:
            outcome, detail = "refused", f"{type(exc).__name__}: {exc}"
        except MemoryError as exc:
            allowed = call.may_be_too_large
            outcome, detail = ("refused" if allowed else "unclear"), f"MemoryError: {exc}"
        except Exception as exc:  # noqa: BLE001 - that is what we look for
            if isinstance(exc, tuple(getattr(call, "also_clear", ()))):
                outcome, detail = "refused", f"{type(exc).__name__}: {exc}"
            else:
                outcome, detail = "unclear", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        finally:
            faulthandler.cancel_dump_traceback_later()
        counts[outcome] += 1
        if outcome in BAD or verbose:
            print(json.dumps({"index": index, "outcome": outcome, "label": label, "detail": detail[:2000]}),
                  flush=True)
    os.pwrite(progress, f"{start + count:>20}".encode(), 0)
    os.close(progress)
    print(json.dumps({"counts": counts}), flush=True)


def fuzz(calls, seed=1, start=0, env=None, python=sys.executable, budget=None):
    """Runs calls start..start+calls-1 in child processes (restarted after a crash or hang).
    Returns (Counter of outcomes, [the bad outcomes as dicts])."""
    counts, bad = collections.Counter(), []
    next_index, end = start, start + calls
    deadline = None if budget is None else time.monotonic() + budget
    with tempfile.TemporaryDirectory() as directory:
        progress_path = os.path.join(directory, "progress")
        while next_index < end and (deadline is None or time.monotonic() < deadline):
            with open(progress_path, "w") as file:
                file.write(f"{next_index:>20}")
            child = subprocess.run(
                [python, os.path.abspath(__file__), "--child", "--seed", str(seed), "--start", str(next_index),
                 "--calls", str(end - next_index), "--progress", progress_path],
                env=env, capture_output=True, text=True)
            finished = False
            for line in child.stdout.splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if "counts" in record:
                    counts.update(record["counts"])
                    finished = True
                else:
                    bad.append(record)
            if finished and child.returncode == 0:
                break
            with open(progress_path) as file:
                stopped_at = int(file.read())
            # the child's counts died with it: count what it ran from the records it left
            ran = stopped_at - next_index
            seen_bad = sum(1 for r in bad if next_index <= r["index"] < stopped_at)
            counts["returned or refused (child lost its counts)"] += ran - seen_bad
            for r in bad:
                if next_index <= r["index"] < stopped_at:
                    counts[r["outcome"]] += 1
            outcome = "hang" if "Timeout" in child.stderr else "crash"
            counts[outcome] += 1
            bad.append({"index": stopped_at, "outcome": outcome, "label": "(replay with --start)",
                        "detail": f"exit {child.returncode}: {child.stderr[-3000:]}"})
            next_index = stopped_at + 1
    return counts, bad


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="children run side by side, each a share of the calls")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--progress", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_calls(args.seed, args.start, args.calls, args.progress, args.verbose)
        return
    if args.verbose:
        with tempfile.TemporaryDirectory() as directory:
            run_calls(args.seed, args.start, args.calls, os.path.join(directory, "progress"), True)
        return
    from concurrent.futures import ThreadPoolExecutor
    share = -(-args.calls // args.jobs)
    started = time.monotonic()
    with ThreadPoolExecutor(args.jobs) as pool:
        parts = list(pool.map(lambda j: fuzz(min(share, args.calls - j * share), args.seed, args.start + j * share),
                              range(args.jobs)))
    counts, bad = collections.Counter(), []
    for part_counts, part_bad in parts:
        counts.update(part_counts)
        bad += part_bad
    for record in bad:
        print(json.dumps(record))
    total = sum(counts.values())
    print(f"{total} calls in {time.monotonic() - started:.0f} s (seed {args.seed}, from {args.start}): "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print("bad (unclear, wrong, crash, hang):", sum(counts[k] for k in BAD))
    sys.exit(1 if any(counts[k] for k in BAD) else 0)


if __name__ == "__main__":
    main()
