"""Every zoo model: builds, runs forward/backward at tiny sizes, keeps shapes, round-trips, compiles.

Tests about a head swap the backbone for the small one its card names (``hrnet_tiny`` for HRNet
models, ``r18`` for ResNet ones) — the head is unchanged; the full-size models are checked on the
meta device. What a model returns comes from its card (which reads the model's YAML), so a new
model needs no edit here.
"""

from __future__ import annotations

import io

import pytest
import torch

from helpers.config import CONF
from helpers.model_checks import check_forward_backward
from helpers.models import MODELS, small
from ocseg.errors import OcsegError
from ocseg.models import available_models, build_model
from ocseg.models.cards import CARDS

ZOO = [name for name, card in CARDS.items() if card.original]   # the original's networks


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every test here runs on one intra-op thread (see conftest.single_thread)."""


def resnet_size(n: int) -> int:
    """Output size of the deep-stem ResNet at stride 8: conv/2, ceil-mode max-pool/2, conv/2."""
    n = (n + 1) // 2
    n = -(-(n - 1) // 2) + 1
    return (n + 1) // 2


def test_one_card_per_model_config_and_every_original_network_has_its_layout():
    assert sorted(CARDS) == sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
    assert ZOO and all(CARDS[name].layout for name in ZOO)


def test_card_facts_come_from_the_model_yaml():
    """normalize/task are the YAML's defaults choices; the outputs follow the task and the head's
    aux node (the original HRNet_W48 has none)."""
    card = CARDS["hrnet48_ocr"]
    assert (card.normalize, card.task, card.outputs, card.test_backbone) == (
        "imagenet_bgr", "segmentation", ("out", "aux"), "hrnet_tiny")
    assert CARDS["hrnet48"].outputs == ("out",)
    r101 = CARDS["r101_ocr"]
    assert (r101.normalize, r101.test_backbone) == ("caffe_bgr", "r18")
    assert (CARDS["segfix_hrnet48"].task, CARDS["segfix_hrnet48"].outputs) == ("segfix", ("mask", "direction"))


def test_available_models_leave_out_test_fixtures():
    assert available_models() == [name for name, c in CARDS.items() if not c.test_only]
    assert CARDS["tiny_fcn"].test_only and not any(CARDS[name].test_only for name in ZOO)
    assert available_models(include_test_only=True) == MODELS


@pytest.mark.parametrize("name", MODELS)
def test_forward_backward_shapes_and_gradients(name):
    torch.manual_seed(0)
    check_forward_backward(small(name), CARDS[name], 5, torch.randn(2, 3, 64, 96))


@pytest.mark.parametrize("name,size,expected", [
    ("hrnet48_ocr", (40, 72), (10, 18)),       # any size divisible by the stride (4)
    ("segfix_hrnet48", (36, 20), (9, 5)),
    ("r101_isa", (72, 40), (resnet_size(72), resnet_size(40))),   # 8 with ISA padding to 8×8 blocks
    ("r101_asp_oc", (56, 88), (resnet_size(56), resnet_size(88))),
])
def test_any_input_size_divisible_by_the_stride(name, size, expected):
    net = small(name).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, *size))
    assert all(v.shape[-2:] == expected for v in out.values())


def test_backbones_report_channels_and_strides():
    """Full-size variants built on the meta device (no compute): W48 → 720 @ 1/4, HRNet2x-W20 →
    620 @ 1/2; the deep-stem ResNet at stride 8 maps 128×256 to 17×33 (ceil-mode max-pool)."""
    from ocseg.models.backbones.hrnet import HRNet
    from ocseg.models.backbones.resnet import DeepBaseResNet

    expect = {"hrnet18": 270, "hrnet32": 480, "hrnet48": 720, "hrnet64": 960, "hrnet18_small": 270,
              "hrnet2x20": 620}
    for variant, channels in expect.items():
        with torch.device("meta"):
            net = HRNet(variant)
        assert net.out_channels == [channels]
        assert net.strides == [2 if variant == "hrnet2x20" else 4]
    with torch.device("meta"):
        r101 = DeepBaseResNet(101)
    assert r101.out_channels == [1024, 2048] and r101.strides == [8, 8]
    r18 = DeepBaseResNet(18).eval()
    with torch.no_grad():
        feats = r18(torch.randn(1, 3, 128, 256))
    assert [tuple(f.shape) for f in feats] == [(1, 256, 17, 33), (1, 512, 17, 33)]


def test_resnet_dilation_follows_the_original():
    """layer3 dilation 2, layer4 dilation 4; the first (formerly strided) 3×3 conv gets half."""
    with torch.device("meta"):
        net = build_model("r101_fcn", 19, **{"backbone.multi_grid": [1, 2, 4]})
    bb = net.backbone
    assert [b.conv2.dilation[0] for b in bb.layer3][:3] == [1, 2, 2]
    assert [b.conv2.dilation[0] for b in bb.layer4] == [2, 8, 16]
    assert all(b.conv2.stride == (1, 1) for b in list(bb.layer3) + list(bb.layer4))
    assert bb.maxpool.ceil_mode
    with torch.device("meta"):
        d16 = build_model("r101_fcn", 19, **{"backbone.output_stride": 16}).backbone
    assert d16.strides == [16, 16] and d16.layer3[0].conv2.stride == (2, 2)
    assert [b.conv2.dilation[0] for b in d16.layer4] == [1, 2, 2]


def test_any_head_sits_on_any_backbone():
    ocr_on_resnet = build_model("hrnet48_ocr", 3, backbone="r18").eval()
    isa_on_hrnet = build_model("r101_isa", 3, backbone="hrnet_tiny").eval()
    with torch.no_grad():
        assert ocr_on_resnet(torch.randn(1, 3, 64, 64))["out"].shape == (1, 3, 9, 9)
        assert isa_on_hrnet(torch.randn(1, 3, 64, 64))["aux"].shape == (1, 3, 16, 16)
    assert ocr_on_resnet.head.aux.conv.in_channels == 256       # layer3 of ResNet-18
    assert ocr_on_resnet.head.bottleneck[0].in_channels == 512  # layer4


@pytest.mark.parametrize("name", ["hrnet48_ocr", "r101_asp_oc", "segfix_hrnet48"])
def test_state_dict_round_trip_reproduces_outputs(name):
    torch.manual_seed(0)
    net = small(name).eval()
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    torch.manual_seed(1)
    clone = small(name).eval()
    clone.load_state_dict(torch.load(buffer, weights_only=False))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = net(x), clone(x)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_activation_slope_is_tensor_state_that_exporters_read_and_old_dicts_still_load():
    """The BN+act slope is the network's extra state, as a 0-d float64 tensor: the TorchScript
    ONNX exporter's state-dict walk (``torch.jit._unique_state_dict``) takes it, ``.to(bfloat16)``
    leaves it exact, and a state dict of the earlier dict form sets the slope too."""
    from ocseg.models.layers.norm_act import norm_act_slope, set_norm_act_slope

    net = small("hrnet48_ocr").eval()
    set_norm_act_slope(net, 0.01)
    state = torch.jit._unique_state_dict(net, keep_vars=False)
    assert state["_extra_state"].dtype == torch.float64 and float(state["_extra_state"]) == 0.01
    assert float(net.to(torch.bfloat16).state_dict()["_extra_state"]) == 0.01
    net.float()
    fresh = small("hrnet48_ocr").eval()
    fresh.load_state_dict(net.state_dict())
    assert norm_act_slope(fresh) == 0.01
    old = dict(net.state_dict(), _extra_state={"norm_act_negative_slope": 0.0})
    fresh.load_state_dict(old)
    assert norm_act_slope(fresh) == 0.0


def test_attention_equals_the_three_dimensional_call_it_replaced():
    """``attend`` runs 4-D attention (a head axis of one, which both ONNX exporters and the fused
    kernels take); it equals the 3-D ``scaled_dot_product_attention`` of before to float rounding,
    forward and backward, at OCR's pixel→region and OCNet's pixel→pixel shapes, and under bf16."""
    import torch.nn.functional as F

    from ocseg.models.layers.attention import attend

    g = torch.Generator().manual_seed(0)
    for length, keys, dim in ((4096, 19, 256), (1024, 1024, 64)):
        q, k, v = (torch.randn(2, n, dim, generator=g, requires_grad=True) for n in (length, keys, keys))
        got = attend(q, k, v)
        before = F.scaled_dot_product_attention(q, k, v, scale=dim ** -0.5)
        exact = torch.softmax(q.double() @ k.double().transpose(1, 2) * dim ** -0.5, -1) @ v.double()
        assert (got - before).abs().max() <= 1e-5 * before.abs().max()
        assert (got.double() - exact).abs().max() <= 1e-5 * exact.abs().max()
        grads = torch.autograd.grad(got.square().sum(), (q, k, v))
        before_grads = torch.autograd.grad(before.square().sum(), (q, k, v))
        for a, b in zip(grads, before_grads):
            assert (a - b).abs().max() <= 1e-4 * b.abs().max()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = attend(q, k, v)
        assert (low.float() - before).abs().max() <= 0.05 * before.abs().max()


def test_channels_last_and_bf16_autocast_stay_close_to_fp32():
    torch.manual_seed(0)
    net = small("hrnet48_ocr_b").eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)
        cl = net.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf = net(x)
    for key in ref:
        scale = ref[key].abs().max()
        assert (cl[key] - ref[key]).abs().max() <= 1e-4 * scale
        assert bf[key].dtype == torch.bfloat16 and torch.isfinite(bf[key]).all()
        assert (bf[key].float() - ref[key]).abs().max() <= 0.1 * scale


def test_attention_softmax_is_safe_for_large_bf16_logits():
    """Region weights over many pixels: a bf16 softmax would lose the small weights entirely."""
    from ocseg.models.layers.object_context import SpatialGather

    feats = torch.ones(1, 4, 64, 64, dtype=torch.bfloat16)
    logits = torch.full((1, 2, 64, 64), 300.0, dtype=torch.bfloat16)
    regions = SpatialGather()(feats, logits)
    assert torch.allclose(regions.float(), torch.ones(1, 4, 2, 1), atol=1e-2)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["hrnet48_ocr", "r101_isa"])
def test_compiles_as_one_graph(name):
    """No graph breaks (``fullgraph=True``); ``aot_eager`` checks tracing without C++ codegen."""
    torch._dynamo.reset()
    net = small(name).eval()
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref, got = net(x), compiled(x)
    assert all(torch.allclose(ref[k], got[k], atol=1e-4, rtol=1e-4) for k in ref)


def test_unknown_model_and_bad_override_are_clear_errors():
    with pytest.raises(OcsegError, match="unknown model 'hrnet99'.*hrnet48_ocr"):
        build_model("hrnet99", 19)
    with pytest.raises(OcsegError, match="cannot compose model 'hrnet48_ocr'"):
        build_model("hrnet48_ocr", 19, backbone="resnet9000")
    with pytest.raises(OcsegError, match="variant"):
        build_model("hrnet48_ocr", 19, **{"backbone.variant": "hrnet7"})


def test_isa_groups_interlaced_then_local_pixels():
    """Long range attends among pixels dh/dw apart (same offset in every block), short range within
    one dh×dw block; with identity attention the block returns its input (padding removed)."""
    from ocseg.models.heads.isa import ISABlock

    class Record(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.seen = None

        def forward(self, x):
            self.seen = x.clone()
            return x

    block = ISABlock(3, 2, 3, 3, down_factor=(2, 4))
    block.long_range, block.short_range = Record(), Record()
    x = torch.arange(2 * 3 * 4 * 8, dtype=torch.float32).reshape(2, 3, 4, 8)
    assert torch.equal(block(x), x)
    long_groups = block.long_range.seen.reshape(2, 2, 4, 3, 2, 2)      # n, i, j, c, gh, gw
    assert torch.equal(long_groups[1, 1, 3], x[1, :, 1::2, 3::4])
    short_groups = block.short_range.seen.reshape(2, 2, 2, 3, 2, 4)    # n, bi, bj, c, dh, dw
    assert torch.equal(short_groups[0, 1, 0], x[0, :, 2:4, 0:4])
    odd = torch.randn(1, 3, 5, 6)                                        # padded to 6×8, then cropped
    assert torch.equal(block(odd), odd)


def test_attention_blocks_match_a_naive_implementation():
    """softmax(q·k/√d)·v written with einsum, for OCNet's (pooled) self-attention and OCR's
    pixel→region attention."""
    import torch.nn.functional as F

    from ocseg.models.layers.attention import SelfAttention2d
    from ocseg.models.layers.object_context import ObjectAttention, SpatialGather

    torch.manual_seed(0)

    def naive(q, k, v):  # q: N×d×L, k: N×d×S, v: N×c×S → N×c×L
        w = torch.softmax(torch.einsum("ndl,nds->nls", q, k) / q.shape[1] ** 0.5, dim=-1)
        return torch.einsum("nls,ncs->ncl", w, v)

    sa = SelfAttention2d(6, 4, 5, 6, pool=2).eval()
    torch.nn.init.normal_(sa.out_proj.weight)
    x = torch.randn(2, 6, 7, 9)
    with torch.no_grad():
        p = F.max_pool2d(x, 2)
        ctx = naive(sa.query(p).flatten(2), sa.key(p).flatten(2), sa.value(p).flatten(2)).reshape(2, 5, 3, 4)
        expect = F.interpolate(sa.out_proj(ctx), size=(7, 9), mode="bilinear", align_corners=True)
        assert torch.allclose(sa(x), expect, atol=1e-5)

        oa = ObjectAttention(6, 4).eval()
        logits = torch.randn(2, 3, 7, 9)
        regions = SpatialGather()(x, logits)
        weights = torch.softmax(logits.flatten(2), dim=-1)
        assert torch.allclose(regions[..., 0], torch.einsum("nkp,ncp->nck", weights, x.flatten(2)), atol=1e-5)
        ctx = naive(oa.query(x).flatten(2), oa.key(regions).flatten(2), oa.value(regions).flatten(2))
        assert torch.allclose(oa(x, regions), oa.out_proj(ctx.reshape(2, 4, 7, 9)), atol=1e-5)
