"""The printed report: one table per section, and the verdict on the backward/forward ratio."""
from .flops import training_step_flops
from .layers import COMPUTE_BOUND_FLOPS_PER_BYTE, COMPUTE_BOUND_MIN_FLOPS, TOLERANCE

BAR_SIZES = [784, 1024, 1024, 10]
BAR_MIN_BATCH = 256
MODES = (("input_grad", "with input grad"), ("no_input_grad", "without input grad"))


def sizes_label(sizes):
    return "-".join(str(s) for s in sizes)


def table(header, rows, left=1):
    """Columns aligned: the first `left` to the left (labels), the others to the right."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        lines.append("  ".join(c.ljust(w) if i < left else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def machine_section(machine):
    libs = machine["libraries"]
    others = ", ".join(f"{name} {libs[name]}" for name in ("torch", "jax") if libs.get(name))
    blas = f" ({libs['numpy_blas']})" if libs.get("numpy_blas") else ""
    return "\n".join([
        f"CPU              {machine['cpu']} ({machine['vendor']})",
        f"ISA              {machine['isa']} (this CPU runs: {', '.join(machine['isa_supported'])})",
        f"Threads          {machine['threads']} (logical CPUs: {machine['logical_cpus']}, "
        f"OpenMP: {'yes' if machine['openmp'] else 'no'})",
        f"Load             {load_text(machine)}",
        f"FMA peak         float32 {machine['peak_gflops_f32_one_core']:.1f} GFLOP/s, "
        f"float64 {machine['peak_gflops_f64_one_core']:.1f} GFLOP/s on one core "
        f"({machine['vector_lanes_f32']} float32 lanes per vector)" + bf16_peak_text(machine),
    ] + ukernel_lines(machine) + [
        f"Software         Python {machine['python']}, fastnn {machine['fastnn']}, "
        f"numpy {libs['numpy']}{blas}" + (f", {others}" if others else ""),
    ] + [f"Warning          {w}" for w in machine.get("warnings", [])])


def ukernel_lines(machine):
    rate = machine.get("ukernel_gflops_f32_one_core")
    if not rate:
        return []
    return [f"GEMM kernel      float32 {rate:.1f} GFLOP/s on one core = "
            f"{100 * rate / machine['peak_gflops_f32_one_core']:.0f}% of the FMA peak: the "
            f"micro-kernel alone on panels in L1, the ceiling of every product"]


def bf16_peak_text(machine):
    peak = machine.get("peak_gflops_bf16_one_core")
    return f"; bf16 dot products {peak:.1f} GFLOP/s" if peak else ""


def machine_is_busy(machine):
    """Whether other processes kept the CPUs busy during the run (1-minute load average, at the
    start or the end, above a quarter of the logical CPUs)."""
    loads = [machine.get(k) for k in ("load_average_at_start", "load_average_at_end")]
    loads = [x for x in loads if x is not None]
    return bool(loads) and max(loads) > 0.25 * (machine.get("logical_cpus") or 1)


def load_text(machine):
    start, end = machine.get("load_average_at_start"), machine.get("load_average_at_end")
    if start is None:
        return "unknown"
    text = f"1-minute load average {start:.1f}" + (f" at start, {end:.1f} at end" if end is not None else "")
    if machine_is_busy(machine):
        text += (" -- other processes were running: one-thread figures use the CPU clock and are "
                 "unaffected; multi-thread figures include waiting for the other processes")
    return text


def gemm_section(rows, machine):
    out = []
    for dtype in sorted({r["dtype"] for r in rows}):
        peak_key = "peak_gflops_f64_one_core" if dtype == "float64" else "peak_gflops_f32_one_core"
        for threads in sorted({r["threads"] for r in rows}):
            chosen = [r for r in rows if r["dtype"] == dtype and r["threads"] == threads]
            if not chosen:
                continue
            libraries = list(dict.fromkeys(r["library"] for r in chosen))
            cases = list(dict.fromkeys((r["n"], r["form"]) for r in chosen))
            by_key = {(r["n"], r["form"], r["library"]): r for r in chosen}
            body = []
            for n, form in cases:
                cells = []
                for lib in libraries:
                    r = by_key.get((n, form, lib))
                    cells.append(f"{r['gflops']:.1f} ({r['percent_of_peak']:.0f}%)" if r else "-")
                body.append([str(n), form] + cells)
            peak = machine[peak_key] * threads
            out.append(f"{dtype}, {threads} thread{'s' if threads > 1 else ''} "
                       f"(peak {peak:.1f} GFLOP/s = {threads} x one core): GFLOP/s (% of peak)")
            out.append(table(["n", "form"] + libraries, body, left=0))
            out.append("")
    out.append("forms: A.B^T = forward X.W^T, A.B = input gradient dS.W, A^T.B = weight gradient dS^T.X")
    return "\n".join(out)


def ratio_section(rows):
    body = []
    for r in rows:
        body.append([
            r["kind"], sizes_label(r["sizes"]), str(r["batch"]),
            f"{r['forward_s'] * 1e3:.3f}", f"{r['forward_gflops']:.1f}",
            f"{r['backward_s'] * 1e3:.3f}",
            f"{r['ratio_input_grad']:.2f}/{r['predicted_input_grad']:.2f}",
            f"{r['backward_no_input_grad_s'] * 1e3:.3f}",
            f"{r['ratio_no_input_grad']:.2f}/{r['predicted_no_input_grad']:.2f}",
            f"{r['flops_per_byte']:.0f}", "compute" if r["compute_bound"] else "-",
        ])
    return table(["kind", "sizes", "batch", "fwd ms", "fwd GF/s", "bwd ms", "ratio/pred",
                  "bwd ms, no input grad", "ratio/pred", "FLOP/B", "bound"], body, left=2)


def _span(values):
    return f"{min(values):.2f}" if min(values) == max(values) else f"{min(values):.2f}-{max(values):.2f}"


def departure_reason(row):
    if row["forward_flops"] < COMPUTE_BOUND_MIN_FLOPS:
        return "small"
    if row["flops_per_byte"] < COMPUTE_BOUND_FLOPS_PER_BYTE:
        return "memory"
    return "compute"


def verdict(rows, contended=False):
    """Whether backward/forward matches the FLOP prediction where the work is compute-bound, where
    it departs and why, and the issue's bar (784-1024-1024-10 at batch >= 256, both modes).
    `contended`: the rows were timed by the wall clock while other processes ran."""
    checks = [(r, mode) for r in rows for mode, _ in MODES]
    bound = [(r, m) for r, m in checks if r["compute_bound"]]
    bound_ok = [(r, m) for r, m in bound if r[f"within_{m}"]]
    departures = [(r, m) for r, m in checks if not r[f"within_{m}"]]
    reasons = {}
    for r, m in departures:
        reasons.setdefault(departure_reason(r), []).append(r[f"ratio_{m}"] / r[f"predicted_{m}"])
    bar_rows = [r for r in rows if r["kind"] == "mlp" and r["sizes"] == BAR_SIZES
                and r["batch"] >= BAR_MIN_BATCH]
    bar = {
        "cases": [{"batch": r["batch"], "threads": r.get("threads"), "mode": m, "ratio": r[f"ratio_{m}"],
                   "predicted": r[f"predicted_{m}"], "within": r[f"within_{m}"]}
                  for r in bar_rows for m, _ in MODES],
    }
    bar["measured"] = bool(bar["cases"])
    bar["passed"] = bar["measured"] and all(c["within"] for c in bar["cases"])

    pct = f"{TOLERANCE:.0%}"
    lines = []
    if bound:
        lines.append(f"Verdict: backward/forward is within +/-{pct} of the FLOP prediction in "
                     f"{len(bound_ok)} of {len(bound)} compute-bound checks (>= "
                     f"{COMPUTE_BOUND_FLOPS_PER_BYTE} FLOP/byte and >= {COMPUTE_BOUND_MIN_FLOPS:.0e} "
                     f"FLOPs per forward; each case checked with and without the input gradient).")
    else:
        lines.append("Verdict: no case in this mode is compute-bound, so the ratio is not held to "
                     "the prediction here (run the default mode).")
    explanations = {
        "small": "too little work per call (< {:.0e} forward FLOPs): fixed per-call costs "
                 "(validation, allocation, the activation-derivative pass) dominate".format(
                     COMPUTE_BOUND_MIN_FLOPS),
        "memory": f"memory-bound (< {COMPUTE_BOUND_FLOPS_PER_BYTE} FLOP/byte): small batches stream "
                  "the weights, and backward moves more bytes than forward (it reads W and writes dW)",
        "compute": ("compute-bound, but timed by the wall clock while other processes ran: "
                    "the departure is theirs, not the code's" if contended else
                    "compute-bound, so this is a real shortfall of the backward pass"),
    }
    for reason in ("small", "memory", "compute"):
        if reason in reasons:
            ratios = reasons[reason]
            lines.append(f"  departs in {len(ratios)} checks, measured/predicted {_span(ratios)}: "
                         f"{explanations[reason]}")
    if bar["measured"]:
        detail = "; ".join(f"batch {c['batch']}, {c['threads']} thread(s), {c['mode'].replace('_', ' ')}: "
                           f"{c['ratio']:.2f} vs {c['predicted']:.2f}" for c in bar["cases"])
        lines.append(f"Target (784-1024-1024-10, batch >= {BAR_MIN_BATCH}, +/-{pct}): "
                     f"{'PASS' if bar['passed'] else 'FAIL'} ({detail})")
    return {"compute_bound_checks": len(bound), "compute_bound_within": len(bound_ok),
            "departures": {k: len(v) for k, v in reasons.items()}, "bar": bar,
            "text": "\n".join(lines)}


def verdict_by_threads(rows, busy=False):
    """verdict() for each thread count the ratios were measured with, and for all of them; `busy`
    says other processes ran meanwhile (which only the multi-thread, wall-clock figures feel)."""
    by_threads = {str(t): verdict([r for r in rows if r["threads"] == t], contended=busy and t > 1)
                  for t in sorted({r["threads"] for r in rows})}
    overall = verdict(rows)
    overall["by_threads"] = {t: {k: v for k, v in res.items() if k != "text"}
                             for t, res in by_threads.items()}
    overall["text_by_threads"] = {t: res["text"] for t, res in by_threads.items()}
    return overall


def training_section(rows, machine):
    """One line per (MLP, batch, threads): each library's step time, its ratio to fastnn's, and
    fastnn's share of the FLOP limit (the step's FLOPs at the peak of its cores measured in the
    case's own rounds, or the machine's where a row has none)."""
    libraries = list(dict.fromkeys(r["library"] for r in rows))
    cases = list(dict.fromkeys((tuple(r["sizes"]), r["batch"], r["threads"]) for r in rows))
    by_key = {(tuple(r["sizes"]), r["batch"], r["threads"], r["library"]): r for r in rows}
    body = []
    for sizes, batch, threads in cases:
        cells = []
        fastnn_row = by_key.get((sizes, batch, threads, "fastnn"))
        for lib in libraries:
            r = by_key.get((sizes, batch, threads, lib))
            if r is None:
                cells.append("-")
                continue
            relative = f" x{r['seconds'] / fastnn_row['seconds']:.2f}" if fastnn_row and lib != "fastnn" else ""
            cells.append(f"{r['seconds'] * 1e3:.3f}{relative}")
        limit = peak_text = "-"
        if fastnn_row:
            peak = fastnn_row.get("peak_gflops_f32_one_core") or machine["peak_gflops_f32_one_core"]
            peak_text = f"{peak:.0f}"
            limit = f"{100 * training_step_flops(sizes, batch) / (peak * 1e9 * threads) / fastnn_row['seconds']:.0f}%"
        body.append([sizes_label(sizes), str(batch), str(threads)] + cells + [peak_text, limit])
    return (table(["MLP", "batch", "threads"] + [f"{lib} ms" for lib in libraries]
                  + ["peak GFLOP/s", "fastnn, % of FLOP limit"], body)
            + "\n(xN: that library's step time over fastnn's. peak: one core's float32 FMA peak, "
              "probed in the same interleaved rounds as the steps. FLOP limit: forward and "
              "backward FLOPs at that peak times the cores used; the first layer computes no "
              "input gradient)")
