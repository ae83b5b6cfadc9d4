"""A pipeline of tool runs in fixed folders: skip what is finished, resume what was interrupted.

A :class:`Stage` is one command of an ocseg tool (``python train.py …``, ``eval.py``,
``predict_offsets.py``, ``refine.py``, or the submission packer) that runs in its own folder
(``hydra.run.dir=<runs>/<stage>``). When its command exits 0 the runner writes ``<folder>/DONE``
(atomically), and a later run of the pipeline skips it. A training stage that has no ``DONE`` but
a ``checkpoints/last.ckpt`` was interrupted: it is run again with ``ckpt_path=`` that file, so it
continues at its saved step. Everything a stage reads from an earlier one is a fixed path in that
stage's folder, so a pipeline is a plain list of commands that :func:`plan` can print without
running anything (``DRY_RUN=1``).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from ocseg.app.console import restored_root_logging
from ocseg.errors import OcsegError
from ocseg.io.atomic import write_json

__all__ = ["Stage", "Step", "plan", "run_pipeline", "subprocess_executor", "in_process_executor",
           "run_in_process", "DONE", "TOOLS"]

DONE = "DONE"
# tool → what a user types (the repository's shims; the submission packer is a module)
TOOLS = {
    "train": ["train.py"],
    "eval": ["eval.py"],
    "predict_offsets": ["predict_offsets.py"],
    "refine": ["refine.py"],
    "submission": ["-m", "ocseg.reproduce.submission"],
}


@dataclass(frozen=True)
class Stage:
    """One command of a pipeline.

    Args:
        name: the stage's folder name under the pipeline's runs folder (and its label).
        tool: a key of :data:`TOOLS`.
        args: the command's arguments (Hydra overrides for the tools).
        folder: where it runs and writes (the tools get ``hydra.run.dir=<folder>``).
        what: one line saying what the stage does (printed before it).
        output: the file a finished stage leaves, when it is not ``<folder>/DONE`` (the
            submission zip).
        needs: the names of the earlier stages whose results it reads.
    """

    name: str
    tool: str
    args: tuple[str, ...]
    folder: Path
    what: str
    output: Path | None = None
    needs: tuple[str, ...] = ()

    @property
    def done_file(self) -> Path:
        return self.output if self.output is not None else self.folder / DONE

    @property
    def last_checkpoint(self) -> Path:
        return self.folder / "checkpoints" / "last.ckpt"

    def is_done(self) -> bool:
        return self.done_file.is_file()


@dataclass(frozen=True)
class Step:
    """A stage as it will run now: ``state`` is ``done`` (skipped), ``resume`` (a training stage
    continuing from its ``last.ckpt``) or ``run``; ``args`` are the arguments to run it with."""

    stage: Stage
    state: str
    args: tuple[str, ...] = field(default=())

    def argv(self, python: str = "python") -> list[str]:
        return [python, *TOOLS[self.stage.tool], *self.args]

    def command(self) -> str:
        """The command line as a user would type it (``python train.py …``)."""
        return shlex.join(self.argv())


def plan(stages: Sequence[Stage]) -> list[Step]:
    """What each stage will do now. A finished stage that needs an unfinished one holds results
    of an older run of that stage: that is refused (delete it to redo it)."""
    steps, pending = [], {}
    for stage in stages:
        if stage.is_done():
            stale = [pending[n] for n in stage.needs if n in pending]
            if stale:
                raise OcsegError(
                    f"stage {stage.name} is finished but {stale[0].name}, whose results it uses, is "
                    f"not, so they came from an older {stale[0].name}; delete '{stage.folder}' (and "
                    f"the folders of the stages that use it) to redo it, or restore "
                    f"'{stale[0].done_file}'")
            steps.append(Step(stage, "done", stage.args))
            continue
        pending[stage.name] = stage
        if stage.tool == "train" and stage.last_checkpoint.is_file():
            steps.append(Step(stage, "resume", (*stage.args, f"ckpt_path={stage.last_checkpoint}")))
        else:
            steps.append(Step(stage, "run", stage.args))
    return steps


Executor = Callable[[Step], int]


def subprocess_executor(cwd: str | Path, python: str = sys.executable) -> Executor:
    """Run each step as its own process from ``cwd`` (the repository, where the tool shims are)."""

    def execute(step: Step) -> int:
        return subprocess.run(step.argv(python), cwd=cwd).returncode

    return execute


def run_in_process(tool: str, args: Sequence[str]) -> int:
    """Run ``tool`` (a key of :data:`TOOLS`) with ``args`` as its command line in this process —
    the same Hydra app as ``python <tool>.py <args>`` — and return its exit code. Hydra's global
    state and the logging setup it changes are put back afterwards (for tests)."""
    from hydra.core.global_hydra import GlobalHydra

    from ocseg.app import cli
    from ocseg.reproduce import submission

    entry = {"train": cli.train, "eval": cli.evaluate, "predict_offsets": cli.predict_offsets,
             "refine": cli.refine, "submission": submission.main}[tool]
    argv = sys.argv
    sys.argv = [TOOLS[tool][-1], *args]
    try:
        with restored_root_logging():
            entry()
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()


def in_process_executor() -> Executor:
    """Run each step's tool in this process (:func:`run_in_process`): the same Hydra apps and
    arguments without a Python start-up per stage, for tests."""
    return lambda step: run_in_process(step.stage.tool, step.args)


def _say(text: str) -> None:
    print(text, flush=True)


def run_pipeline(title: str, stages: Sequence[Stage], execute: Executor | None,
                 say: Callable[[str], None] = _say,
                 missing: Mapping[str, Sequence[str]] | None = None) -> list[Step]:
    """Print every step; run the pending ones in order with ``execute`` (None: print only, the
    ``DRY_RUN``, where ``missing`` — stage name → its missing inputs — marks the stages that
    cannot run yet and lists what they lack). A failing stage stops the pipeline with one error
    naming it."""
    steps = plan(stages)
    missing = missing or {}
    say(f"# {title}: {len(steps)} stages" + ("" if execute else " (dry run: nothing is executed)"))
    for number, step in enumerate(steps, 1):
        stage = step.stage
        status = {"done": "finished, skipped", "resume": f"resumes from {stage.last_checkpoint}",
                  "run": "runs"}[step.state]
        lacking = missing.get(stage.name, ()) if step.state != "done" else ()
        if lacking:
            status = f"cannot run: {len(lacking)} input(s) missing"
        say(f"\n# {number}/{len(steps)} {stage.name}: {stage.what} [{status}]")
        say(step.command())
        for item in lacking:
            say(f"#   missing {item}")
        if execute is None or step.state == "done":
            continue
        stage.folder.mkdir(parents=True, exist_ok=True)
        start = time.time()
        code = execute(step)
        if code != 0:
            raise OcsegError(
                f"stage {stage.name} failed (exit code {code}); its log is in '{stage.folder}'. Fix "
                "the cause and run the same command again: finished stages are skipped and a "
                "training stage resumes from its checkpoints/last.ckpt")
        if stage.output is None:
            write_json(stage.done_file, {"stage": stage.name, "command": step.command(),
                                         "seconds": round(time.time() - start, 1),
                                         "finished": time.strftime("%Y-%m-%d %H:%M:%S")})
        elif not stage.output.is_file():
            raise OcsegError(f"stage {stage.name} exited 0 but did not write '{stage.output}'")
    return steps
