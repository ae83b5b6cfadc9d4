"""The benchmark harness: every bench script in turn, one merged JSON, one summary table.

    python bench/run.py --quick              # make bench-quick: minutes on a CPU
    python bench/run.py                      # make bench: the full sizes (an hour or more on 2 cores)
    python bench/run.py --original-repo /tmp/openseg --mmseg /tmp/mmseg-venv   # models side by side

Each script runs as its own process with ``--json <file>`` (and ``--quick``); its JSON becomes one
section of ``bench/results/<device>.json`` (``cpu-<model>-<n>cores`` or the GPU's name). A script
that is missing, or fails, leaves ``{"error": ...}`` in its section and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# section → (script, extra arguments for the full run, extra arguments for --quick)
SECTIONS = {
    "models": ("models.py", ["--compare", "--threads", "2"], ["--compare", "--threads", "2"]),
    "losses": ("losses.py", [], []),
    "eval": ("eval.py", ["--images", "1"], []),
    "segfix": ("segfix.py", [], []),
    "data": ("data.py", [], []),
    "startup": ("startup.py", [], []),
    "runtimes": ("runtimes.py", ["--threads", "1", "--clock", "cpu"], []),
    "segfix_targets": ("segfix_targets.py", [], []),
    "validation": ("validation.py", [], []),
}


def run_section(name: str, args, tmp: Path) -> dict:
    script, full, quick = SECTIONS[name]
    path = BENCH / script
    if not path.is_file():
        return {"error": f"bench/{script} does not exist (yet)"}
    out = tmp / f"{name}.json"
    cmd = [sys.executable, str(path), *(quick + ["--quick"] if args.quick else full), "--json", str(out)]
    if name == "models":
        cmd += ["--original-repo", args.original_repo] if args.original_repo else []
        cmd += ["--mmseg", args.mmseg] if args.mmseg else []
    print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not out.is_file():
        return {"error": f"bench/{script} exited {done.returncode} without writing its JSON "
                         "(does it take --json/--quick?)", "seconds": seconds}
    return {**json.loads(out.read_text()), "seconds": seconds}


def summary(result: dict) -> str:
    """One line per measured figure that the sections share a shape for; errors as they are."""
    lines = [f"\n{result['device']} — {'quick' if result['quick'] else 'full'} run"]
    for name, section in result["sections"].items():
        if "error" in section:
            lines.append(f"{name:8s} {section['error']}")
            continue
        if name == "models":
            for row in section.get("compare", []):
                ratios = ", ".join(f"{k} {v:.2f}" for k, v in row["ratios"].items() if v is not None)
                lines.append(f"models   {row['model']} {row['workload']} {'×'.join(map(str, row['input']))}: {ratios}")
        elif name == "losses":
            for row in section["losses"]:
                lines.append(f"losses   {row['loss']}: {row['median_ms']:.0f} ms")
            if section.get("rmi_over_ce"):
                lines.append(f"losses   RMI / CE time: {section['rmi_over_ce']:.2f}")
        elif name == "eval":
            for row in section["modes"]:
                lines.append(f"eval     {section['model']} {row['mode']}: {row['seconds_per_image']:.2f} s/image "
                             f"({row['passes_per_image']:.0f} passes)")
        elif name == "runtimes":
            for row in section["rows"]:
                sides = ", ".join(f"{side} ×{r['vs_torch']:.2f} ({r['gflop_per_s']:.0f} GFLOP/s)"
                                  for side, r in row["sides"].items())
                lines.append(f"runtimes {row['model']} {'×'.join(map(str, row['size']))}: {sides}")
        elif name == "startup":
            for row in section["startup"]:
                lines.append(f"startup  {row['command']}: {row['seconds']:.2f} s "
                             f"({row['vs_import_torch']:.2f}× import torch)")
        else:
            lines.append(f"{name:8s} done in {section['seconds']:.0f} s (see the JSON)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (minutes)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset")
    parser.add_argument("--original-repo", default=None, help="passed to bench/models.py")
    parser.add_argument("--mmseg", default=None, help="passed to bench/models.py")
    parser.add_argument("--out", default=str(BENCH / "results"), help="folder of the merged JSON")
    args = parser.parse_args(argv)
    names = [n for n in args.sections.split(",") if n]
    unknown = set(names) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown --sections {sorted(unknown)}; use {','.join(SECTIONS)}")
    sys.path.insert(0, str(BENCH))
    import torch

    from models import device_name

    device = device_name(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    result = {"device": device, "quick": args.quick, "torch": torch.__version__, "sections": {}}
    target = Path(args.out) / f"{device}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            result["sections"][name] = run_section(name, args, Path(tmp))
            partial = target.with_suffix(".json.tmp")
            partial.write_text(json.dumps(result, indent=1))
            os.replace(partial, target)
    print(summary(result))
    print(f"\nwritten: {target}")
    return target


if __name__ == "__main__":
    main()
