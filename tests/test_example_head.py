"""The contributing guide's worked example: a head of one's own is its module, ``conf/head/x.yaml``,
``conf/model/y.yaml`` and one card entry — and nothing in the tests.

The four files live in ``tests/fixtures/example_head/`` (``docs/contributing.md`` shows them
verbatim). Here they are put where a checkout keeps them: the YAMLs into a copy of the ``conf/``
tree that ocseg then reads, the module as ``ocseg.models.heads.psp_lite`` (its ``_target_``), the
card into :data:`~ocseg.models.cards.CARDS`; then the checks every zoo model passes run on it.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest
import torch

from helpers.config import CONF, REPO
from helpers.model_checks import check_forward_backward, check_fused
from ocseg import config
from ocseg.models import available_models, build_model
from ocseg.models.cards import CARDS

EXAMPLE = REPO / "tests" / "fixtures" / "example_head"
MODULE = "ocseg.models.heads.psp_lite"


def _module(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example(tmp_path, monkeypatch, single_thread):
    """The example's card, with its four files installed as a contributor would add them."""
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    for path in (EXAMPLE / "conf").rglob("*.yaml"):
        target = conf / path.relative_to(EXAMPLE / "conf")
        assert not target.exists(), f"the example must add files, not replace {target}"
        shutil.copy(path, target)
    monkeypatch.setattr(config, "config_dir", lambda: conf)
    monkeypatch.setitem(sys.modules, MODULE, _module(MODULE, EXAMPLE / "psp_lite.py"))
    card = _module("example_head_card", EXAMPLE / "card.py").CARD
    monkeypatch.setitem(CARDS, card.name, card)
    return card


def test_the_card_reads_its_facts_from_the_example_yaml(example):
    assert example.name in available_models()
    assert (example.normalize, example.task, example.outputs, example.test_backbone) == (
        "imagenet_bgr", "segmentation", ("out", "aux"), "hrnet_tiny")


def test_the_example_head_passes_the_model_checks(example):
    torch.manual_seed(0)
    net = build_model(example.name, 5, backbone=example.test_backbone)
    assert type(net.head).__module__ == MODULE and net.head.conv.in_channels == 8 + 16 + 32 + 64 + 4 * 256
    check_forward_backward(net, example, 5, torch.randn(2, 3, 64, 96))
    check_fused(net, torch.randn(2, 3, 64, 96))
    fused = net.fuse_for_inference()
    assert isinstance(fused.head.bn, torch.nn.Identity)   # plain attributes, folded by tracing


def test_the_full_size_example_builds_on_the_meta_device(example):
    with torch.device("meta"):
        net = build_model(example.name, 19)
    assert net.head.conv.in_channels == 720 + 4 * 256 and net.head.aux.conv.in_channels == 720
