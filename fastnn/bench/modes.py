"""What each run mode measures. Sizes are chosen so that, on 2 cores, --quick stays under 20 s
and the default under 2 minutes including the libraries' import and warm-up, even on a machine
other processes keep busy; --full sweeps. --quick compares with numpy only: importing torch or
jax alone takes seconds."""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mode:
    name: str
    gemm_sizes: tuple
    gemm_dtypes: tuple = ("float32",)
    gemm_libraries: tuple = ("fastnn", "numpy", "torch", "jax")
    layer_batches: tuple = ()
    layer_widths: tuple = ()
    mlp_batches: tuple = ()
    mlp_widths: tuple = ()  # MLPs are 784-w-w-10, MNIST-shaped
    training_batches: tuple = ()
    training_sizes: tuple = (784, 1024, 1024, 10)
    # further (sizes, batch) training steps: small networks, where per-call costs show
    training_extra: tuple = ()
    busy_rounds: int = 0  # 0: no busy-core section
    busy_batch: int = 1024
    busy_sizes: tuple = (784, 1024, 1024, 10)
    busy_matmul_n: int = 2048
    latency_sizes: tuple = ((784, 1024, 1024, 10), (64, 256, 256, 10))
    digits: dict = field(default_factory=lambda: {"hidden": (256, 256), "batch": 64, "epochs": 5,
                                                  "runs": 3})
    training_libraries: tuple = ("fastnn", "numpy", "torch", "jax")
    probe_runs: int = 50
    timing: dict = field(default_factory=dict)


MODES = {
    # For tests and CI: every section runs, on sizes that take milliseconds.
    "smoke": Mode(
        name="smoke", gemm_sizes=(64,), gemm_libraries=("fastnn", "numpy"),
        layer_batches=(16,), layer_widths=(64,), mlp_batches=(16,), mlp_widths=(64,),
        training_batches=(16,), training_sizes=(64, 32, 10), training_libraries=("fastnn", "numpy"),
        busy_rounds=1, busy_batch=16, busy_sizes=(64, 32, 10), busy_matmul_n=64, probe_runs=5,
        latency_sizes=((64, 32, 10),), digits={"hidden": (16,), "batch": 64, "epochs": 1, "runs": 1}, timing={"rounds": 2, "round_seconds": 0.0005, "budget_seconds": 0.05}),
    "quick": Mode(
        name="quick", gemm_sizes=(256, 1024), gemm_libraries=("fastnn", "numpy"),
        layer_batches=(1, 256), layer_widths=(1024,), mlp_batches=(16, 256), mlp_widths=(1024,),
        training_batches=(256,), training_libraries=("fastnn", "numpy"),
        busy_rounds=2, busy_batch=256, busy_matmul_n=1024,
        digits={"hidden": (256, 256), "batch": 64, "epochs": 2, "runs": 1},
        timing={"rounds": 5, "round_seconds": 0.002, "budget_seconds": 0.3}),
    "default": Mode(
        name="default", gemm_sizes=(64, 256, 512, 1024),
        layer_batches=(1, 16, 256, 1024), layer_widths=(64, 256, 1024, 2048),
        mlp_batches=(1, 16, 64, 256, 1024), mlp_widths=(256, 1024, 2048),
        training_batches=(1, 16, 64, 256, 1024),
        training_extra=(((64, 64, 64, 10), 32), ((784, 256, 10), 64)),
        busy_rounds=5,
        timing={"rounds": 7, "round_seconds": 0.003, "budget_seconds": 0.6}),
    "full": Mode(
        name="full", gemm_sizes=(64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 4096),
        gemm_dtypes=("float32", "float64"),
        layer_batches=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
        layer_widths=(64, 128, 256, 512, 1024, 2048),
        mlp_batches=(1, 4, 16, 64, 128, 256, 512, 1024), mlp_widths=(64, 256, 512, 1024, 2048),
        training_batches=(1, 16, 64, 256, 1024),
        training_extra=(((64, 64, 64, 10), 32), ((784, 256, 10), 64)),
        busy_rounds=15,
        timing={"rounds": 15, "round_seconds": 0.005, "budget_seconds": 4.0}),
}
