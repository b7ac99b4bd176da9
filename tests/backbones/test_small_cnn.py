"""SmallCNN: output stride 8 per frame, trainable end to end."""
from __future__ import annotations

import pytest
import torch
from einops import rearrange

from actattn.backbones import SmallCNN, create_backbone
from actattn.experiment import fit, merged


def test_64px_gives_8x8() -> None:
    backbone = create_backbone("small_cnn")
    feats = backbone(torch.randn(2, 3, 4, 64, 64))
    assert feats.shape == (2, 4, backbone.out_channels, 8, 8)
    assert backbone.out_channels == 128 and backbone.output_stride == 8
    assert SmallCNN(dilations=()).out_channels == 96


def test_odd_size_rounds_up() -> None:
    assert SmallCNN()(torch.randn(1, 3, 1, 100, 90)).shape[-2:] == (13, 12)


def reach(backbone: SmallCNN) -> torch.Tensor:
    """(64, 64) bool: the pixels of a 64 px frame that cell (4, 4) of the 8x8 grid depends on."""
    torch.manual_seed(0)
    video = torch.randn(1, 3, 1, 64, 64, requires_grad=True)
    backbone.eval()(video)[0, 0, :, 4, 4].sum().backward()
    return video.grad.abs().sum(dim=(0, 1, 2)) > 0


def test_a_central_cell_sees_the_whole_64px_frame() -> None:
    seen = reach(SmallCNN())
    corners = (seen[:8, :8], seen[:8, -8:], seen[-8:, :8], seen[-8:, -8:])  # 8x8: max pooling routes sparsely
    assert all(corner.any() for corner in corners)


@pytest.mark.parametrize(("dilations", "window"), [((1, 1), 54), ((), 22)])
def test_undilated_cells_see_a_window(dilations: tuple[int, ...], window: int) -> None:
    seen = reach(SmallCNN(dilations))
    rows, cols = torch.nonzero(seen, as_tuple=True)
    assert rows.max() - rows.min() < window and cols.max() - cols.min() < window
    assert not seen[:8, :8].any()


def test_frames_are_processed_independently() -> None:
    torch.manual_seed(0)
    backbone = SmallCNN().eval()
    video = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        feats = backbone(video)
        for b in range(2):
            for t in range(3):
                torch.testing.assert_close(feats[b, t], backbone(video[b : b + 1, :, t : t + 1])[0, 0])


def test_backward_reaches_every_parameter() -> None:
    backbone = SmallCNN()
    backbone(torch.randn(2, 3, 2, 32, 32)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


def test_wrong_input_raises() -> None:
    with pytest.raises(ValueError, match=r"SmallCNN: expected video \(B, 3, T, H, W\), got \(1, 1, 2, 8, 8\)"):
        SmallCNN()(torch.zeros(1, 1, 2, 8, 8))


@pytest.mark.parametrize(("dilations", "cell"), [((), (0, 0)), ((), (7, 1)), ((), (2, 5)), ((1, 1), (2, 5)),
                                                 ((1, 1), (4, 4)), ((1, 1), (3, 4))])
def test_each_cell_is_centred_on_its_own_pixels(cell: tuple[int, int], dilations: tuple[int, ...]) -> None:
    """The geometry localisation assumes (cell (i, j) covers pixels [8i, 8i + 8) x [8j, 8j + 8)):
    the gradient-weighted centre of what a cell sees, averaged over random networks, lies in its
    own 8 px block, not a cell off (as the padding of the pooled stages could shift it). Cells whose
    window the frame cuts (a border cell of the 54 px windows) are centred inwards, so not tried."""
    centres = []
    for seed in range(8):
        torch.manual_seed(seed)
        backbone = SmallCNN(dilations).eval()
        video = torch.randn(1, 3, 1, 64, 64, requires_grad=True)
        backbone(video)[0, 0, :, cell[0], cell[1]].square().sum().backward()
        weight = video.grad.abs().sum(dim=(0, 1, 2))
        grid = torch.arange(64.0) + 0.5  # pixel centres
        centres.append(torch.stack([(weight.sum(1) * grid).sum(), (weight.sum(0) * grid).sum()]) / weight.sum())
    centre = torch.stack(centres).mean(0)
    for axis in (0, 1):
        assert 8 * cell[axis] <= centre[axis] <= 8 * cell[axis] + 8, (cell, centre.tolist())


def hit_cells_centre(net: SmallCNN, row: int) -> float:
    """The mean centre, in input pixels, of the rows of output cells that a one-pixel dot at
    (row, row) reaches, through all-positive convolutions (every path to the dot passes)."""
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.fill_(1.0 / module.weight[0].numel())
        video = torch.zeros(1, 3, 1, 64, 64)
        video[..., row, row] = 1.0
        hit = net.eval()(video)[0, 0].abs().sum(dim=0) > 0
    return float((hit.nonzero()[:, 0].float().mean() + 0.5) * net.output_stride)


@pytest.mark.parametrize("stride", [8, 4])
def test_cells_stand_for_the_pixels_localisation_puts_them_on(stride: int) -> None:
    """Cell j covers input pixels [s j, s (j + 1)) (actattn.localize.spatial.FrameGeometry): over
    dots at every offset within the cells, the cells a dot reaches are centred on it on average."""
    net = SmallCNN((1, 1), output_stride=stride)
    errors = [hit_cells_centre(net, row) - (row + 0.5) for row in range(16, 48)]
    assert abs(sum(errors) / len(errors)) < 0.25


def test_the_atrous_grid_is_twice_as_fine_with_the_same_weights() -> None:
    coarse = SmallCNN((1, 1), pretrained=True)
    fine = SmallCNN((1, 1), pretrained=True, output_stride=4)
    for a, b in zip(coarse.state_dict().values(), fine.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert fine.output_stride == 4 and fine(torch.zeros(1, 3, 2, 64, 44)).shape == (1, 2, 128, 16, 11)
    with pytest.raises(ValueError, match="output_stride must be 8 or 4"):
        SmallCNN(output_stride=2)


def test_frozen_stages_compute_what_their_layers_compute() -> None:
    torch.manual_seed(0)
    backbone = SmallCNN((1, 1), frozen_stages=4)
    for norm in backbone.stages[: backbone.frozen_layers]:
        if isinstance(norm, torch.nn.BatchNorm2d):  # statistics and affine far from the identity
            norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.5, 2)
            torch.nn.init.uniform_(norm.weight, 0.5, 2), torch.nn.init.uniform_(norm.bias, -1, 1)
    video = torch.randn(2, 3, 2, 32, 32)
    for _ in ("as built", "after train()"):  # the frozen layers in eval mode either way
        layer_by_layer = backbone.stages(rearrange(video, "b c t h w -> (b t) c h w"))
        torch.testing.assert_close(backbone(video), rearrange(layer_by_layer, "(b t) c h w -> b t c h w", b=2),
                                   atol=1e-5, rtol=1e-5)
        backbone.train()
    assert all(not p.requires_grad for p in backbone.stages[: backbone.frozen_layers].parameters())


def test_frozen_stages_keep_their_weights_and_statistics_through_a_fit(tiny_config: dict) -> None:
    """A real Lightning fit, which need not call ``train()``: the frozen BatchNorms must not update."""
    backbone_kwargs = {"dilations": [1, 1], "frozen_stages": 4}
    config = merged(tiny_config, model={"pretrained": True, "backbone_kwargs": backbone_kwargs})
    before = SmallCNN((1, 1), pretrained=True, frozen_stages=4).state_dict()
    backbone = fit(config)[0].model.backbone
    after = backbone.state_dict()
    frozen = [name for name in before if int(name.split(".")[1]) < backbone.frozen_layers]
    assert any(name.endswith("running_mean") for name in frozen)
    for name in frozen:
        torch.testing.assert_close(after[name], before[name], rtol=0, atol=0, msg=f"{name} changed")
    first_learning = f"stages.{backbone.frozen_layers}.weight"  # the last stage's convolution
    assert not torch.equal(after[first_learning], before[first_learning])
