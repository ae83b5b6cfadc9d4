"""``zoo:<experiment>``: the original's released files by name, fetched on first use into the
torch hub cache, without the internet: a release server on 127.0.0.1 (``helpers.release_server``)
serves an original-format checkpoint, a truncated one, an HTML page and a 404, with
``OCSEG_ZOO_URL`` pointing at it."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import ocseg
from helpers.config import CONF, REPO, compose
from helpers.openseg_reference import FIXTURES
from helpers.release_server import ReleaseServer, closed_port_url
from ocseg.checkpoints.identity import complete_from_checkpoint
from ocseg.checkpoints.openseg import original_key_names
from ocseg.checkpoints.zoo import cache_dir, cached_file, zoo_checkpoint, zoo_entries, zoo_entry, zoo_names
from ocseg.errors import OcsegError
from ocseg.io.download import RELEASE_BASES, release_url
from ocseg.models import build_model
from ocseg.models.cards import CARDS

SEGFIX = "segfix_cityscapes_hrnet2x20"
SEGFIX_PATH = "/segfix.pretrained/segfix_hrnet_hrnext20_segfix_loss_1_latest.pth"


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every test here runs on one intra-op thread (see conftest.single_thread)."""


@pytest.fixture
def server(monkeypatch, tmp_path):
    """A release server; OCSEG_ZOO_URL points at it and TORCH_HOME at an empty folder."""
    release = ReleaseServer()
    monkeypatch.setenv("OCSEG_ZOO_URL", release.url)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    yield release
    release.close()


def _tiny_original_segfix() -> bytes:
    """An original-layout (master, InPlace-ABN) SegFix file on the small test HRNet."""
    torch.manual_seed(0)
    net = build_model("segfix_hrnet2x20", 19, backbone="hrnet_tiny")
    state = net.state_dict()
    names = original_key_names(net, CARDS["segfix_hrnet2x20"].layout, "inplace_abn")
    buffer = io.BytesIO()
    torch.save({"config_dict": {}, "state_dict": {f"module.{o}": state[q] for q, o in names.items()}}, buffer)
    return buffer.getvalue()


def _cache_files() -> list[str]:
    return sorted(str(p.relative_to(cache_dir())) for p in cache_dir().rglob("*") if p.is_file())


# -- names ---------------------------------------------------------------------------------------
def test_zoo_names_are_recipes_with_a_released_file():
    entries = zoo_entries()
    released = {w.experiment for c in CARDS.values() for w in c.weights if w.downloadable}
    assert set(entries) == released and len(entries) == 14
    assert "cityscapes_r101_isa" not in entries                    # a Google Drive page, no file
    for name, entry in entries.items():
        assert (CONF / "experiment" / f"{name}.yaml").is_file()
        cfg = compose("eval", [f"experiment={name}"])
        assert (cfg.model.name, cfg.dataset.name) == (entry.model, entry.dataset), name
    # one cache file per name: the LIP and the Cityscapes release share a file name
    paths = [cached_file(e) for e in entries.values()]
    assert len(set(paths)) == len(paths)
    assert cached_file(entries["lip_hrnet48_ocr"]).parent.name == "opeseg.pytorch.lip"


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(OcsegError, match=r"unknown zoo name 'zoo:cityscapes_hrnet99'.*zoo:cityscapes_hrnet48_ocr, "):
        zoo_entry("zoo:cityscapes_hrnet99")
    with pytest.raises(OcsegError, match="zoo:segfix_cityscapes_hrnet2x20_instance"):
        ocseg.load("zoo:nothing")
    assert zoo_names()[0] == "zoo:cityscapes_hrnet48_ocr"


def test_mirror_variable_replaces_the_release_base_only(monkeypatch):
    monkeypatch.delenv("OCSEG_ZOO_URL", raising=False)
    url = zoo_entry(SEGFIX).weights.url
    assert release_url(url) == url
    monkeypatch.setenv("OCSEG_ZOO_URL", "https://mirror.example/zoo/")
    assert release_url(url) == "https://mirror.example/zoo" + SEGFIX_PATH
    assert release_url(f"{RELEASE_BASES[1]}/v1.0/x.pth") == "https://mirror.example/zoo/v1.0/x.pth"
    assert release_url("https://elsewhere.example/x.pth") == "https://elsewhere.example/x.pth"


def test_command_lines_get_the_rows_recipe_or_its_model_and_dataset():
    args = [f"ckpt_path=zoo:{SEGFIX}", "dataset.root=/data/cityscapes"]
    assert complete_from_checkpoint(args, recipe=True)[0] == [*args, f"experiment={SEGFIX}"]
    assert complete_from_checkpoint(args)[0] == [*args, "model=segfix_hrnet2x20", "dataset=cityscapes"]
    given = ["ckpt_path=zoo:lip_hrnet48_ocr", "experiment=lip_hrnet48_ocr_paddle", "model=hrnet48_ocr"]
    assert complete_from_checkpoint(given, recipe=True)[0] == given
    assert complete_from_checkpoint(given)[0] == [*given, "dataset=lip"]
    unknown = ["ckpt_path=zoo:unknown"]
    assert complete_from_checkpoint(unknown, recipe=True)[0] == unknown   # the task says why
    cfg = compose("eval", complete_from_checkpoint(["ckpt_path=zoo:lip_hrnet48_ocr"], recipe=True)[0])
    assert (cfg.model.name, cfg.dataset.name, list(cfg.test.input_size), cfg.test.flip) == \
        ("hrnet48_ocr", "lip", [473, 473], True)                    # the row's test protocol


# -- downloads -----------------------------------------------------------------------------------
def test_download_shows_progress_and_is_reused_without_network(server, capfd, monkeypatch):
    data = _tiny_original_segfix()
    server.add(SEGFIX_PATH, data)
    path = zoo_checkpoint(SEGFIX)
    assert path == cache_dir() / "segfix.pretrained" / SEGFIX_PATH.rsplit("/", 1)[1]
    assert path.read_bytes() == data and server.requests[SEGFIX_PATH] == 1
    err = capfd.readouterr().err
    assert f"zoo:{SEGFIX}: downloading {server.url}{SEGFIX_PATH} to {path}" in err
    assert "100%" in err and path.name[:20] in err                 # the progress bar, finished
    assert _cache_files() == [f"segfix.pretrained/{path.name}"]    # nothing else left behind
    # the second use: no request, and none possible
    monkeypatch.setenv("OCSEG_ZOO_URL", closed_port_url())
    assert zoo_checkpoint(SEGFIX) == path and server.requests[SEGFIX_PATH] == 1
    seg = ocseg.load(f"zoo:{SEGFIX}", backbone="hrnet_tiny")
    assert seg.task == "segfix" and seg.config.dataset.name == "cityscapes"
    assert server.requests[SEGFIX_PATH] == 1


def test_training_takes_zoo_names_to_resume_or_initialise_from(server):
    """``train.py ckpt_path=zoo:…`` (an original file: the network starts from it) and
    ``init_from=zoo:…`` read the same cached file, fetched once."""
    from ocseg.checkpoints.stage_init import init_from_checkpoint
    from ocseg.lightning.resume import resolve_ckpt_path

    server.add(SEGFIX_PATH, _tiny_original_segfix())
    resume = resolve_ckpt_path(f"zoo:{SEGFIX}", cache_dir() / "run", cache_dir() / "runs", [])
    assert resume.path == cached_file(zoo_entry(SEGFIX)) and "state_dict" in resume.checkpoint
    report = init_from_checkpoint(build_model("segfix_hrnet2x20", 19, backbone="hrnet_tiny"), f"zoo:{SEGFIX}")
    assert report.loaded == report.total and server.requests[SEGFIX_PATH] == 1


def test_offline_without_the_file_names_the_url_and_where_to_put_it(server, monkeypatch):
    dead = closed_port_url()
    monkeypatch.setenv("OCSEG_ZOO_URL", dead)
    expected = cached_file(zoo_entry(SEGFIX))
    with pytest.raises(OcsegError) as error:
        zoo_checkpoint(SEGFIX)
    message = str(error.value)
    assert f"cannot download {dead}{SEGFIX_PATH}" in message and f"at '{expected}' by hand" in message
    assert "\n" not in message and not expected.exists()


@pytest.mark.parametrize("served,reason", [
    (None, "answered 404 Not Found"),
    ("truncated", "not usable (it does not read as a PyTorch checkpoint: cut short"),
    ("html", "not usable (an HTML page, not a PyTorch file)"),
    ("other network", "holds an original 'hrnet_w48_ocr' network, not segfix_hrnet"),
])
def test_a_file_that_does_not_load_is_deleted_from_the_cache(server, served, reason):
    data = _tiny_original_segfix()
    if served == "truncated":
        server.add(SEGFIX_PATH, data[: len(data) // 2])
    elif served == "html":
        server.add(SEGFIX_PATH, b"<!DOCTYPE html><html><body>Rate limit exceeded</body></html>",
                   content_type="text/html")
    elif served == "other network":
        net = build_model("hrnet48_ocr", 19, backbone="hrnet_tiny")
        names = original_key_names(net, CARDS["hrnet48_ocr"].layout, "bn")
        buffer = io.BytesIO()
        torch.save({"state_dict": {o: net.state_dict()[q] for q, o in names.items()}}, buffer)
        server.add(SEGFIX_PATH, buffer.getvalue())
    with pytest.raises(OcsegError) as error:
        zoo_checkpoint(SEGFIX)
    message = str(error.value)
    assert reason in message and "\n" not in message
    if served is not None:
        assert "it was deleted from" in message
    assert _cache_files() == []                                     # neither the file nor a part of it


def test_a_killed_download_leaves_nothing_at_the_final_name(server, tmp_path):
    data = _tiny_original_segfix()
    server.add(SEGFIX_PATH, data, chunk=4096, delay=0.05)           # ~15 s in all: killed long before
    code = f"from ocseg.checkpoints.zoo import zoo_checkpoint; zoo_checkpoint({SEGFIX!r})"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    child = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.DEVNULL)
    try:
        assert server.sending.wait(120), "the download never started"
        time.sleep(0.3)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    final = cached_file(zoo_entry(SEGFIX))
    assert not final.exists()
    assert [p.name for p in final.parent.iterdir()][0].startswith(f".{final.name}.")   # the part file
    server.files[SEGFIX_PATH].delay = 0.0
    assert zoo_checkpoint(SEGFIX).read_bytes() == data


def test_zoo_checkpoint_reproduces_the_worked_example(server):
    """The worked example's seeded ``segfix_hrnet2x20`` checkpoint, served as the release file:
    ``ocseg.load("zoo:…")`` downloads it and its network gives the original's outputs."""
    sys.path.insert(0, str(FIXTURES))
    import seeded_weights

    buffer = io.BytesIO()
    state = seeded_weights.make_state_dict(seeded_weights.load_entries(str(FIXTURES / "segfix_hrnet2x20.keys.json.gz")))
    torch.save(seeded_weights.checkpoint_dict(state), buffer)
    server.add(SEGFIX_PATH, buffer.getvalue())
    del buffer, state
    seg = ocseg.load(f"zoo:{SEGFIX}")
    example = np.load(FIXTURES / "segfix_hrnet2x20.io.npz")
    with torch.no_grad():
        got = seg.model(torch.from_numpy(example["input"]))
    for key, ref_name in (("mask", "out0_mask"), ("direction", "out1_direction")):
        ref = torch.from_numpy(example[ref_name])
        assert (got[key] - ref).abs().max() <= 5e-4 * ref.abs().max(), key


@pytest.mark.slow
def test_eval_with_a_zoo_name_offline_is_one_error_line(tmp_path):
    """``python eval.py ckpt_path=zoo:<row>`` without network: exit 2, one line with the URL
    and the cache path; the row's experiment was added to the command line."""
    dead = closed_port_url()
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OCSEG_ZOO_URL=dead, TORCH_HOME=str(tmp_path / "torch"))
    proc = subprocess.run([sys.executable, str(REPO / "eval.py"), "ckpt_path=zoo:cityscapes_hrnet48_ocr",
                           f"dataset.root={tmp_path / 'cityscapes'}", f"hydra.run.dir={tmp_path / 'run'}"],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    cache = tmp_path / "torch" / "hub" / "checkpoints" / "openseg.pytorch.cityscapes" / "hrnet_w48_ocr_1_latest.pth"
    assert f"{dead}/openseg.pytorch.cityscapes/hrnet_w48_ocr_1_latest.pth" in errors[0]
    assert str(cache) in errors[0]
    overrides = (tmp_path / "run" / ".hydra" / "overrides.yaml").read_text()
    assert "experiment=cityscapes_hrnet48_ocr" in overrides
