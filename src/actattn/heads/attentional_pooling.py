"""Attentional pooling: rank-P bottom-up x top-down attention as low-rank second-order pooling.

Girdhar & Ramanan, "Attentional Pooling for Action Recognition", NIPS 2017.

For the frame's features X (n locations x f channels) the score of class k is
``score_k = sum_p mean_n(t_{k,p} o h_p) + bias_k`` with the top-down maps ``t_{k,p} = X a_{k,p}``
and the bottom-up maps ``h_p = X b_p`` (eq. 8, 10, 11). With the bias removed this is the
quadratic form ``Tr(X^T X W_k^T) / n`` with ``W_k = sum_p a_{k,p} b_p^T`` (eq. 2, 9): a rank-P
approximation of second-order pooling. Frame scores are averaged over T (TSN consensus, as the
paper did on HMDB51).

Cost (eq. 6): with shared bottom-up maps the scores are a linear classifier on the P
attention-pooled features ``x_p = X^T h_p / n``: two passes over X (h_p, then x_p) and a classifier
on P vectors of f, where average pooling makes one pass and classifies one vector. The top-down maps
of every class over every cell (an n x f x K product, nearly all of the work otherwise) are computed
only for ``class_maps=True`` (the pictures); the predicted class's maps in ``attention`` come from
that class's weights alone. With class-specific bottom-up maps there is no shared pooled feature
(``X^T h_{k,p}`` would be K copies of f per frame), so the scores are the inner products of each
class's top-down and bottom-up maps (eq. 10), computed over every cell: two n x f x K products.

Variants (Sec. 3.2 and Sec. 4):
- ``rank=P``: P bottom-up maps, each with its own K top-down maps; products summed over P.
- ``class_specific=True``: one bottom-up map per class and rank ("Per-class attention maps").
- ``pose_joints=J``: pose-regularised attention. A shared 1x1 conv to ``hidden_channels`` + ReLU
  feeds a 1x1 conv to J keypoint heatmaps (trained with :func:`pose_heatmap_loss`) and the
  bottom-up conv (the paper's 17-channel output is J + 1 with J = 16, P = 1). The bottom-up map
  is then a nonlinear function of X.

Choices taken from the authors' code (rohitgirdhar/AttentionalPoolingAction):
- spatial MEAN (not the paper's sum, eq. 11) of the combined map;
- attention convs initialised N(0, 0.001); the pose hidden conv N(0, 0.001) with zero bias; the
  keypoint conv Xavier-uniform with zero bias (slim's default);
- dropout 0.8 (keep_prob 0.2) on X before the top-down conv only; no normalisation (softmax or
  ReLU) of any attention map.

Deviations from the authors' code:
- Their rank loop overwrites the feature tensor with each attention map, so the rank-p (p >= 2)
  bottom-up map is a 1x1 conv of the previous attention map. Here all P bottom-up maps are
  computed from X (or from the pose hidden layer), as the paper defines rank P.
- Their top-down and bottom-up convs carry trainable biases (TF-slim's default, initialised 0).
  Here they have none, as eq. 9-11 have none; the score has one learned bias per class instead.
  With x_mean the average-pooled feature, a top-down bias c_k adds a constant to the map t_k and
  ``c_k mean_n(h) = c_k b^T x_mean`` to the score; a bottom-up bias d adds ``d a_k^T x_mean``,
  average pooling's classifier (eq. 12); together they add the constant ``c_k d``, which the
  score's bias is. The pooled form of eq. 6 would survive (h + d still weights one pooled
  feature), but the two first-order terms would make the score no longer the quadratic form of
  eq. 9, i.e. no longer low-rank second-order pooling.
"""
from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import Tensor, nn

from actattn.data.pose import keypoint_heatmaps
from actattn.heads.base import Batch, Head, Supervision, check_feats, select_class
from actattn.output import ModelOutput


def project(x: Tensor, conv: nn.Conv2d) -> Tensor:
    """Frames (N, C, H, W) through a bias-free 1x1 conv (C', C, 1, 1) -> (N, C', H, W).

    ``conv(x)`` as one matrix product: on the CPU up to twice as fast as the convolution when C' is 1.
    """
    return torch.einsum("nchw,jc->njhw", x, conv.weight[:, :, 0, 0])


def attention_maps(top_down: Tensor, bottom_up: Tensor) -> dict[str, Tensor]:
    """Rank-P maps t, h (..., P, H, W) -> "top_down", "combined" (eq. 11) and "bottom_up" (..., H, W),
    each summed over P, the factors oriented first (:func:`orient`)."""
    combined = top_down * bottom_up
    sign = orient(combined, bottom_up)
    return {"top_down": (sign * top_down).sum(dim=-3), "combined": combined.sum(dim=-3),
            "bottom_up": (sign * bottom_up).sum(dim=-3)}


def orient(combined: Tensor, bottom_up: Tensor) -> Tensor:
    """The sign s_p (..., P, 1, 1) that makes h_p positive where t_p o h_p is largest.

    Negating a_{k,p} for every k together with b_p leaves every score unchanged (eq. 10-11), so the
    factor maps t_{k,p} and h_p are defined only up to that joint sign, which the random
    initialisation picks: the same trained function can show its bottom-up map or its negative
    (measured on SynthHOI: a pointing game of 0.003 or 0.936 for one checkpoint). Each rank's pair
    is therefore shown with both factors positive at the cell where it adds most to the class's
    score, in each frame; the combined map is unchanged."""
    flat = rearrange(combined, "... p h w -> ... p (h w)")
    factor = rearrange(bottom_up.expand_as(combined), "... p h w -> ... p (h w)")  # a shared h_p: every class
    at_peak = factor.gather(-1, flat.argmax(dim=-1, keepdim=True))
    return torch.where(at_peak < 0, -1.0, 1.0).to(bottom_up.dtype)[..., None]


class AttentionalPooling(Head):
    """Rank-P attentional pooling head (optionally class-specific and/or pose-regularised).

    Args:
        in_channels: C (the paper's f).
        num_classes: K.
        rank: P, the number of bottom-up maps (and of top-down maps per class).
        class_specific: one bottom-up map per class and rank instead of one per rank.
        pose_joints: J > 0 adds the pose-regularised branch with J keypoint heatmaps.
        hidden_channels: width of the pose branch's shared hidden layer (768 in the reference).
        dropout: drop probability on X before the top-down conv (reference keep_prob 0.2).
        pose_weight: weight of the pose heatmap loss (:func:`pose_heatmap_loss`, 1 in the
            reference), added when the batch carries ``keypoints``.

    Weights, channel index ``p * K + k`` for rank p and class k:
        ``top_down.weight``: (P*K, C, 1, 1), rows a_{k,p}.
        ``bottom_up.weight``: (P or P*K, C or hidden_channels, 1, 1), rows b_p (or b_{k,p}).
        ``bias``: (K,).

    forward(feats (B, T, C, H, W), class_maps=False) returns ModelOutput with, all maps
    unnormalised (neither summing to 1 nor bounded):
        logits["action"]: (B, K) frame scores averaged over T.
        attention["bottom_up"]: (B, T, H, W) sum_p s_p h_p (for the predicted class when class_specific).
        attention["top_down"]: (B, T, H, W) sum_p s_p t_{k,p} for the predicted (argmax) class k.
            s_p = +-1 orients each rank's pair, which the scores leave free (:func:`orient`).
        attention["combined"]: (B, T, H, W) c_k = sum_p t_{k,p} o h_p for the predicted class;
            its spatial mean plus bias_k is the frame score of k.
        aux["pose"]: (B, T, J, H, W) predicted keypoint heatmaps (pose_joints > 0 only).
      and only with ``class_maps=True``, the same maps for every class:
        aux["top_down"], aux["combined"]: (B, T, K, H, W).
        aux["bottom_up"]: (B, T, K, H, W) sum_p s_p h_{k,p} per class (class_specific only).
    For P > 1 the summed (oriented) top-down and bottom-up maps are summaries; only the combined map
    explains the score exactly. In training mode the maps use the same dropped-out X as the scores.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        rank: int = 1,
        class_specific: bool = False,
        pose_joints: int = 0,
        hidden_channels: int = 768,
        dropout: float = 0.8,
        pose_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"AttentionalPooling: rank must be >= 1, got {rank}")
        if pose_joints < 0:
            raise ValueError(f"AttentionalPooling: pose_joints must be >= 0, got {pose_joints}")
        self.in_channels = in_channels
        self.rank = rank
        self.class_specific = class_specific
        self.pose_weight = pose_weight
        self.dropout = nn.Dropout(dropout)
        self.top_down = nn.Conv2d(in_channels, rank * num_classes, 1, bias=False)
        self.pose_hidden = self.pose = None
        if pose_joints > 0:
            self.pose_hidden = nn.Sequential(nn.Conv2d(in_channels, hidden_channels, 1), nn.ReLU())
            self.pose = nn.Conv2d(hidden_channels, pose_joints, 1)
        bottom_up_in = hidden_channels if pose_joints > 0 else in_channels
        self.bottom_up = nn.Conv2d(bottom_up_in, rank * (num_classes if class_specific else 1), 1, bias=False)
        self.bias = nn.Parameter(torch.zeros(num_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        """N(0, 0.001) attention and hidden convs, Xavier keypoint conv, zero biases (reference)."""
        nn.init.normal_(self.top_down.weight, std=0.001)
        nn.init.normal_(self.bottom_up.weight, std=0.001)
        if self.pose_hidden is not None:
            nn.init.normal_(self.pose_hidden[0].weight, std=0.001)
            nn.init.zeros_(self.pose_hidden[0].bias)
            nn.init.xavier_uniform_(self.pose.weight)
            nn.init.zeros_(self.pose.bias)

    def forward(self, feats: Tensor, *, class_maps: bool = False) -> ModelOutput:
        """feats (B, T, C, H, W) -> ModelOutput; the per-class maps only for ``class_maps``
        (see the class docstring)."""
        check_feats(feats, self.in_channels, "AttentionalPooling")
        b = feats.shape[0]
        x = rearrange(feats, "b t c h w -> (b t) c h w")
        x_top_down = self.dropout(x)
        hidden = x if self.pose_hidden is None else self.pose_hidden(x)
        bottom_up = self._ranked(project(hidden, self.bottom_up))  # h_p = X b_p: (N, 1 or K, P, H, W)
        per_class = {}
        if class_maps or self.class_specific:
            top_down = self._ranked(project(x_top_down, self.top_down))  # eq. 10: t_{k,p} = X a_{k,p}
            per_class = attention_maps(top_down, bottom_up)  # (N, K, H, W) each
        if self.class_specific:
            frame_scores = per_class["combined"].mean(dim=(-2, -1)) + self.bias  # eq. 11: mean_n(c_k)
        else:
            frame_scores = self._pooled_scores(x_top_down, bottom_up[:, 0])
        logits = rearrange(frame_scores, "(b t) k -> b t k", b=b).mean(dim=1)  # TSN consensus
        predicted = logits.argmax(dim=1)
        per_class = {name: rearrange(maps, "(b t) k h w -> b t k h w", b=b) for name, maps in per_class.items()}
        if self.class_specific:  # the maps the scores needed, picked
            attention = {name: select_class(maps, predicted) for name, maps in per_class.items()}
        else:
            attention = self._predicted_maps(x_top_down, bottom_up[:, 0], predicted)
        aux = {}
        if class_maps:
            aux = {name: per_class[name] for name in ("top_down", "combined")}
            if self.class_specific:
                aux["bottom_up"] = per_class["bottom_up"]
        if self.pose is not None:
            aux["pose"] = rearrange(self.pose(hidden), "(b t) j h w -> b t j h w", b=b)
        return ModelOutput(logits={"action": logits}, attention=attention, aux=aux)

    def losses(self, out: ModelOutput, batch: Batch, supervision: Supervision) -> dict[str, Tensor]:
        """The action loss, plus ``pose_weight`` times the pose heatmap loss when the head predicts
        pose and the batch carries ``keypoints`` (targets on the feature cells: :func:`keypoint_heatmaps`)."""
        losses = super().losses(out, batch, supervision)
        if "pose" in out.aux and "keypoints" in batch:
            target, valid = keypoint_heatmaps(batch["keypoints"], image_size=tuple(batch["video"].shape[-2:]),
                                              stride=supervision.feature_stride)
            losses["pose"] = self.pose_weight * pose_heatmap_loss(out.aux["pose"], target, valid)
        return losses

    def _predicted_maps(self, x: Tensor, bottom_up: Tensor, predicted: Tensor) -> dict[str, Tensor]:
        """The maps (B, T, H, W) of class ``predicted[b]`` (B,) of each clip from frames x (N, C, H, W) and
        shared bottom-up maps h_p (N, P, H, W): t_{k,p} = X a_{k,p} from that class's weights alone (eq. 10)."""
        b = predicted.shape[0]
        a = repeat(self._top_down_weights()[predicted], "b p c -> (b t) p c", t=x.shape[0] // b)
        top_down = torch.einsum("nchw,npc->nphw", x, a)
        return {name: rearrange(maps, "(b t) h w -> b t h w", b=b)
                for name, maps in attention_maps(top_down, bottom_up).items()}

    def _ranked(self, maps: Tensor) -> Tensor:
        """Maps (N, P*K', H, W), channel p * K' + k -> (N, K', P, H, W)."""
        return rearrange(maps, "n (p k) h w -> n k p h w", p=self.rank)

    def _top_down_weights(self) -> Tensor:
        """The top-down vectors a_{k,p} as (K, P, C)."""
        return rearrange(self.top_down.weight, "(p k) c 1 1 -> k p c", p=self.rank)

    def _pooled_scores(self, x: Tensor, bottom_up: Tensor) -> Tensor:
        """Frame scores (N, K) of frames x (N, C, H, W) and shared bottom-up maps h_p (N, P, H, W):
        ``sum_p a_{k,p}^T x_p + bias_k`` with ``x_p = X^T h_p / n`` (eq. 6)."""
        pooled = torch.einsum("nphw,nchw->npc", bottom_up, x) / (x.shape[-2] * x.shape[-1])  # eq. 6: X^T h_p / n
        return torch.einsum("npc,kpc->nk", pooled, self._top_down_weights()) + self.bias  # eq. 6, summed over P


def pose_heatmap_loss(pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """L2 loss between predicted and target keypoint heatmaps, over valid joints only.

    Args:
        pred, target: (B, T, J, H, W) heatmaps.
        valid: (B, T, J) bool, whether joint j of frame t of clip b is annotated.

    Per (clip, frame, joint): ``0.5 * sum_hw (target - pred)^2 / (H * W)``; averaged over the valid
    (clip, frame) items of each joint, summed over joints (the reference's ``src/loss.py``). A joint
    with no valid item adds 0; with no valid item at all the loss is a zero that keeps ``pred``'s graph.
    """
    if pred.shape != target.shape or pred.ndim != 5:
        raise ValueError(
            f"pose_heatmap_loss: pred and target must both be (B, T, J, H, W), got "
            f"{tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if valid.shape != pred.shape[:3]:
        raise ValueError(f"pose_heatmap_loss: valid must be {tuple(pred.shape[:3])}, got {tuple(valid.shape)}")
    valid = valid.bool()
    diff = torch.where(valid[..., None, None], target - pred, torch.zeros_like(pred))
    per_item = 0.5 * diff.pow(2).sum(dim=(-2, -1)) / (pred.shape[-2] * pred.shape[-1])
    count = valid.sum(dim=(0, 1)).clamp(min=1)
    return (per_item.sum(dim=(0, 1)) / count).sum()
