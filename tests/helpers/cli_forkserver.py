"""Runs ocseg's command-line tools many times without paying their start-up each time.

Importing Lightning takes 10–20 s on a busy 2-core machine; a table of 25 bad-input cases run as
plain subprocesses would spend minutes importing. This process imports the tools' libraries
once, then for each request (one JSON line on stdin: ``tool``, ``args``, ``cwd``, ``stdout``,
``stderr``; optionally ``kill_when``: ``folder``, ``pattern``, ``count``) forks a fresh child
that runs the console script's function (``ocseg.app.cli.<tool>``, exactly what ``ocseg-<tool>``
runs) with ``sys.argv`` set, its stdout/stderr going to the given files, and answers one JSON
line ``{"rc": <exit status>}`` (-9 when ``kill_when`` killed it once that many output files
existed: an interrupted run). The child is a new process, so its
exit code and its stderr are the tool's own; nothing of one run is left for the next.
:class:`ForkServer` is the client (``cli_server`` fixture in ``conftest.py``), used by
``tests/test_bad_input.py`` and ``tests/test_interrupted.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path


def _child(request: dict) -> None:
    for fd, name in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    code = 1
    try:
        import ocseg.app.cli

        os.chdir(request["cwd"])
        sys.argv = [f"ocseg-{request['tool']}", *request["args"]]
        getattr(ocseg.app.cli, request["function"])()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - reported as the interpreter would, exit 1
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, folder: str, pattern: str, count: int) -> int:
    """Wait for the child, killing it (SIGKILL, as a pre-empted job or a power cut would) as
    soon as ``count`` files matching ``pattern`` exist under ``folder``."""
    import glob
    import signal
    import time

    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if len(glob.glob(os.path.join(folder, pattern), recursive=True)) >= count:
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.002)


def main() -> None:
    import lightning.pytorch  # noqa: F401 - the slow imports every child shares
    import torch  # noqa: F401

    import ocseg.app.cli  # noqa: F401
    import ocseg.tasks.evaluate  # noqa: F401
    import ocseg.tasks.predict_offsets  # noqa: F401
    import ocseg.tasks.train  # noqa: F401

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        kill = request.get("kill_when")
        status = _wait(pid, kill["folder"], kill["pattern"], kill["count"]) if kill else os.waitpid(pid, 0)[1]
        print(json.dumps({"rc": os.waitstatus_to_exitcode(status)}), flush=True)


class ForkServer:
    """The client: starts the server and runs one request at a time."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"),
                   OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve())],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def run(self, function: str, args: list[str], cwd: Path, log: Path,
            kill_when: dict | None = None) -> tuple[int, str]:
        request = {"tool": function, "function": function, "args": args, "cwd": str(cwd),
                   "stdout": str(log / "stdout"), "stderr": str(log / "stderr"),
                   "kill_when": kill_when}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        rc = json.loads(self.proc.stdout.readline())["rc"]
        return rc, (log / "stderr").read_text()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


if __name__ == "__main__":
    main()
