"""torch (ocseg's inference path) against ONNX Runtime and OpenVINO on the same exported network,
in one run, with the achieved GFLOP/s of each against this CPU's float32 peak.

    python bench/runtimes.py                                  # hrnet48_ocr, r101_ocr, segfix_hrnet2x20
    python bench/runtimes.py --threads 1 --clock cpu          # one core, process CPU time (steadier)
    python bench/runtimes.py --models hrnet48_ocr --size 512 1024 --json out.json
    python bench/runtimes.py --quick                          # small sizes: checks the harness
    python bench/runtimes.py --device cuda --size 1024 2048   # bench/gpu.sh: ONNX Runtime's CUDA and
                                                              # TensorRT providers (onnxruntime-gpu)

Sides, each on the same random weights, batch 1, ``--threads`` threads:

- ``torch``: what ``eval.py`` and ``ocseg.load(ckpt)`` run: the network after
  ``fuse_for_inference()`` (BatchNorm folded, channels_last weights) under ``torch.inference_mode``;
- ``onnxruntime``: the file ``ocseg.export`` writes (fixed size, ``--exporter``), on ONNX Runtime's
  CPU provider with all graph optimisations, ``intra_op_num_threads = --threads``;
- ``openvino``: the same file on OpenVINO's CPU plugin at float32 precision (``INFERENCE_PRECISION_HINT
  f32``: on CPUs with bf16 units its default is bf16), latency mode, ``--threads`` threads; left out
  when ``openvino`` is not installed (``pip install 'ocseg[bench]'``).

With ``--device cuda`` the sides are ``torch`` on the GPU and the file on ONNX Runtime's
``CUDAExecutionProvider`` (``onnxruntime-cuda``) and ``TensorrtExecutionProvider``
(``onnxruntime-tensorrt``, float32, engine built in the warm-up round), inputs and outputs bound
on the GPU (``io_binding``); a provider the installed ``onnxruntime-gpu`` lacks is left out.

Times are the median of ``--repeats`` rounds in rotating order (``timing.round_robin``). GFLOPs
count 2 × multiply-adds: torch's with ``torch.utils.flop_counter`` on the meta device, the ONNX
file's from its convolutions and matrix products (the shapes of one run), so a head whose
auxiliary output the export leaves out shows fewer FLOPs on the ONNX sides.

The float32 peak is derived from the CPU: threads × clock × 2 FMA units × 8 float32 lanes (one
256-bit AVX2/FMA operation) × 2 FLOPs per FMA. ``--lanes 16`` for cores with two 512-bit FMA units
(AMD's Zen 4 runs AVX-512 on its 256-bit units, so 8 stays right there). The clock is measured,
since a VM's ``/proc/cpuinfo`` shows the base clock while a busy core runs at its boost clock: a
chain of dependent 64-bit integer additions (one cycle each on every x86-64 core) runs as machine
code through ``ctypes``, and the fastest of five runs gives the cycles per second (``--ghz``
overrides it; other processors fall back to ``cpu MHz``). As a check, the rate of one large
float32 matrix product (``torch.mm``, 2048²) is reported beside it.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import CLOCKS, cpu_model, medians, round_robin  # noqa: E402

MODELS = ("hrnet48_ocr", "r101_ocr", "segfix_hrnet2x20")
FMA_UNITS = 2
FLOPS_PER_FMA = 2


# -- the peak --------------------------------------------------------------------------------------
def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_ghz() -> float | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":", 1)[1]) / 1000
    except (OSError, ValueError):
        pass
    return None


def measured_ghz(iterations: int = 20_000_000, chain: int = 16) -> float | None:
    """The core's clock: ``chain`` dependent ``add rax, 1`` per loop iteration (one cycle each),
    run as machine code; the fastest of five runs, in process CPU time. None off x86-64 Linux."""
    if platform.machine() not in ("x86_64", "AMD64") or not hasattr(mmap, "PROT_EXEC"):
        return None
    body = b"\x48\x83\xc0\x01" * chain + b"\x48\xff\xcf"                 # add rax, 1 (×chain); dec rdi
    code = b"\x31\xc0" + body + bytes([0x75, 256 - len(body) - 2]) + b"\xc3"   # xor eax; …; jnz; ret
    try:
        page = mmap.mmap(-1, len(code), prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except OSError:                                                       # no executable memory here
        return None
    page.write(code)
    adds = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
    adds(1000)
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        assert adds(iterations) == chain * iterations
        best = min(best, time.process_time() - start)
    return chain * iterations / best / 1e9


def fp32_peak(threads: int, ghz: float | None, lanes: int) -> dict:
    """The derived float32 FMA peak (GFLOP/s) and how it was derived."""
    flags = cpu_flags()
    source = "--ghz"
    if ghz is None:
        ghz, source = measured_ghz(), "measured"
    if ghz is None:
        ghz, source = cpu_ghz(), "cpu MHz of /proc/cpuinfo"
    if ghz is None or not {"avx2", "fma"} <= flags:
        return {"gflops": None, "how": "unknown: no clock or no AVX2/FMA in /proc/cpuinfo (pass --ghz)"}
    peak = threads * ghz * FMA_UNITS * lanes * FLOPS_PER_FMA
    return {"gflops": peak, "ghz": ghz, "nominal_ghz": cpu_ghz(), "avx512f": "avx512f" in flags,
            "how": f"{threads} thread(s) × {ghz:.2f} GHz ({source}) × {FMA_UNITS} FMA units × {lanes} fp32 "
                   f"lanes × {FLOPS_PER_FMA} FLOPs/FMA"}


def matmul_rate(clock, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of a float32 ``n×n`` matrix product on torch's threads (best of ``repeats``,
    timed with ``clock``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        a @ b
        best = min(best, clock() - start)
    return 2 * n ** 3 / best / 1e9


# -- FLOPs -------------------------------------------------------------------------------------------
def torch_gflops(name: str, size: tuple[int, int]) -> float:
    from ocseg.models import build_model

    with torch.device("meta"):
        net = build_model(name, 19).eval()
        x = torch.empty(1, 3, *size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x)
    return counter.get_total_flops() / 1e9


def onnx_gflops(path: Path, x: np.ndarray) -> float:
    """2 × multiply-adds of the Conv, MatMul and Gemm nodes of an ONNX file, with the shapes it
    computes on ``x`` (every operand is made an output and the graph run once, unoptimised:
    static shape inference cannot follow HRNet's computed resize sizes)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    constants = {t.name: list(t.dims) for t in model.graph.initializer}
    nodes = [n for n in model.graph.node if n.op_type in ("Conv", "MatMul", "Gemm")]
    names = list(dict.fromkeys(name for n in nodes for name in (n.input[0], n.input[1], n.output[0])
                               if name not in constants))
    outputs = {o.name for o in model.graph.output}
    model.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                              for name in names if name not in outputs)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    shapes = dict(constants, **{name: list(value.shape) for name, value in
                                zip(names, session.run(names, {"image": x}))})
    flops = 0
    for node in nodes:
        first, second, out = (shapes[name] for name in (node.input[0], node.input[1], node.output[0]))
        inner = int(np.prod(second[1:])) if node.op_type == "Conv" else first[-1]
        flops += 2 * int(np.prod(out)) * inner
    return flops / 1e9


# -- the sides ---------------------------------------------------------------------------------------
def export_file(name: str, size: tuple[int, int], exporter: str, folder: Path):
    """The fused network (ocseg's inference path) and its exported file."""
    from ocseg.config import compose
    from ocseg.deploy import export
    from ocseg.models import build_model

    torch.manual_seed(0)
    net = build_model(name, 19).eval().fuse_for_inference()
    cfg = compose("network", [f"model={name}", "dataset=cityscapes"])
    start = time.perf_counter()
    result = export(net, folder / f"{name}.onnx", config=cfg, height=size[0], width=size[1], exporter=exporter)
    return net, result, time.perf_counter() - start


def torch_side(net, x: torch.Tensor):
    def run():
        with torch.inference_mode():
            return [v.cpu() for k, v in net(x).items() if k != "aux"]
    return run


_GPU_PROVIDERS = {"onnxruntime-cuda": "CUDAExecutionProvider", "onnxruntime-tensorrt": "TensorrtExecutionProvider"}


def onnxruntime_side(path: Path, x: np.ndarray, threads: int, side: str = "onnxruntime", folder: Path | None = None):
    """ONNX Runtime on the CPU, or (``onnxruntime-cuda`` / ``-tensorrt``) with inputs and outputs
    bound on the GPU; None when the installed build lacks the provider."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if side == "onnxruntime":
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda: session.run(None, {"image": x})
    provider = _GPU_PROVIDERS[side]
    if provider not in ort.get_available_providers():
        return None
    first = (provider, {"trt_fp16_enable": False, "trt_engine_cache_enable": True,
                        "trt_engine_cache_path": str(folder)}) if side == "onnxruntime-tensorrt" else provider
    session = ort.InferenceSession(str(path), options, providers=[first, "CUDAExecutionProvider"])
    binding = session.io_binding()
    binding.bind_ortvalue_input("image", ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0))
    for output in session.get_outputs():
        binding.bind_output(output.name, "cuda")

    def run():
        session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()
    return run


def openvino_side(path: Path, x: np.ndarray, threads: int):
    try:
        import openvino as ov
    except ImportError:
        return None
    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {
        "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()

    def run():
        request.infer({0: x})
        return [request.get_output_tensor(i).data.copy() for i in range(len(compiled.outputs))]
    return run


def _difference(got: list, ref: list[torch.Tensor]) -> float:
    """Largest |side − torch| relative to torch's largest value, over the outputs."""
    worst = 0.0
    for value, expected in zip(got, ref):
        expected = expected.float().numpy()
        worst = max(worst, float(np.abs(np.asarray(value) - expected).max() / np.abs(expected).max()))
    return worst


def compare(name: str, args, folder: Path, peak: float | None) -> dict:
    size = tuple(args.size)
    net, exported, export_s = export_file(name, size, args.exporter, folder)
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(1))
    device = torch.device(args.device)
    sides = {"torch": torch_side(net.to(device), x.to(device))}
    if device.type == "cuda":
        for side in _GPU_PROVIDERS:
            sides[side] = onnxruntime_side(exported.path, x.numpy(), args.threads, side, folder)
    else:
        sides["onnxruntime"] = onnxruntime_side(exported.path, x.numpy(), args.threads)
        sides["openvino"] = openvino_side(exported.path, x.numpy(), args.threads)
    sides = {side: run for side, run in sides.items() if run is not None}
    reference = sides["torch"]()
    onnx_flops = onnx_gflops(exported.path, x.numpy())
    gflops = {side: onnx_flops for side in sides}
    gflops["torch"] = torch_gflops(name, size)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    times = medians(round_robin(sides, args.repeats, warmup=1, sync=sync, clock=CLOCKS[args.clock]))
    row = {"model": name, "size": list(size), "export_s": export_s, "sides": {}}
    for side, seconds in times.items():
        rate = gflops[side] / seconds
        row["sides"][side] = {
            "seconds": seconds, "vs_torch": seconds / times["torch"], "gflops": gflops[side],
            "gflop_per_s": rate, "of_peak": rate / peak if peak else None,
            "max_rel_diff": 0.0 if side == "torch" else _difference(sides[side](), reference)}
    return row


def _print(row: dict) -> None:
    for side, r in row["sides"].items():
        peak = f"{100 * r['of_peak']:5.1f} %" if r["of_peak"] else "    -"
        print(f"{row['model']:18s} {side:12s} {r['seconds']:8.3f} s  ×{r['vs_torch']:5.2f}  "
              f"{r['gflops']:7.1f} GFLOP  {r['gflop_per_s']:6.1f} GFLOP/s  {peak} of peak  "
              f"max diff {r['max_rel_diff']:.1e}", flush=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--size", type=int, nargs=2, default=[256, 512], metavar=("H", "W"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall")
    parser.add_argument("--exporter", choices=["dynamo", "torchscript"], default="dynamo")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda: the ONNX Runtime GPU providers")
    parser.add_argument("--ghz", type=float, default=None, help="the clock for the peak (default: /proc/cpuinfo)")
    parser.add_argument("--lanes", type=int, default=8, help="fp32 lanes per FMA unit (8: 256-bit AVX2)")
    parser.add_argument("--quick", action="store_true", help="64×128, 2 repeats, the torchscript exporter")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.repeats, args.exporter = [64, 128], 2, "torchscript"
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    peak = fp32_peak(args.threads, args.ghz, args.lanes) if args.device == "cpu" else \
        {"gflops": None, "how": "a CPU's only"}
    measured = matmul_rate(CLOCKS[args.clock])
    print(f"{cpu_model()}, {args.threads} thread(s), input 1×3×{args.size[0]}×{args.size[1]}, {args.clock} "
          f"clock, {args.exporter} exporter")
    print(f"fp32 peak {peak['gflops'] or 0:.1f} GFLOP/s ({peak['how']}); a 2048² torch.mm runs at "
          f"{measured:.1f} GFLOP/s")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in [m for m in args.models.split(",") if m]:
            rows.append(compare(name, args, Path(tmp), peak["gflops"]))
            _print(rows[-1])
    result = {"device": cpu_model(), "threads": args.threads, "clock": args.clock, "exporter": args.exporter,
              "peak": peak, "matmul_gflop_per_s": measured, "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
