"""Every tool checks its options before any work: a value it does not accept is one line
``error: <key>=<value>: <allowed>``, exit code 2, no traceback, and neither the run folder nor
any output exists afterwards. One case per class of mistake (counts, empty lists, wrong types,
globs, choices, mandatory keys, what Hydra's composition refuses), run as a user runs the tool
(the fork server: ``tests/helpers/cli_forkserver.py``). Also: ``ckpt_path=last`` for eval and
predict_offsets, the old spelling of the loader keys, and a missing checkpoint refused before
torch is imported."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.checkpoints import make_checkpoint
from helpers.config import GENERATOR, REPO
from helpers.tool_args import FUNCTIONS, tool_args
from ocseg.app.last_run import newest_last_checkpoint


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("options")
    return {"segmentation": make_checkpoint(base / "tiny.ckpt"),
            "segfix": make_checkpoint(base / "segfix.ckpt", kind="segfix")}


# (tool, the options given after the base (!key: the base's key left out), the whole error line)
CASES = {
    "batch of 0": ("eval", ["data.batch_size=0"], "error: data.batch_size=0: an integer ≥ 1"),
    "0 steps": ("train", ["schedule.max_steps=0"], "error: schedule.max_steps=0: an integer ≥ 1"),
    "negative loader workers": ("train", ["data.num_workers=-1"],
                                "error: data.num_workers=-1: an integer ≥ 0, or null (0: read in the main "
                                "process; null: min(4, CPU cores / devices))"),
    "negative processes": ("refine", ["workers=-2"], "error: workers=-2: an integer ≥ 0, or null (null: all "
                           "cores; 0 or 1: in this process)"),
    "empty scale list": ("eval", ["test.scales=[]"], "error: test.scales=[]: a non-empty list, each a "
                         "number > 0"),
    "text for a number": ("refine", ["scale=abc"], "error: scale=abc: an integer ≥ 1, or null (null: 2 for "
                          "semantic, 1 for instance)"),
    "text for a rate": ("train", ["schedule.lr=abc"], "error: schedule.lr=abc: a number > 0"),
    "a list for a choice": ("predict_offsets", ["format=[mat]"], "error: format=[mat]: one of mat, npz, both"),
    "empty glob": ("refine", ["glob="], "error: glob='': a non-empty pattern relative to the input folder (no "
                   "leading / or ~, no '..'), e.g. **/*.png, or null (null: **/*.png, instance: **/*_pred.txt)"),
    "absolute glob": ("segfix_ground_truth", ["glob=/etc/*.png"], "error: glob=/etc/*.png: a non-empty pattern "
                      "relative to the input folder (no leading / or ~, no '..'), e.g. **/*.png"),
    "glob out of the folder": ("segfix_ground_truth", ["glob=../*/*.png"], "error: glob=../*/*.png: a "
                               "non-empty pattern relative to the input folder (no leading / or ~, no '..'), "
                               "e.g. **/*.png"),
    "unknown format": ("predict_offsets", ["format=tiff"], "error: format=tiff: one of mat, npz, both"),
    "float offsets": ("predict_offsets", ["mat_dtype=float32"], "error: mat_dtype=float32: one of int32, int16, int8"),
    "unknown mode": ("refine", ["mode=panoptic"], "error: mode=panoptic: one of semantic, instance"),
    "unknown kind": ("segfix_ground_truth", ["kind=panoptic"], "error: kind=panoptic: one of semantic, instance"),
    "unknown split": ("eval", ["split=valid"], "error: split=valid: a split of the dataset: one of test, "
                      "train, val"),
    "unknown link": ("prepare", ["link=move"], "error: link=move: one of hardlink, copy, symlink"),
    "unknown exporter": ("export", ["exporter=tflite"], "error: exporter=tflite: one of dynamo, torchscript"),
    "opset of 0": ("export", ["opset=0"], "error: opset=0: an integer ≥ 1, or null (null: the exporter's default)"),
    "mandatory key": ("refine", ["!input"], "error: input=???: required; pass input=<value> "
                      "(--help says what each is)"),
    "mandatory group": ("prepare", ["!dataset"], None),
    "group set to null": ("train", ["data=null"], "error: configuration error: Config group override must be a "
                          "string or a list. Got NoneType (see --help for the options)"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_refused_option_is_one_line_before_any_work(name, cli_server, checkpoints, synthetic_root, tmp_path):
    tool, options, expected = CASES[name]
    case = tmp_path / "case"
    case.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    drop = tuple(f"{o[1:]}=" for o in options if o.startswith("!"))
    args = [a for a in tool_args(tool, case, synthetic_root, checkpoints) if not a.startswith(drop or ("!",))]
    rc, stderr = cli_server.run(FUNCTIONS[tool], [*args, *(o for o in options if not o.startswith("!"))],
                                case, logs)
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert rc == 2, stderr[-3000:]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
    if expected is None:  # prepare without dataset=: the choices
        assert errors[0].startswith("error: dataset=null: required: one of ade20k, cityscapes, "), errors
    else:
        assert errors[0] == expected
    assert "+input" not in errors[0]                                  # no '+key=' for a key that exists
    assert sorted(p.name for p in case.iterdir()) == []              # no run folder, no output


def test_a_missing_checkpoint_is_refused_before_torch_is_imported(tmp_path):
    """The file is checked on the command line, before Hydra composes it and before the task's
    libraries load: the error comes in a fraction of a second (bench/startup.py times it)."""
    code = ("import sys\nsys.argv = ['ocseg-eval', *sys.argv[1:]]\nfrom ocseg.app.cli import evaluate\n"
            "try:\n    evaluate()\nfinally:\n    print('heavy:', sorted(m for m in ('torch', 'lightning') "
            "if m in sys.modules), file=sys.stderr)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    for given in ([f"ckpt_path={tmp_path / 'missing.ckpt'}"], ["ckpt_path=last"]):
        done = subprocess.run([sys.executable, "-c", code, *given, f"paths.log_dir={tmp_path / 'logs'}"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode == 2 and len(errors) == 1, done.stderr
        assert "heavy: []" in done.stderr
    assert errors[0].startswith("error: ckpt_path=last: no segmentation training run with a "
                                f"checkpoints/last.ckpt under '{tmp_path / 'logs' / 'train'}'")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _training_run(logs: Path, name: str, ckpt: Path, task: str, mtime: int) -> Path:
    run = logs / "train" / "runs" / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text(f"task:\n  name: {task}\n")
    target = run / "checkpoints" / "last.ckpt"
    target.parent.mkdir()
    shutil.copy(ckpt, target)
    os.utime(target, (mtime, mtime))
    return target


def test_ckpt_path_last_is_the_newest_training_run_of_the_right_kind(tmp_path, checkpoints):
    logs = tmp_path / "logs"
    old = _training_run(logs, "2026-01-01_00-00-00", checkpoints["segmentation"], "segmentation", 1_000)
    new = _training_run(logs, "2026-01-02_00-00-00", checkpoints["segmentation"], "segmentation", 2_000)
    segfix = _training_run(logs, "2026-01-03_00-00-00", checkpoints["segfix"], "segfix", 3_000)
    assert newest_last_checkpoint(logs, segfix=False) == new != old
    assert newest_last_checkpoint(logs, segfix=True) == segfix
    assert newest_last_checkpoint(tmp_path / "nowhere", segfix=False) is None


def test_eval_with_ckpt_path_last_and_the_old_loader_spelling(cli_server, checkpoints, synthetic_root, tmp_path):
    """``ocseg-eval ckpt_path=last`` evaluates the newest training run's last.ckpt (its model= and
    dataset= completed from the file); ``num_workers=0`` still works, with one warning."""
    logs = tmp_path / "logs"
    last = _training_run(logs, "2026-01-02_00-00-00", checkpoints["segmentation"], "segmentation", 2_000)
    _training_run(logs, "2026-01-03_00-00-00", checkpoints["segfix"], "segfix", 3_000)
    out = tmp_path / "eval"
    args = ["ckpt_path=last", f"paths.log_dir={logs}", f"dataset.root={synthetic_root}", f"output_dir={out}",
            "num_workers=0", "trainer.enable_progress_bar=false", *GENERATOR, f"hydra.run.dir={tmp_path / 'run'}"]
    (tmp_path / "console").mkdir()
    rc, stderr = cli_server.run("evaluate", args, tmp_path, tmp_path / "console")
    stdout = (tmp_path / "console" / "stdout").read_text()
    assert rc == 0, stderr[-3000:]
    assert f"ckpt_path=last: {last} (the newest segmentation training run's last.ckpt)" in stdout
    warnings = [line for line in stderr.splitlines() if line.startswith("warning: num_workers=")]
    assert warnings == ["warning: num_workers= is now data.num_workers= (one spelling in every tool); the old "
                        "spelling will be removed in a later release"]
    assert len(list((out / "label").glob("*.png"))) == 4
    overrides = (tmp_path / "run" / ".hydra" / "overrides.yaml").read_text()
    assert f"ckpt_path={last}" in overrides and "data.num_workers=0" in overrides


_VAL_IMAGE = "testopolis_000000_000019"   # the first val image of the tiny synthetic dataset


@pytest.mark.parametrize("tool,options,stem,expected", [
    ("eval", ["test.mode=sliding"], "photo", "error: test.mode=sliding needs a window size: set "
     "test.crop_size=[H,W] (or use test=sliding, which takes the dataset's)"),
    ("eval", ["test.scale_weights=[1.0,1.0]"], "photo", "error: test.scale_weights has 2 weights for 1 "
     "test.scales; give one weight per scale"),
    ("refine", ["split=val"], "photo", "error: no input under '{preds}' matches a ground-truth label of the "
     "split to score against; the prediction file names must contain the image names (check split= and "
     "dataset=, or leave split= out)"),
    ("refine", ["split=val"], _VAL_IMAGE, "error: ground truth '{root}/gtFine/val/testopolis/" + _VAL_IMAGE +
     "_gtFine_labelIds.png' is 128×64 but prediction '{preds}/" + _VAL_IMAGE + ".png' is 8×8; score "
     "predictions of the split's own images (check split=, dataset= and dataset.root=)"),
])
def test_values_that_only_fail_together_are_one_line_before_any_output(tool, options, stem, expected, cli_server,
                                                                        checkpoints, synthetic_root, tmp_path):
    """Found by tests/test_options_properties.py: each value is accepted alone, the combination is
    refused by the task before its first output (refine used to refine files first, then stop at
    the first one without, or with a wrong-sized, ground truth)."""
    import numpy as np

    from helpers.data_fakes import write_png
    from ocseg.segfix.offsets.files import write_offsets

    preds, offsets = tmp_path / "preds", tmp_path / "offsets"
    write_png(preds / f"{stem}.png", np.full((8, 8), 7, np.uint8))
    write_offsets(offsets / f"{stem}.mat", np.zeros((8, 8, 2), np.int8))
    case = tmp_path / "case"
    case.mkdir()
    args = [*tool_args(tool, case, synthetic_root, checkpoints, preds, offsets), *options,
            f"dataset.root={synthetic_root}"]
    rc, stderr = cli_server.run(FUNCTIONS[tool], args, case, tmp_path)
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert rc == 2 and "Traceback" not in stderr, stderr[-3000:]
    assert errors == [expected.format(preds=preds, root=synthetic_root)]
    assert not (case / "out").exists() or not [p for p in (case / "out").rglob("*") if p.is_file()]


def test_a_value_known_only_when_the_run_starts_is_not_refused_before(tmp_path):
    """eval's output_dir is ${paths.output_dir} → ${hydra:runtime.output_dir}: before the run it
    reads None whenever Hydra's config of an earlier run is still set (as the compose helper
    leaves it); the check leaves it to the run. A null given on the command line is refused."""
    from hydra.core.hydra_config import HydraConfig

    from helpers.config import compose
    from ocseg.app.validation import OptionError, validate

    ckpt = tmp_path / "x.ckpt"
    ckpt.write_bytes(b"x")
    cfg = compose("eval", [f"ckpt_path={ckpt}"])
    assert HydraConfig.initialized() and cfg.output_dir is None     # what the check would have seen
    validate("eval", cfg)
    with pytest.raises(OptionError, match=r"^output_dir=null: required"):
        validate("eval", compose("eval", [f"ckpt_path={ckpt}", "output_dir=null"]))
