"""Charts of a run with matplotlib, when it is installed: the backward/forward ratio against its
prediction, and GEMM GFLOP/s against the measured peak."""
from .competitors import optional_module
from .report import sizes_label


class PlotUnavailable(RuntimeError):
    pass


def plot_results(results, path):
    """Write the ratio and GFLOP/s charts of `results` (as main() collects them) to `path`."""
    matplotlib = optional_module("matplotlib")
    if matplotlib is None:
        raise PlotUnavailable("--plot needs matplotlib, which is not installed "
                              "(pip install matplotlib); the other results are unaffected")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ratio_ax, gemm_ax) = plt.subplots(1, 2, figsize=(13, 5))
    rows = results["layers"] + results["mlps"]
    for mode, marker in (("input_grad", "o"), ("no_input_grad", "s")):
        for sizes in dict.fromkeys(tuple(r["sizes"]) for r in rows):
            chosen = sorted((r for r in rows if tuple(r["sizes"]) == sizes), key=lambda r: r["batch"])
            if len(chosen) < 2:
                continue
            ratio_ax.plot([r["batch"] for r in chosen],
                          [r[f"ratio_{mode}"] / r[f"predicted_{mode}"] for r in chosen],
                          marker=marker, label=f"{chosen[0]['kind']} {sizes_label(sizes)} "
                                               f"{'with' if mode == 'input_grad' else 'no'} dx")
    ratio_ax.axhspan(0.8, 1.2, color="green", alpha=0.1, label="prediction +/-20%")
    ratio_ax.axhline(1.0, color="green", lw=1)
    ratio_ax.set_xscale("log", base=2)
    ratio_ax.set_xlabel("batch")
    ratio_ax.set_ylabel("measured / predicted backward/forward")
    ratio_ax.set_title("Backward/forward against the FLOP count")
    ratio_ax.legend(fontsize=6, ncol=2)

    machine = results["machine"]
    gemm = [r for r in results["gemm"] if r["dtype"] == "float32"]
    for threads in sorted({r["threads"] for r in gemm}):
        for lib in dict.fromkeys(r["library"] for r in gemm):
            for form in dict.fromkeys(r["form"] for r in gemm):
                chosen = sorted((r for r in gemm if (r["threads"], r["library"], r["form"]) ==
                                 (threads, lib, form)), key=lambda r: r["n"])
                if chosen:
                    gemm_ax.plot([r["n"] for r in chosen], [r["gflops"] for r in chosen],
                                 marker="o", ls="-" if threads == 1 else "--",
                                 label=f"{lib} {form} {threads}T")
        gemm_ax.axhline(machine["peak_gflops_f32_one_core"] * threads, color="gray", lw=1, ls=":")
    gemm_ax.set_xscale("log", base=2)
    gemm_ax.set_xlabel("n (n x n x n)")
    gemm_ax.set_ylabel("GFLOP/s (dotted: measured FMA peak)")
    gemm_ax.set_title(f"float32 GEMM on {machine['cpu']} ({machine['isa']})")
    gemm_ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
