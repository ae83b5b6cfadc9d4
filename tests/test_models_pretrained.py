"""``backbone.pretrained=<file>``: the original's ImageNet files load by name with a report; a file of
another architecture is one clear error."""

from __future__ import annotations

import pytest
import torch

from ocseg.errors import OcsegError
from ocseg.models import build_model
from ocseg.models.backbones.hrnet import HRNet
from ocseg.models.backbones.pretrained import load_pretrained
from ocseg.models.backbones.resnet import DeepBaseResNet


def _randomised(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {k: (torch.randn(v.shape, generator=g) if v.is_floating_point() else v.clone())
            for k, v in module.state_dict().items()}


def test_hrnet_imagenet_file_loads_and_ignores_the_classifier(tmp_path):
    source = _randomised(HRNet("hrnet_tiny"))
    # an HRNet-Image-Classification file: the backbone plus its classification head
    file = dict(source, **{"incre_modules.0.0.conv1.weight": torch.zeros(4, 8, 1, 1),
                           "classifier.weight": torch.zeros(1000, 2048), "classifier.bias": torch.zeros(1000)})
    path = tmp_path / "hrnetv2_tiny_imagenet_pretrained.pth"
    torch.save(file, path)
    net = build_model("hrnet48_ocr", 19, backbone="hrnet_tiny", **{"backbone.pretrained": str(path)})
    assert all(torch.equal(net.backbone.state_dict()[k], v) for k, v in source.items())
    report = load_pretrained(HRNet("hrnet_tiny"), path)
    expected = sum(1 for k in source if not k.endswith("num_batches_tracked"))
    assert (report.loaded, report.expected, report.missing) == (expected, expected, [])
    assert sorted(report.ignored) == ["classifier.bias", "classifier.weight", "incre_modules.0.0.conv1.weight"]
    assert f"{expected}/{expected} tensors loaded" in str(report)


def test_deep_base_resnet_file_maps_its_stem(tmp_path):
    source = _randomised(DeepBaseResNet(18))
    # the original's deep-base ImageNet file names the stem conv1/bn1/conv2/…, and has fc
    file = {k.replace("stem.", ""): v for k, v in source.items()}
    file.update({"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)})
    path = tmp_path / "3x3resnet18-imagenet.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in file.items()}}, path)
    net = DeepBaseResNet(18, pretrained=str(path))
    assert torch.equal(net.stem.conv3.weight, source["stem.conv3.weight"])
    assert torch.equal(net.layer4[1].bn2.running_var, source["layer4.1.bn2.running_var"])


def test_file_of_another_architecture_is_a_clear_error(tmp_path):
    resnet = tmp_path / "resnet18.pth"
    torch.save(DeepBaseResNet(18).state_dict(), resnet)
    with pytest.raises(OcsegError, match=r"resnet18\.pth.*does not fit this HRNet"):
        HRNet("hrnet_tiny", pretrained=str(resnet))
    tiny = tmp_path / "hrnet_tiny.pth"
    torch.save(HRNet("hrnet_tiny").state_dict(), tiny)
    with pytest.raises(OcsegError, match=r"hrnet_tiny\.pth.*shape-mismatched: conv1\.weight"):
        HRNet("hrnet18_small", pretrained=str(tiny))
    with pytest.raises(OcsegError, match="not found"):
        HRNet("hrnet_tiny", pretrained=str(tmp_path / "absent.pth"))


def test_missing_imagenet_file_names_the_path_and_the_original_download(tmp_path):
    from ocseg.models.backbones.imagenet_files import IMAGENET_FILES, IMAGENET_RELEASE

    missing = tmp_path / "pretrained_model" / "hrnetv2_w48_imagenet_pretrained.pth"
    with pytest.raises(OcsegError) as err:        # backbone.download=false: today's stop with the URL
        HRNet("hrnet_tiny", pretrained=str(missing), download=False)
    text = str(err.value)
    assert str(missing) in text and IMAGENET_FILES[missing.name] in text
    assert "paths.pretrained_dir" in text and "backbone.pretrained=null" in text
    assert "\n" not in text
    # files the original links only through its release page
    with pytest.raises(OcsegError, match=IMAGENET_RELEASE):
        DeepBaseResNet(18, pretrained=str(tmp_path / "resnet101-imagenet.pth"))
    assert set(IMAGENET_FILES) >= {"hrnetv2_w48_imagenet_pretrained.pth", "HRNet_W48_C_ssld_pretrained.pth",
                                   "hr_rnet_bt_w20_imagenet_pretrained.pth", "resnet101-imagenet.pth"}


# -- fetched on first use (helpers.release_server stands in for the release host) --------------
@pytest.fixture
def release(monkeypatch):
    from helpers.release_server import ReleaseServer

    server = ReleaseServer()
    monkeypatch.setenv("OCSEG_ZOO_URL", server.url)
    yield server
    server.close()


def _saved(state: dict) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def test_a_missing_imagenet_file_is_downloaded_once_into_the_pretrained_dir(tmp_path, release, capfd):
    name = "hrnetv2_w18_imagenet_pretrained.pth"     # the original links it directly (MODEL_ZOO.md)
    source = _randomised(HRNet("hrnet_tiny"))
    release.add(f"/openseg-pytorch-pretrained/{name}", _saved(source))
    path = tmp_path / "pretrained_model" / name
    net = HRNet("hrnet_tiny", pretrained=str(path))
    assert path.is_file() and torch.equal(net.conv1.weight, source["conv1.weight"])
    assert f"downloading {release.url}/openseg-pytorch-pretrained/{name} to {path}" in capfd.readouterr().err
    HRNet("hrnet_tiny", pretrained=str(path))
    assert release.requests[f"/openseg-pytorch-pretrained/{name}"] == 1
    assert [p.name for p in path.parent.iterdir()] == [name]


def test_imagenet_download_off_release_page_files_and_a_file_that_does_not_fit(tmp_path, release, monkeypatch):
    from helpers.release_server import closed_port_url

    folder = tmp_path / "pretrained_model"
    w18 = folder / "hrnetv2_w18_imagenet_pretrained.pth"
    with pytest.raises(OcsegError, match=r"not found; download it from https://github.com/hsfzxjy/models.storage/"
                                         r"releases/download/openseg-pytorch-pretrained/hrnetv2_w18"):
        HRNet("hrnet_tiny", pretrained=str(w18), download=False)
    with pytest.raises(OcsegError, match="not found; download it from the release page"):
        DeepBaseResNet(18, pretrained=str(folder / "resnet101-imagenet.pth"))
    assert sum(release.requests.values()) == 0
    # a file of another backbone is not kept
    release.add(f"/openseg-pytorch-pretrained/{w18.name}", _saved(DeepBaseResNet(18).state_dict()))
    with pytest.raises(OcsegError, match=r"not usable \(backbone.pretrained=.*does not fit this HRNet.*it was deleted"):
        HRNet("hrnet_tiny", pretrained=str(w18))
    assert list(folder.iterdir()) == []
    monkeypatch.setenv("OCSEG_ZOO_URL", closed_port_url())
    with pytest.raises(OcsegError, match=rf"cannot download .*offline, put the file from .* at '{w18}' by hand"):
        HRNet("hrnet_tiny", pretrained=str(w18))
