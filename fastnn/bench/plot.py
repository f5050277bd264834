"""Charts of a run with matplotlib, when it is installed: the backward/forward ratio against its
prediction (one panel per thread count), and GEMM GFLOP/s against the measured peak."""
from .competitors import optional_module
from .report import sizes_label

FORM_MARKERS = {"A.B": "o", "A.B^T": "s", "A^T.B": "^"}
RATIO_CLIP = 3.0  # measured/predicted above this is off the chart's scale: shown at the edge


class PlotUnavailable(RuntimeError):
    pass


def _ratio_panel(ax, rows, threads, colors):
    ax.axhspan(0.8, 1.2, color="green", alpha=0.12, label="prediction +/-20%")
    ax.axhline(1.0, color="green", lw=1)
    for index, sizes in enumerate(dict.fromkeys(tuple(r["sizes"]) for r in rows)):
        chosen = sorted((r for r in rows if tuple(r["sizes"]) == sizes), key=lambda r: r["batch"])
        for mode, style in (("input_grad", "-"), ("no_input_grad", ":")):
            ax.plot([r["batch"] for r in chosen],
                    [min(r[f"ratio_{mode}"] / r[f"predicted_{mode}"], RATIO_CLIP) for r in chosen],
                    ls=style, marker="o" if mode == "input_grad" else "s", ms=4,
                    color=colors(index % 10),
                    label=f"{chosen[0]['kind']} {sizes_label(sizes)}" if mode == "input_grad" else None)
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, RATIO_CLIP + 0.1)
    ax.set_xlabel("batch")
    ax.set_ylabel("measured / predicted backward/forward")
    ax.set_title(f"Backward/forward vs FLOP count, {threads} thread{'s' if threads > 1 else ''}\n"
                 "(solid: with input grad, dotted: without)")
    ax.legend(fontsize=6)


def plot_results(results, path):
    """Write the ratio and GFLOP/s charts of `results` (as main() collects them) to `path`."""
    matplotlib = optional_module("matplotlib")
    if matplotlib is None:
        raise PlotUnavailable("--plot needs matplotlib, which is not installed "
                              "(pip install matplotlib); the other results are unaffected")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["layers"] + results["mlps"]
    thread_counts = sorted({r["threads"] for r in rows})
    fig, axes = plt.subplots(1, len(thread_counts) + 1, figsize=(6 * (len(thread_counts) + 1), 5),
                             squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, threads in zip(axes[0], thread_counts):
        _ratio_panel(ax, [r for r in rows if r["threads"] == threads], threads, colors)

    gemm_ax = axes[0][-1]
    machine = results["machine"]
    gemm = [r for r in results["gemm"] if r["dtype"] == "float32"]
    libraries = list(dict.fromkeys(r["library"] for r in gemm))
    for threads in sorted({r["threads"] for r in gemm}):
        for index, lib in enumerate(libraries):
            for form, marker in FORM_MARKERS.items():
                chosen = sorted((r for r in gemm if (r["threads"], r["library"], r["form"]) ==
                                 (threads, lib, form)), key=lambda r: r["n"])
                if chosen:
                    gemm_ax.plot([r["n"] for r in chosen], [r["gflops"] for r in chosen],
                                 marker=marker, ms=4, color=colors(index % 10),
                                 ls="-" if threads == 1 else "--",
                                 label=f"{lib} {threads}T" if form == "A.B" else None)
        gemm_ax.axhline(machine["peak_gflops_f32_one_core"] * threads, color="gray", lw=1, ls=":")
    gemm_ax.set_xscale("log", base=2)
    gemm_ax.set_xlabel("n (n x n x n); markers: o A.B, s A.B^T, ^ A^T.B")
    gemm_ax.set_ylabel("GFLOP/s (dotted: measured FMA peak x threads)")
    gemm_ax.set_title(f"float32 GEMM, {machine['cpu']} ({machine['isa']})")
    gemm_ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
