"""How much memory fastnn.load spends refusing each hostile file of tests/hostile_files.py:

    PYTHONPATH=$PWD python3 benchmarks/hostile_files.py

prints, per file, its size, the peak bytes allocated while loading it (tracemalloc: Python and
numpy), that peak over the file's size, and the error. The bar (issue 14): every file refused
with ValueError at <= 2x its size in extra memory, beyond the fixed cost of loading a valid
two-parameter file (printed first).
"""
import os
import sys
import tempfile
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import fastnn  # noqa: E402
from hostile_files import BAD_CONSTRUCTOR_ARGS, hostile_files, module_file  # noqa: E402


def peak_while_loading(path):
    tracemalloc.start()
    error = None
    try:
        fastnn.load(path)
    except Exception as exc:  # noqa: BLE001 - reported
        error = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, error


def main():
    files = {name: data for name, (data, _) in hostile_files().items()}
    files.update({name: module_file(description) for name, (description, _) in BAD_CONSTRUCTOR_ARGS.items()})
    with tempfile.TemporaryDirectory() as directory:
        valid = os.path.join(directory, "valid.npz")
        fastnn.save(valid, fastnn.nn.Linear(2, 3, rng=0))
        fastnn.load(valid)
        fixed, _ = peak_while_loading(valid)
        print(f"fixed cost (a valid Linear(2, 3), {os.path.getsize(valid)} bytes): {fixed} bytes peak")
        print(f"{'file':30} {'bytes':>9} {'peak':>9} {'(peak-fixed)/size':>18}  error")
        worst = 0.0
        for name, data in files.items():
            path = os.path.join(directory, name + ".npz")
            with open(path, "wb") as file:
                file.write(data)
            peak, error = peak_while_loading(path)
            ratio = max(peak - fixed, 0) / len(data)
            worst = max(worst, ratio)
            message = f"{type(error).__name__}: {str(error).replace(path, '<file>')}"
            print(f"{name:30} {len(data):9d} {peak:9d} {ratio:18.2f}  {message[:90]}")
        print(f"worst (peak - fixed) / size: {worst:.2f} (bar: <= 2)")


if __name__ == "__main__":
    main()
