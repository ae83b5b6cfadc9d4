"""The benchmark harness's CPU-side logic: the GPU benchmark on tiny sizes, and the merged JSON
of ``bench/run.py`` when a section's script is missing. (Timings themselves are never asserted.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))


def test_gpu_benchmark_logic_runs_on_cpu_with_tiny_sizes(tmp_path, single_thread, bench_on_path, capsys):
    import gpu

    out = tmp_path / "gpu.json"
    result = gpu.main(["--device", "cpu", "--tiny", "--models", "tiny_fcn", "--dtypes", "fp32,bf16",
                       "--steps", "1", "--images", "1", "--json", str(out)])
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(result))
    assert [(r["model"], r["dtype"]) for r in written["train"]] == [("tiny_fcn", "fp32"), ("tiny_fcn", "bf16")]
    assert all(r["img_s"] > 0 and r["batch"] == 2 and r["crop"] == [64, 128] for r in written["train"])
    assert [(r["dtype"], r["compile"]) for r in written["infer"]] == [("fp32", False), ("bf16", False)]
    assert all(r["fps"] > 0 and r["size"] == [128, 256] for r in written["infer"])
    table = capsys.readouterr().out
    assert "| tiny_fcn | fp32 |" in table and "| tiny_fcn | bf16 |" in table


def test_gpu_benchmark_refuses_cuda_without_a_gpu(bench_on_path):
    import torch

    import gpu

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit, match="no CUDA device"):
        gpu.main(["--device", "cuda"])


def test_harness_records_a_missing_script_and_still_writes_the_json(tmp_path, bench_on_path, monkeypatch):
    import run

    monkeypatch.setitem(run.SECTIONS, "absent", ("no_such_bench.py", [], []))
    target = run.main(["--quick", "--sections", "absent", "--out", str(tmp_path)])
    result = json.loads(target.read_text())
    assert target.parent == tmp_path and target.name == f"{result['device']}.json"
    assert result["quick"] is True
    assert "does not exist" in result["sections"]["absent"]["error"]
    assert "absent" in run.summary(result)


def test_round_robin_times_with_the_given_clock_in_rotating_order(bench_on_path):
    import timing

    ticks, calls = iter(range(100)), []
    fns = {name: (lambda n=name: calls.append(n)) for name in ("a", "b", "c")}
    times = timing.round_robin(fns, repeats=3, warmup=1, clock=lambda: float(next(ticks)))
    # every call reads the clock twice, consecutively: each timed call lasts one tick
    assert times == {"a": [1.0] * 3, "b": [1.0] * 3, "c": [1.0] * 3}
    # warm-up starts at the last contender, then each round starts one further on
    assert calls == ["c", "a", "b", "a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert set(timing.CLOCKS) == {"wall", "cpu"}


@pytest.mark.slow
def test_runtime_comparison_on_a_small_model(bench_on_path, single_thread):
    """bench/runtimes.py end to end on the small OCR model: the sides agree, the ONNX file's FLOPs are
    counted as torch counts them (OCR computes its aux output: nothing is pruned), and the peak
    comes from a measured clock."""
    pytest.importorskip("onnxruntime")
    import runtimes

    result = runtimes.main(["--quick", "--models", "hrnet18_small_ocr", "--repeats", "1"])
    (row,) = result["rows"]
    assert {"torch", "onnxruntime"} <= set(row["sides"])
    torch_side, onnx_side = row["sides"]["torch"], row["sides"]["onnxruntime"]
    assert onnx_side["max_rel_diff"] <= 1e-4 and onnx_side["seconds"] > 0
    assert onnx_side["gflops"] == pytest.approx(torch_side["gflops"], rel=1e-6)
    peak = result["peak"]
    assert 0.3 < peak["ghz"] < 10 and peak["gflops"] == pytest.approx(32 * peak["ghz"])
