"""``make reproduce-cityscapes`` / ``-val``: the commands of every stage, skipping and resuming,
the submission zip, and both pipelines end to end on the tiny generated data (``REPRO_TINY``).

The end-to-end test runs each stage's tool in this process (the same Hydra apps and arguments
as the subprocesses of a real run, without a Python start-up per stage); one real subprocess
run of the script is the dry run below.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers.config import REPO
from ocseg.errors import OcsegError
from ocseg.reproduce import stages as stages_mod
from ocseg.reproduce.cityscapes import LEADERBOARD, SEGFIX, Settings, leaderboard_stages, val_stages

SCRIPT = REPO / "scripts" / "reproduce_cityscapes.py"


def _script():
    spec = importlib.util.spec_from_file_location("reproduce_cityscapes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commands(text: str, tool: str) -> list[list[str]]:
    return [line.split()[2:] for line in text.splitlines() if line.startswith(f"python {tool} ")]


def _value(args: list[str], key: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in args if a.startswith(f"{key}=")]
    return value


def test_dry_run_prints_every_stage_and_runs_nothing(tmp_path):
    runs = tmp_path / "runs"
    out = subprocess.run([sys.executable, str(SCRIPT), "leaderboard", "--dry-run", "--data=/d",
                          "--gpus=4", f"--runs={runs}", "trainer.precision=bf16-mixed"],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    train = _commands(out, "train.py")
    # the four leaderboard stages, then the SegFix model: one `python train.py` line each
    assert [_value(a, "experiment") for a in train] == [*LEADERBOARD, SEGFIX]
    for args in train:
        assert {"paths.data_dir=/d", "trainer=ddp", "trainer.devices=4",
                "trainer.precision=bf16-mixed"} <= set(args)
        assert _value(args, "hydra.run.dir") == str(runs / _value(args, "experiment"))
    # each stage starts from the previous stage's last.ckpt, found in its fixed folder
    assert not any(a.startswith("init_from=") for a in train[0])
    for before, after in zip(train[:3], train[1:4]):
        assert _value(after, "init_from") == f"{_value(before, 'hydra.run.dir')}/checkpoints/last.ckpt"
    (test,) = _commands(out, "eval.py")
    assert {"split=test", "test=ms", f"experiment={LEADERBOARD[3]}",
            f"ckpt_path={runs / LEADERBOARD[3]}/checkpoints/last.ckpt"} <= set(test)
    (offsets,) = _commands(out, "predict_offsets.py")
    assert _value(offsets, "ckpt_path") == f"{runs / SEGFIX}/checkpoints/last.ckpt"
    (refine,) = _commands(out, "refine.py")
    assert _value(refine, "input") == f"{runs}/test_ms/label"
    assert _value(refine, "offsets") == f"{runs}/segfix_offsets_test"
    assert f"--output={runs}/cityscapes_test_submission.zip" in out
    assert not runs.exists()
    # every stage is listed; those whose inputs are missing say so, and what they lack
    assert out.count("[runs]") == 3 and out.count("[cannot run: ") == 6
    assert "#   missing dataset.root (dataset=mapillary): '/d/mapillary'" in out
    assert "#   missing test images: '/d/cityscapes/leftImg8bit/test'" in out
    assert "input(s) missing, listed under their stages above: set DATA=" in out


def test_offsets_and_checkpoints_given_replace_their_stages(tmp_path):
    base = Settings(runs=tmp_path, gpus=1)
    names = [s.name for s in leaderboard_stages(base)]
    assert names[:5] == [*LEADERBOARD, SEGFIX]
    given = Settings(runs=tmp_path, gpus=1, segfix_ckpt=Path("segfix.pth"),
                     mapillary_ckpt=Path("mapillary.pth"))
    stages = leaderboard_stages(given)
    assert [s.name for s in stages][:3] == list(LEADERBOARD[1:])
    assert "init_from=mapillary.pth" in stages[0].args and "trainer=gpu" in stages[0].args
    (predict,) = [s for s in stages if s.tool == "predict_offsets"]
    assert {"ckpt_path=segfix.pth", "model=segfix_hrnet2x20"} <= set(predict.args)
    zipped = Settings(runs=tmp_path, gpus=0, offsets=Path("offset_semantic.zip"))
    val = val_stages(zipped)
    assert [s.tool for s in val] == ["train", "eval", "refine"]
    assert {"offsets=offset_semantic.zip", "split=val", "trainer=cpu"} <= set(val[-1].args) | set(val[0].args)


def test_makefile_passes_the_variables_to_the_script():
    out = subprocess.run(["make", "-n", "reproduce-cityscapes", "DRY_RUN=1", "DATA=/d", "GPUS=2",
                          "RUNS=/r", "OFFSETS=o.zip", "ARGS=seed=1"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    (line,) = [ln for ln in out.splitlines() if "reproduce_cityscapes.py" in ln]
    assert line.split()[1:] == ["scripts/reproduce_cityscapes.py", "leaderboard", "--data=/d",
                                "--gpus=2", "--runs=/r", "--offsets=o.zip",
                                "--dry-run", "seed=1"]


def test_finished_stages_are_skipped_and_an_interrupted_one_resumes(tmp_path):
    stages = leaderboard_stages(Settings(runs=tmp_path, gpus=0))
    first, second = stages[0], stages[1]
    for stage, files in ((first, ["DONE", "checkpoints/last.ckpt"]), (second, ["checkpoints/last.ckpt"])):
        for name in files:
            (stage.folder / name).parent.mkdir(parents=True, exist_ok=True)
            (stage.folder / name).write_text("x")
    steps = stages_mod.plan(stages)
    assert [s.state for s in steps[:3]] == ["done", "resume", "run"]
    assert steps[1].args[-1] == f"ckpt_path={second.last_checkpoint}"
    assert not any(a.startswith("ckpt_path=") for a in steps[2].args)
    # a finished stage whose input stage is not finished holds stale results: refused
    (stages[2].folder / "DONE").parent.mkdir(parents=True)
    (stages[2].folder / "DONE").write_text("x")
    with pytest.raises(OcsegError, match=rf"stage {stages[2].name} is finished but {second.name}"):
        stages_mod.plan(stages)
    # the SegFix model does not depend on the segmentation stages
    (stages[2].folder / "DONE").unlink()
    segfix = next(s for s in stages if s.name == SEGFIX)
    segfix.folder.mkdir()
    (segfix.folder / "DONE").write_text("x")
    assert stages_mod.plan(stages)[4].state == "done"


def test_a_failing_stage_stops_with_one_message(tmp_path):
    stages = val_stages(Settings(runs=tmp_path, gpus=0, offsets=tmp_path / "o.zip"))
    with pytest.raises(OcsegError, match=r"stage cityscapes_hrnet48_ocr failed \(exit code 2\).*resumes"):
        stages_mod.run_pipeline("t", stages, lambda step: 2, say=lambda text: None)
    assert not (stages[0].folder / "DONE").exists()


def test_submission_checks_one_full_size_label_per_test_image(tmp_path):
    from ocseg.io.atomic import write_png
    from ocseg.reproduce.submission import make_submission

    images, labels = tmp_path / "leftImg8bit" / "test", tmp_path / "label"
    for city, frame in (("berlin", 19), ("bonn", 20)):
        write_png(images / city / f"{city}_000000_{frame:06d}_leftImg8bit.png", np.zeros((4, 6, 3), np.uint8))
    write_png(labels / "berlin_000000_000019_leftImg8bit.png", np.full((4, 6), 7, np.uint8))
    with pytest.raises(OcsegError, match=r"1 of 2 test images have no label file.*bonn_000000_000020"):
        make_submission(labels, images, tmp_path / "s.zip")
    write_png(labels / "bonn_000000_000020_leftImg8bit.png", np.full((2, 3), 7, np.uint8))
    with pytest.raises(OcsegError, match=r"is 2×3 but its image is 4×6"):
        make_submission(labels, images, tmp_path / "s.zip")
    write_png(labels / "bonn_000000_000020_leftImg8bit.png", np.full((4, 6), 26, np.uint8))
    assert make_submission(labels, images, tmp_path / "s.zip")["files"] == 2
    assert zipfile.ZipFile(tmp_path / "s.zip").namelist() == [
        "berlin_000000_000019_leftImg8bit.png", "bonn_000000_000020_leftImg8bit.png"]
    assert not list(tmp_path.glob(".s.zip*"))


# -- end to end ----------------------------------------------------------------------------------

def _log(stage_folder: Path) -> str:
    return (stage_folder / "train.log").read_text()


def _state(ckpt: Path) -> dict:
    from ocseg.checkpoints import read_checkpoint

    return read_checkpoint(ckpt)["state_dict"]


@pytest.mark.slow
def test_tiny_pipelines_end_to_end(tmp_path, single_thread, capsys, recwarn):
    script = _script()
    runs = tmp_path / "leaderboard"
    steps = script.main(["leaderboard", "--tiny", f"--runs={runs}"],
                        execute=stages_mod.in_process_executor())
    assert [s.state for s in steps] == ["run"] * 9
    assert all(s.stage.is_done() for s in steps)
    captured = capsys.readouterr()
    printed = captured.out
    assert len(re.findall(r"^python train\.py ", printed, re.M)) == 5
    # quiet (issue 22): Lightning greets each of the 7 tools that run a trainer once, neither the
    # limit_val_batches echo nor the log-interval warning appears, the 65-class table lists only
    # the classes with a score
    console = printed + captured.err
    assert console.count("GPU available:") == 7
    assert not any(noise in console for noise in ("was configured so", "FLOPs", "Trainer.fit` stopped"))
    assert not [w for w in recwarn if "logging interval" in str(w.message)]
    assert re.search(r"^\d+ of 65 classes are in neither ground truth nor prediction", console, re.M)
    folders = {s.stage.name: s.stage.folder for s in steps}

    # chaining: each stage loaded the previous stage's last.ckpt; 65 → 19 classes re-initialise
    # exactly the two classifiers
    previous = {LEADERBOARD[i + 1]: LEADERBOARD[i] for i in range(3)}
    for name, before in previous.items():
        line = next(ln for ln in _log(folders[name]).splitlines() if "init_from=" in ln)
        assert f"init_from='{folders[before]}/checkpoints/last.ckpt'" in line
        skipped = ["head.aux.cls.bias", "head.aux.cls.weight", "head.cls.bias", "head.cls.weight"]
        if name == LEADERBOARD[1]:
            assert "4 keep their fresh initialisation" in line and all(k in line for k in skipped)
        else:
            assert re.search(r": (\d+)/\1 tensors loaded", line), line
    # stage 3 trains with the BatchNorm statistics frozen (MODEL_ZOO.md's "freezing the BN
    # statistics"): its running statistics are stage 2's, bit for bit, while the BN weights and
    # its convolutions moved on
    stage2 = _state(folders[LEADERBOARD[1]] / "checkpoints" / "last.ckpt")
    stage3 = _state(folders[LEADERBOARD[2]] / "checkpoints" / "last.ckpt")
    bn = [k for k in stage3 if k.endswith(("running_mean", "running_var"))]
    assert bn and all(np.array_equal(stage3[k].numpy(), stage2[k].numpy()) for k in bn)
    bn_weights = [k[: -len("running_mean")] + "weight" for k in bn if k.endswith("running_mean")]
    assert any(not np.array_equal(stage3[k].numpy(), stage2[k].numpy()) for k in bn_weights)
    assert any(not np.array_equal(stage3[k].numpy(), stage2[k].numpy())
               for k in stage3 if k.endswith("conv1.weight"))

    # the submission: one label-id PNG per test image, named as the benchmark expects
    data = runs / "data" / "cityscapes"
    tests = sorted(p.name for p in (data / "leftImg8bit" / "test").rglob("*_leftImg8bit.png"))
    archive = zipfile.ZipFile(runs / "cityscapes_test_submission.zip")
    assert sorted(archive.namelist()) == tests and len(tests) == 2
    import cv2

    from ocseg.data.cityscapes import CITYSCAPES_TRAIN_IDS

    for name in tests:
        label = cv2.imdecode(np.frombuffer(archive.read(name), np.uint8), cv2.IMREAD_UNCHANGED)
        assert label.shape == (64, 128) and set(np.unique(label)) <= set(CITYSCAPES_TRAIN_IDS)
    refine = json.loads((folders["test_ms_segfix"] / "metrics.json").read_text())
    assert refine["files"] == 2 and refine["refined"] == 2

    # running it again skips every stage; without its DONE the refinement runs again
    ran = []
    again = script.main(["leaderboard", "--tiny", f"--runs={runs}"], execute=ran.append)
    assert [s.state for s in again] == ["done"] * 9 and ran == []

    # the val row on the same data with the SegFix model above: scored before and after
    val_runs = tmp_path / "val"
    shutil.copytree(runs / "data", val_runs / "data")
    segfix = folders[SEGFIX] / "checkpoints" / "last.ckpt"
    steps = script.main(["val", "--tiny", f"--runs={val_runs}", f"--segfix-ckpt={segfix}"],
                        execute=stages_mod.in_process_executor())
    assert [s.stage.name for s in steps] == ["cityscapes_hrnet48_ocr", "val_ss", "segfix_offsets_val",
                                             "val_ss_segfix"]
    plain = json.loads((val_runs / "val_ss" / "metrics.json").read_text())
    segfixed = json.loads((val_runs / "val_ss_segfix" / "metrics.json").read_text())
    assert segfixed["num_images"] == 2
    assert segfixed["segfix"]["unrefined"]["mIoU"] == pytest.approx(plain["mIoU"], abs=1e-3)
    assert f"Cityscapes val mIoU: {plain['mIoU']} single scale (original 81.09)" in (out := capsys.readouterr().out)
    assert f"{segfixed['mIoU']} w/ SegFix" in out


def test_missing_inputs_stop_the_pipeline_before_it_starts(tmp_path):
    from ocseg.reproduce.preflight import check_inputs, missing_inputs

    settings = Settings(runs=tmp_path / "runs", data=tmp_path / "data", pretrained=tmp_path / "models",
                        gpus=0, offsets=tmp_path / "offset_semantic.zip")
    steps = stages_mod.plan(val_stages(settings))
    missing = missing_inputs(steps, settings.runs)
    assert [(m.stage, m.what.split(" ")[0]) for m in missing] == [
        ("cityscapes_hrnet48_ocr", "ImageNet"), ("cityscapes_hrnet48_ocr", "dataset.root"),
        ("val_ss_segfix", "offsets")]
    assert missing[0].path == f"{tmp_path / 'models'}/hrnetv2_w48_imagenet_pretrained.pth"
    assert missing[1].path == f"{tmp_path / 'data'}/cityscapes"
    with pytest.raises(OcsegError) as error:
        check_inputs(steps, settings.runs)
    message = str(error.value)   # short: the count, the paths, where the full list is
    assert message.startswith("the pipeline cannot start: 3 input(s) are missing")
    assert all(f"'{m.path}'" in message for m in missing) and "DRY_RUN=1" in message
    assert len(message) - sum(len(m.path) for m in missing) < 300
    # checkpoints that earlier stages write into the runs folder are not inputs
    assert "last.ckpt" not in message
