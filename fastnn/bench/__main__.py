"""`python -m fastnn.bench [--quick | --full] [--json PATH] [--plot PATH.png]`"""
import argparse
import datetime
import json
import sys
import time
from functools import partial

import fastnn

from . import report
from .competitors import available_libraries, libraries_for_threads, thread_count
from .gemm import GEMM_FORMS, gemm_case
from .layers import ratio_case
from .applications import applications_section, digits_fit_case, latency_case
from .busy import busy_core_case, busy_section
from .machine import describe_machine, load_average
from .modes import MODES
from .timing import Progress, clock_for
from .training import training_case

SECTIONS = ("gemm", "layers", "training", "applications", "busy")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m fastnn.bench",
        description="Measure fastnn on this machine: FMA peak, GEMM, layer backward/forward "
                    "ratios, training steps, threads on a busy machine.")
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", dest="mode", action="store_const", const="quick",
                       help="a first look in under 20 s")
    speed.add_argument("--full", dest="mode", action="store_const", const="full",
                       help="the long sweep (many minutes)")
    speed.add_argument("--smoke", dest="mode", action="store_const", const="smoke",
                       help=argparse.SUPPRESS)  # tests and CI: every section, tiny sizes
    parser.add_argument("--json", metavar="PATH", help="write every figure and the machine's "
                        "description to PATH as JSON")
    parser.add_argument("--plot", metavar="PATH.png", help="draw the ratio and GFLOP/s charts "
                        "(needs matplotlib)")
    parser.add_argument("--threads", type=int, metavar="N", help="'all threads' means N "
                        "(default: fastnn.get_num_threads())")
    parser.add_argument("--one-core", action="store_true",
                        help="pin this process (and so jax, which ignores thread settings) to one "
                             "core, so every library runs on that core alone; like running the "
                             "benchmark under `taskset -c 0`")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {','.join(SECTIONS)} (the machine "
                             "section always runs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(mode="default")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"--sections: unknown {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    return args


def plan_steps(mode, sections, all_threads, results):
    """(label, callable) for every measurement, in the order they run. The machine comes first:
    the GEMM rows need its peak."""
    def measure_machine():
        compared = set(mode.gemm_libraries) | set(mode.training_libraries)
        results["machine"] = describe_machine(mode.probe_runs, tuple(sorted(compared)))
        results["machine"]["threads"] = all_threads

    def measure_gemm(n, form, dtype, threads):
        libraries = [lib for lib in available_libraries(mode.gemm_libraries)
                     if not (lib == "jax" and dtype == "float64")]  # jax computes float32 unless x64
        peak = results["machine"][f"peak_gflops_{'f64' if dtype == 'float64' else 'f32'}_one_core"]
        results["gemm"] += gemm_case(n, form, dtype, threads, all_threads, libraries, peak,
                                     mode.timing)

    def measure_ratio(kind, sizes, batch, threads):
        with thread_count(threads):
            row = ratio_case(kind, sizes, batch, mode.timing, clock_for(threads))
        results["layers" if kind == "layer" else "mlps"].append(dict(row, threads=threads))

    def measure_training(sizes, batch, threads):
        # imported before the threads are set; jax's pool is fixed at start-up
        libraries = libraries_for_threads(available_libraries(mode.training_libraries), threads,
                                          all_threads)
        with thread_count(threads):
            rows = training_case(sizes, batch, libraries, mode.timing, clock_for(threads))
        results["training"] += [dict(row, threads=threads) for row in rows]

    def measure_applications():
        with thread_count(1):
            results["latency"] = [latency_case(sizes, mode.timing, clock_for(1))
                                  for sizes in mode.latency_sizes]
            results["digits"] = digits_fit_case(**mode.digits, clock=clock_for(1))

    def measure_busy():
        results["busy"] = busy_core_case(mode.busy_rounds, mode.busy_batch, mode.busy_sizes,
                                         mode.busy_matmul_n, all_threads)

    steps = [("machine: FMA peak probe", measure_machine)]
    if "gemm" in sections:
        for dtype in mode.gemm_dtypes:
            for threads in sorted({1, all_threads}):
                for n in mode.gemm_sizes:
                    for form in GEMM_FORMS:
                        steps.append((f"gemm: {dtype} n={n} {form} {threads_label(threads)}",
                                      partial(measure_gemm, n, form, dtype, threads)))
    if "layers" in sections:
        for threads in sorted({1, all_threads}):
            for width in mode.layer_widths:
                for batch in mode.layer_batches:
                    steps.append((f"layers: {width}-{width} batch {batch} {threads_label(threads)}",
                                  partial(measure_ratio, "layer", [width, width], batch, threads)))
            for width in mode.mlp_widths:
                for batch in mode.mlp_batches:
                    sizes = [784, width, width, 10]
                    steps.append((f"mlps: {report.sizes_label(sizes)} batch {batch} "
                                  f"{threads_label(threads)}",
                                  partial(measure_ratio, "mlp", sizes, batch, threads)))
    if "training" in sections:
        cases = [(mode.training_sizes, b) for b in mode.training_batches] + list(mode.training_extra)
        for threads in sorted({1, all_threads}):
            for sizes, batch in cases:
                steps.append((f"training: {report.sizes_label(sizes)} batch {batch} "
                              f"{threads_label(threads)}",
                              partial(measure_training, sizes, batch, threads)))
    if "applications" in sections:
        steps.append(("applications: single-row latency, digits fit", measure_applications))
    if "busy" in sections and mode.busy_rounds:
        steps.append(("busy: another process spinning on one core", measure_busy))
    return steps


def pin_to_one_core():
    """Runs this process on the first core it may use. jax, imported later, then sizes its thread
    pool to that core; fastnn and numpy are told one thread."""
    import os
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    fastnn.set_num_threads(1)


def threads_label(threads):
    return f"{threads} thread{'s' if threads > 1 else ''}"


def render(results, sections):
    mode = results["mode"]
    out = [f"fastnn {fastnn.__version__} benchmark, {mode} mode, {results['started']}", "",
           "== 1. Machine ==", report.machine_section(results["machine"]), ""]
    if "gemm" in sections:
        out += ["== 2. GEMM ==", report.gemm_section(results["gemm"], results["machine"]), ""]
    if "layers" in sections:
        rows = results["layers"] + results["mlps"]
        out += ["== 3. Layers and MLPs: backward/forward time against the FLOP prediction ==",
                "layer: Linear+ReLU w->w; mlp: 784-w-w-10 with ReLU. Prediction: 2.00 with the "
                "input gradient, 2 - (first layer's FLOP share) without it."]
        for threads, text in results["verdict"]["text_by_threads"].items():
            chosen = [r for r in rows if r["threads"] == int(threads)]
            clock = "CPU clock" if int(threads) == 1 else "wall clock"
            out += ["", f"{threads} thread{'s' if int(threads) > 1 else ''} ({clock}):",
                    report.ratio_section(chosen), "", text]
        out.append("")
    if "training" in sections and results["training"]:
        out += ["== 4. Training step (SGD momentum, softmax cross-entropy) ==",
                report.training_section(results["training"], results["machine"]), ""]
    if "applications" in sections and "digits" in results:
        out += ["== 5. Inference latency and a whole fit ==",
                applications_section(results["latency"], results["digits"],
                                     results["machine"]["peak_gflops_f32_one_core"] * 1e9), ""]
    if "busy" in sections and "busy" in results:
        out += ["== 6. Threads on a busy machine ==", busy_section(results["busy"]), ""]
    out.append(f"took {results['elapsed_s']:.1f} s")
    return "\n".join(out)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    mode = MODES[args.mode]
    if args.one_core:
        pin_to_one_core()
    all_threads = 1 if args.one_core else args.threads or fastnn.get_num_threads()
    started = time.perf_counter()
    results = {"mode": mode.name,
               "started": datetime.datetime.now().isoformat(timespec="seconds"),
               "command": "python -m fastnn.bench " + " ".join(sys.argv[1:] if argv is None else argv),
               "machine": None, "gemm": [], "layers": [], "mlps": [], "training": [], "busy": []}
    steps = plan_steps(mode, args.sections, all_threads, results)
    progress = Progress(len(steps), enabled=not args.no_progress)
    for label, measure in steps:
        progress.step(label)
        measure()
        progress.advance()
    progress.close()
    results["machine"]["load_average_at_end"] = load_average()
    results["verdict"] = report.verdict_by_threads(results["layers"] + results["mlps"],
                                                   busy=report.machine_is_busy(results["machine"]))
    results["elapsed_s"] = time.perf_counter() - started
    print(render(results, args.sections))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        from .plot import PlotUnavailable, plot_results
        try:
            plot_results(results, args.plot)
            print(f"wrote {args.plot}")
        except PlotUnavailable as exc:
            print(f"fastnn.bench: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
