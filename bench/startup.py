"""Tool start-up: wall time of each tool's ``--help`` as a fresh process, and of the error for a
checkpoint that does not exist (refused before torch is imported), against
``python -c "import torch"`` (the floor a tool that loads a network pays).

    python bench/startup.py [--repeats 5] [--quick] [--json out.json]

Round-robin over the commands, median per command; the ratio is to ``import torch``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import medians, ratio, round_robin  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_CLI = "import sys; from ocseg.app import cli; sys.argv[0] = 'ocseg-{0}'; cli.{1}()"
# command → (arguments of python, the exit code it must end with)
COMMANDS = {
    "import torch": (["-c", "import torch"], 0),
    "train.py --help": (["train.py", "--help"], 0),
    "eval.py --help": (["eval.py", "--help"], 0),
    "refine.py --help": (["refine.py", "--help"], 0),
    "predict_offsets.py --help": (["predict_offsets.py", "--help"], 0),
    "ocseg-prepare --help": (["-c", _CLI.format("prepare", "prepare"), "--help"], 0),
    "ocseg-segfix-gt --help": (["-c", _CLI.format("segfix-gt", "segfix_ground_truth"), "--help"], 0),
    "eval.py ckpt_path=<missing>": (["eval.py", "ckpt_path=no_such_file.ckpt"], 2),
}


def run(args: list[str], code: int) -> None:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != code:
        raise SystemExit(f"error: {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-300:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per command (5; --quick 3)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    times = round_robin({name: (lambda a=a, c=c: run(a, c)) for name, (a, c) in COMMANDS.items()},
                        repeats, warmup=1)
    med = medians(times)
    rows = [{"command": name, "seconds": med[name], "vs_import_torch": ratio(med[name], med["import torch"])}
            for name in COMMANDS]
    print(f"{'command':34s} {'median s':>9s} {'× import torch':>15s}  (median of {repeats}, round-robin)")
    for row in rows:
        print(f"{row['command']:34s} {row['seconds']:9.2f} {row['vs_import_torch']:15.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"repeats": repeats, "startup": rows}, indent=1))


if __name__ == "__main__":
    main()
