"""Object Relation Network (ORN): reasoning over detected object instances across frames.

Baradel, Neverova, Wolf, Mille and Mori, "Object Level Visual Reasoning in Videos", ECCV 2018.
Public code: fabienbaradel/object_level_visual_reasoning (REFERENCE_NOTES.md 3); where it and the
paper disagree this module follows the paper and says so below.

Two heads on one trunk (Sec. 3, Fig. 2):
- the activity head: features V_t, spatial mean v_t, a GRU f_gamma (eq. 9) whose states summed over
  time, h = sum_t s_t, give y^1 = W h (eq. 10);
- the object head: features U_t pooled over each object's mask (eq. 6), with the mask's shape
  through the MLP g_phi (eq. 7) and the class one-hot, o_t^k = [b u c] (eq. 8); the ORN sums
  h_theta over pairs (o_{t'}^j, o_t^k) of an earlier frame t' < t and frame t (eq. 4), a GRU
  f_phi runs over the g_t (eq. 5) and y^2 = Z r with r = sum_t r_t (eq. 11).
The prediction averages the logits, (y^1 + y^2) / 2 (Sec. 3.4, eq. 12); a linear classifier R on
each u_t^k (eq. 13) gives the auxiliary object loss of eq. 12. ``heads`` chooses which heads predict:
``"both"`` (the model), ``"activity"`` (Table 2's baseline, the activity head trained alone) or
``"object"`` (the first stage of the paper's two-stage training, Sec. 5: "first training the object
head only and then the full network"; the second stage is a run with ``heads="both"`` whose
``init_weights`` is the first stage's checkpoint). Every submodule exists in every mode, so the
stages' checkpoints load into each other.

The trunk. The paper splits ResNet-50's conv5 into a 2.5D activity copy (7x7) and a 2D stride-1
object copy (14x14, Sec. 4). A backbone here hands over one final feature map, so each head gets
one residual bottleneck block on it (width ``in_channels // 4`` inside, ``in_channels`` out, as a
ResNet conv5 block), both starting as the identity (last BN's scale 0), so a pretrained
backbone's features reach both heads unchanged at first:
- activity block: 1x1 -> (1,3,3) -> (3,1,1) -> 1x1 on (B, C, T, H, W), the temporal conv
  initialised as the identity (centre tap 1 on the channel diagonal) and followed by a ReLU
  without BN, as the authors' ``Bottleneck2_1D`` (Table 5's 2.5D inflation);
- object block: the features bilinearly upsampled x2 (the 14x14 of 7x7; the authors instead
  upsample the 14x14 map to 28x28 before pooling), then a 2D 1x1 -> 3x3 -> 1x1 block, stride 1.

Choices where the paper is silent:
- Masks (any resolution) are resized by area averaging (adaptive average pooling): to the object
  grid (2H, 2W) for eq. 6, to 28 x 28 for g_phi (784 inputs, the authors' size), to the feature
  grid (H, W) for the maps. Area resizing keeps a mask's support, so a map is exactly 0 outside it.
- eq. 6 is the mask-weighted average sum(m U) / max(sum m, 1e-6) (the authors' "ROI pooling"
  is this mask-average too); an empty mask pools to 0.
- A slot is real iff its class is >= 0. The class one-hot has num_object_classes + 1 entries:
  index 0 is "no class" (COCO's background slot, 80 + 1 = 81, so 2048 + 100 + 81 = 2229 wide),
  class c is index c + 1. It enters o_t^k raw, as eq. 8 and the 2229 say (the authors embed it
  with an MLP 81 -> 100 -> 100).
- Every MLP layer is followed by a ReLU, the last one included ("ReLU ... after each layer for
  each network", Sec. 4; so are the authors'). No dropout (the paper names none; the authors use
  0.5 in every MLP layer).
- Pairs are inter-frame, o_{t'}^j from frame t' and o_t^k from frame t (the authors' code takes
  both from O_t, REFERENCE_NOTES.md 3), ordered (earlier, later), over real slots only. In
  training one t' < t is drawn per t and clip (:func:`draw_earlier_frames`, torch's global RNG,
  so a resumed run draws the same); in evaluation g_t is the mean over all t' < t, which is
  deterministic. Frame 0 has no earlier frame: g_0 is not formed and f_phi runs over
  t = 1 .. T-1 (T - clique + 1 steps for cliques of 3); with fewer frames r = 0 and y^2 is Z's bias.
- r = sum_t r_t and h = sum_t s_t are sums of the GRU states, as Sec. 3.4 writes (the authors
  average the GRU outputs and average-pool the activity features instead of a GRU).
- eq. 12's object term is the sum over the real slots of each clip (sum_t sum_k), averaged over
  the clips, times ``object_loss_weight`` (1, the paper's; the authors average over slots and
  count empty ones as class 0).

Ablations (Table 2), as constructor options:
- ``objects="pixels"``: Santoro et al.'s relation network on feature-map cells: the object grid
  average-pooled to 4 x 4 = 16 "objects" per frame (the pooling bins serve as their masks), the
  shape feature the cell centre's (y, x) in [-1, 1], no class, no object loss; masks and classes
  are not read.
- ``object_features``: a subset of ("visual", "shape", "class") making up o_t^k (Table 2's
  COCO-visual / -shape / -class keep one); R and the object loss always read u_t^k.
- ``pairs="intra"``: cliques within one frame, o_t^j with o_t^k for all ordered pairs, self-pairs
  included (what the authors' code does), for every t = 0 .. T-1.
- ``aggregator="mlp"``: f_phi without recurrence, r_t = MLP(g_t) (Linear-ReLU-Linear-ReLU,
  ``gru_hidden`` wide), r = sum_t r_t.
- ``clique``: the clique size of eq. 3. 2: pairs (eq. 4). 1: each object alone through h_theta,
  summed over the item set O_{t'} u O_t of eq. 1, so g_t = sum_j h(o_{t'}^j) + sum_k h(o_t^k).
  3: triples (o_{t''}^i, o_{t'}^j, o_t^k), t'' < t' < t, one object per frame (training draws one
  (t'', t') per t; evaluation averages over all); it costs K^3 per frame triple.

h_theta's first layer on a concatenation [o^1 .. o^c] is sum_i W_i o^i + b, so each W_i o is
computed once per object and the cliques only add them: no loop over objects, cliques or frames.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy

from actattn.heads.base import Batch, Head, Supervision, check_feats
from actattn.heads.relations import clique_relations, relation_cliques
from actattn.output import ModelOutput

OBJECTS = ("masks", "pixels")
FEATURES = ("visual", "shape", "class")
PAIRS = ("inter", "intra")
AGGREGATORS = ("gru", "mlp")
HEADS = ("both", "activity", "object")
SHAPE_GRID = 28  # g_phi reads the mask at 28 x 28 (the authors' 784)
PIXEL_GRID = 4  # objects="pixels": 4 x 4 cells per frame
MASK_EPS = 1e-6


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of widths ``sizes``, each followed by a ReLU (Sec. 4), the last one too."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    """Residual bottleneck C -> C/4 -> C starting as the identity; ``temporal=True`` is the 2.5D
    activity block on (N, C, T, H, W), else the 2D object block on (N, C, H, W)."""

    def __init__(self, channels: int, *, temporal: bool) -> None:
        super().__init__()
        width = max(channels // 4, 1)
        conv, norm = (nn.Conv3d, nn.BatchNorm3d) if temporal else (nn.Conv2d, nn.BatchNorm2d)
        spatial = ((1, 3, 3), (0, 1, 1)) if temporal else (3, 1)
        layers = [conv(channels, width, 1, bias=False), norm(width), nn.ReLU(),
                  conv(width, width, spatial[0], padding=spatial[1], bias=False), norm(width), nn.ReLU()]
        if temporal:
            time_conv = nn.Conv3d(width, width, (3, 1, 1), padding=(1, 0, 0), bias=False)
            with torch.no_grad():  # identity: centre tap 1 on the channel diagonal
                time_conv.weight.zero_()
                time_conv.weight[:, :, 1, 0, 0] = torch.eye(width)
            layers += [time_conv, nn.ReLU()]  # no BN after the temporal conv (the authors')
        last_norm = norm(channels)
        nn.init.zeros_(last_norm.weight)  # the block starts as the identity
        self.body = nn.Sequential(*layers, conv(width, channels, 1, bias=False), last_norm)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


def resize_masks(masks: Tensor, size: tuple[int, int]) -> Tensor:
    """Masks (..., h, w) -> (..., *size) by area averaging (support kept, values in [0, 1])."""
    flat = masks.reshape(-1, 1, *masks.shape[-2:])
    return F.interpolate(flat, size=size, mode="area").reshape(*masks.shape[:-2], *size)


def mask_pool(features: Tensor, masks: Tensor) -> Tensor:
    """eq. 6: features (N, C, h, w), masks (N, K, h, w) -> mask-weighted averages (N, K, C)."""
    area = masks.sum(dim=(-2, -1)).clamp_min(MASK_EPS)
    return torch.einsum("nkhw,nchw->nkc", masks, features) / area[..., None]


def cell_masks(size: tuple[int, int], cells: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The bins of adaptive average pooling of a (h, w) grid to cells x cells, as masks (cells^2, h, w)."""

    def bins(length: int) -> Tensor:
        i = torch.arange(cells, device=device)[:, None]
        start, end = (i * length) // cells, -((-(i + 1) * length) // cells)
        pos = torch.arange(length, device=device)[None]
        return ((pos >= start) & (pos < end)).to(dtype)

    return rearrange(torch.einsum("ih,jw->ijhw", bins(size[0]), bins(size[1])), "i j h w -> (i j) h w")


class ObjectRelationNetwork(Head):
    """ORN head: activity head (2.5D block, GRU) + object head (mask-pooled objects, inter-frame
    relations, GRU), or one of Table 2's ablations (module docstring).

    Args:
        in_channels: C of the backbone features (the paper's 2048 on ResNet-50), kept through both
            heads: u_t^k and v_t are C wide.
        num_classes: action classes.
        num_object_classes: detector classes (COCO's 80); the one-hot has one more ("no class").
        objects: ``"masks"`` (detected instances) or ``"pixels"`` (4 x 4 feature cells).
        object_features: subset of ("visual", "shape", "class") in o_t^k; None: all that apply
            (no "class" for pixels).
        pairs: ``"inter"`` (t' < t, the paper) or ``"intra"`` (within a frame, the authors' code).
        aggregator: f_phi, ``"gru"`` (eq. 5) or ``"mlp"``.
        clique: 1, 2 or 3 (eq. 3).
        heads: ``"both"``, ``"activity"`` or ``"object"`` (module docstring).
        relation_hidden: h_theta's width, both hidden layers and output (512).
        gru_hidden: f_phi's state r_t (256).
        activity_hidden: f_gamma's state s_t (512).
        shape_hidden: g_phi's hidden and output width (100).
        object_loss_weight: weight of eq. 12's object term (1).

    Attributes: ``object_dim`` (D, the width of o_t^k: 2229 for C = 2048 and 80 classes);
    submodules ``activity_block``, ``activity_gru`` (f_gamma), ``activity_classifier`` (W),
    ``object_block``, ``shape_mlp`` (g_phi), ``relation_mlp`` (h_theta), ``reasoning`` (f_phi),
    ``relation_classifier`` (Z), ``object_classifier`` (R, masks only).

    forward(feats (B, T, C, H, W), *, object_masks (B, T, K, h, w) float in [0, 1] at any
    resolution, object_classes (B, T, K) long with -1 for an empty slot) -> ModelOutput:
        logits["action"]: (B, num_classes) (y^1 + y^2) / 2; ["activity"]: y^1; ["relation"]: y^2
            (``heads="activity"``: "action" is y^1 and there is no "relation", no map, no aux;
            ``"object"``: "action" is y^2 and there is no "activity").
        attention["relation"]: (B, T, H, W) on the feature grid: each object's share of the
            frame's relations (the norm of its summed h_theta outputs, divided by the frame's sum)
            spread over its mask in proportion to the mask's weight; it sums to 1 over a frame with
            relations and is all zero on a frame without (no real object, too few frames, or every
            h_theta output 0), and zero outside the objects' masks. It carries no gradient.
        aux["object_logits"]: (B, T, K, num_object_classes) R u_t^k (masks only).
        aux["object_shares"]: (B, T, K) the shares above (0 for empty slots).
        aux["interactions"]: (B, T, relation_hidden) g_t (eq. 4), 0 where not formed.
        aux["relation_strength"]: (B, P, K, K) the norm of each inter-frame pair's h_theta output
            (weighted as in g_t), slot j of frame t' then slot k of frame t, and
            aux["relation_frames"]: (B, P, 2) long, the pair's (t', t) (objects="masks", cliques of
            2, inter-frame pairs only).
    Masks and classes are required with objects="masks" and ignored with "pixels". ``class_maps``
    is accepted and ignored: there are no per-class maps. K = 0 is allowed.
    """

    from_data = ("num_object_classes",)

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        num_object_classes: int = 80,
        objects: str = "masks",
        object_features: tuple[str, ...] | list[str] | None = None,
        pairs: str = "inter",
        aggregator: str = "gru",
        clique: int = 2,
        heads: str = "both",
        relation_hidden: int = 512,
        gru_hidden: int = 256,
        activity_hidden: int = 512,
        shape_hidden: int = 100,
        object_loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        for name, value, allowed in (("objects", objects, OBJECTS), ("pairs", pairs, PAIRS),
                                     ("aggregator", aggregator, AGGREGATORS), ("clique", clique, (1, 2, 3)),
                                     ("heads", heads, HEADS)):
            if value not in allowed:
                raise ValueError(f"ObjectRelationNetwork: {name} must be one of {allowed}, got {value!r}")
        if object_features is None:
            object_features = FEATURES if objects == "masks" else ("visual", "shape")
        features = tuple(object_features)
        if not features or any(f not in FEATURES for f in features) or (objects == "pixels" and "class" in features):
            raise ValueError(f"ObjectRelationNetwork: object_features must be a non-empty subset of {FEATURES} "
                             f"(no 'class' with objects='pixels'), got {features!r}")
        self.in_channels, self.num_classes, self.num_object_classes = in_channels, num_classes, num_object_classes
        self.objects, self.object_features, self.pairs, self.clique = objects, features, pairs, clique
        self.aggregator, self.object_loss_weight, self.heads = aggregator, object_loss_weight, heads
        self.recognises_objects = objects == "masks" and heads != "activity"  # R and eq. 12's object term
        self.reads = ({"object_masks": "object_masks", "object_classes": "object_classes"}
                      if self.recognises_objects else {})
        self.makes_maps = heads != "activity"
        self.num_frames = None

        self.activity_block = Bottleneck(in_channels, temporal=True)
        self.activity_gru = nn.GRU(in_channels, activity_hidden, batch_first=True)  # f_gamma, eq. 9
        self.activity_classifier = nn.Linear(activity_hidden, num_classes)  # W, eq. 10
        self.object_block = Bottleneck(in_channels, temporal=False)
        self.shape_mlp = mlp([SHAPE_GRID ** 2, shape_hidden, shape_hidden]) if objects == "masks" else None  # g_phi
        widths = {"visual": in_channels, "shape": shape_hidden if objects == "masks" else 2,
                  "class": num_object_classes + 1}
        self.object_dim = sum(widths[f] for f in features)
        self.relation_mlp = mlp([clique * self.object_dim, relation_hidden, relation_hidden, relation_hidden])  # h_theta
        if aggregator == "gru":
            self.reasoning: nn.Module = nn.GRU(relation_hidden, gru_hidden, batch_first=True)  # f_phi, eq. 5
        else:
            self.reasoning = mlp([relation_hidden, gru_hidden, gru_hidden])
        self.relation_classifier = nn.Linear(gru_hidden, num_classes)  # Z, eq. 11
        self.object_classifier = nn.Linear(in_channels, num_object_classes) if objects == "masks" else None  # R

    def forward(
        self,
        feats: Tensor,
        *,
        object_masks: Tensor | None = None,
        object_classes: Tensor | None = None,
        class_maps: bool = False,
    ) -> ModelOutput:
        """feats (B, T, C, H, W) -> ModelOutput (see the class docstring)."""
        check_feats(feats, self.in_channels, "ObjectRelationNetwork")
        b, t, _, height, width = feats.shape
        if self.heads == "activity":
            y1 = self.activity(feats)
            return ModelOutput(logits={"action": y1, "activity": y1})
        grid = (2 * height, 2 * width)
        x = F.interpolate(rearrange(feats, "b t c h w -> (b t) c h w"), size=grid, mode="bilinear", align_corners=False)
        object_map = self.object_block(x)  # U_t: (B*T, C, 2H, 2W)
        masks, classes = self._object_inputs(feats, object_masks, object_classes, grid)
        u = rearrange(mask_pool(object_map, rearrange(masks, "b t k h w -> (b t) k h w")),
                      "(b t) k c -> b t k c", b=b)  # eq. 6
        valid = classes >= 0
        objects = torch.cat([self._part(name, u, masks, classes) for name in self.object_features], dim=-1)  # eq. 8
        members, later, weight = relation_cliques(t, clique=self.clique, pairs=self.pairs, training=self.training,
                                                  batch=b, device=feats.device)
        g, share, strength = clique_relations(self.relation_mlp, objects, valid, members, later, weight)
        first = 0 if self.pairs == "intra" else max(self.clique, 2) - 1  # the first frame with an earlier one
        y2 = self.relation_classifier(self.reason(g[:, first:]))
        shares = self._shares(share.detach())
        aux = {"object_shares": shares, "interactions": g}
        if self.clique == 2 and self.pairs == "inter" and self.objects == "masks":  # for the pictures (Fig. 4, 5)
            aux |= {"relation_strength": strength.detach(), "relation_frames": members}
        if self.object_classifier is not None:
            aux["object_logits"] = self.object_classifier(u)  # eq. 13
        feature_masks = F.avg_pool2d(rearrange(masks, "b t k h w -> (b t) k h w"), 2)
        relation_map = relation_attention(shares, rearrange(feature_masks, "(b t) k h w -> b t k h w", b=b))
        if object_masks is not None and object_masks.shape[2] == 0 and self.objects == "masks":
            aux = {**aux, "object_shares": shares[:, :, :0], "object_logits": aux["object_logits"][:, :, :0]}
        if self.heads == "object":
            logits = {"action": y2, "relation": y2}
        else:
            y1 = self.activity(feats)
            logits = {"action": (y1 + y2) / 2, "activity": y1, "relation": y2}  # eq. 12's average
        return ModelOutput(logits=logits, attention={"relation": relation_map}, aux=aux)

    def activity(self, feats: Tensor) -> Tensor:
        """Activity head: feats (B, T, C, H, W) -> y^1 (B, num_classes)."""
        v = self.activity_block(rearrange(feats, "b t c h w -> b c t h w")).mean(dim=(-2, -1))  # v_t
        s, _ = self.activity_gru(rearrange(v, "b c t -> b t c"))  # eq. 9
        return self.activity_classifier(s.sum(dim=1))  # eq. 10, h = sum_t s_t

    def reason(self, g: Tensor) -> Tensor:
        """f_phi over g (B, T', H) -> r = sum_t r_t (B, gru_hidden); 0 when T' = 0."""
        if g.shape[1] == 0:
            return g.new_zeros(g.shape[0], self.relation_classifier.in_features)
        if isinstance(self.reasoning, nn.GRU):
            r, _ = self.reasoning(g)  # eq. 5
        else:
            r = self.reasoning(g)  # aggregator="mlp": r_t = MLP(g_t)
        return r.sum(dim=1)  # eq. 11, r = sum_t r_t

    def _object_inputs(
        self, feats: Tensor, object_masks: Tensor | None, object_classes: Tensor | None, grid: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        """Masks on the object grid (B, T, K, 2H, 2W) and classes (B, T, K): the detections (an
        empty slot added when K = 0), or the 4 x 4 cells with class 0 for objects="pixels"."""
        b, t = feats.shape[:2]
        if self.objects == "pixels":
            cells = cell_masks(grid, PIXEL_GRID, feats.dtype, feats.device)
            return (cells.expand(b, t, *cells.shape),
                    torch.zeros(b, t, cells.shape[0], dtype=torch.long, device=feats.device))
        if object_masks is None or object_classes is None:
            raise ValueError("ObjectRelationNetwork(objects='masks'): forward needs object_masks= (B, T, K, h, w) "
                             "and object_classes= (B, T, K)")
        if object_masks.ndim != 5 or object_masks.shape[:2] != (b, t) or object_classes.shape != object_masks.shape[:3]:
            raise ValueError(f"ObjectRelationNetwork: expected object_masks ({b}, {t}, K, h, w) and object_classes "
                             f"({b}, {t}, K) for feats {tuple(feats.shape)}, got {tuple(object_masks.shape)} and "
                             f"{tuple(object_classes.shape)}")
        if object_classes.numel() and object_classes.max() >= self.num_object_classes:
            raise ValueError(f"ObjectRelationNetwork: object_classes must lie in [-1, {self.num_object_classes}), "
                             f"got a maximum of {object_classes.max().item()}")
        masks, classes = object_masks.to(feats.dtype), object_classes.long()
        if masks.shape[2] == 0:
            masks = masks.new_zeros(b, t, 1, *masks.shape[-2:])
            classes = classes.new_full((b, t, 1), -1)
        return resize_masks(masks, grid), classes

    def _part(self, name: str, u: Tensor, masks: Tensor, classes: Tensor) -> Tensor:
        """One part of o_t^k (B, T, K, ...): "visual" u (eq. 6), "shape" b (eq. 7), "class" c."""
        if name == "visual":
            return u
        if name == "class":
            return F.one_hot(classes.clamp_min(-1) + 1, self.num_object_classes + 1).to(u.dtype)
        if self.shape_mlp is None:  # pixels: the cell centres' (y, x) in [-1, 1]
            cells = math.isqrt(masks.shape[2])
            centre = (torch.arange(cells, device=u.device, dtype=u.dtype) + 0.5) / cells * 2 - 1
            coords = torch.stack(torch.meshgrid(centre, centre, indexing="ij"), dim=-1).reshape(-1, 2)
            return coords.expand(*u.shape[:2], -1, -1)
        return self.shape_mlp(resize_masks(masks, (SHAPE_GRID, SHAPE_GRID)).flatten(-2))  # eq. 7

    @staticmethod
    def _shares(share: Tensor) -> Tensor:
        """Per-object h_theta sums (B, T, K, H) -> norms normalised over the frame's objects (B, T, K)."""
        norms = torch.linalg.vector_norm(share, dim=-1)
        total = norms.sum(dim=-1, keepdim=True)
        return torch.where(total > 0, norms / total.clamp_min(torch.finfo(norms.dtype).tiny), 0.0)

    def losses(self, out: ModelOutput, batch: Batch, supervision: Supervision) -> dict[str, Tensor]:
        """eq. 12: the dataset's action criterion on (y^1 + y^2) / 2, and (objects="masks") the
        object term: cross-entropy of R u_t^k (eq. 13) against the detector's class, summed over
        the real slots of a clip, averaged over clips, times ``object_loss_weight``."""
        losses = {"action": supervision.action_loss(out.logits["action"], batch["label"])}
        if self.recognises_objects:
            losses["object"] = self.object_loss_weight * object_loss(out.aux["object_logits"], batch["object_classes"])
        return losses

    def metrics(self) -> dict[str, Metric]:
        """``object_top1``: accuracy of R over the real slots (objects="masks", with the object head)."""
        if not self.recognises_objects:
            return {}
        return {"object_top1": MulticlassAccuracy(self.num_object_classes, average="micro")}

    def metric_inputs(self, out: ModelOutput, batch: Batch) -> dict[str, tuple[Tensor, Tensor]]:
        """Softmax probabilities (N, num_object_classes) of the N real slots and their classes (N,)."""
        if not self.recognises_objects:
            return {}
        classes = batch["object_classes"].long()
        valid = classes >= 0
        return {"object_top1": (out.aux["object_logits"][valid].softmax(dim=-1), classes[valid])}


def object_loss(object_logits: Tensor, object_classes: Tensor) -> Tensor:
    """eq. 12's object term: logits (B, T, K, N) and classes (B, T, K), -1 for an empty slot ->
    sum over the real slots of each clip of the cross-entropy, mean over clips. No real slot gives
    0, still attached to the logits' graph."""
    classes = object_classes.long()
    valid = (classes >= 0).to(object_logits.dtype)
    per_slot = F.cross_entropy(rearrange(object_logits, "b t k n -> b n t k"), classes.clamp_min(0), reduction="none")
    return (per_slot * valid).sum() / max(object_logits.shape[0], 1)


def relation_attention(shares: Tensor, masks: Tensor) -> Tensor:
    """Shares (B, T, K) and masks on the feature grid (B, T, K, H, W) -> map (B, T, H, W): each
    share spread over its mask in proportion to the mask's weight, renormalised to sum to 1 per
    frame; all zero on a frame without shares or masks."""
    area = masks.sum(dim=(-2, -1), keepdim=True).clamp_min(MASK_EPS)
    painted = torch.einsum("btk,btkhw->bthw", shares, masks / area)
    total = painted.sum(dim=(-2, -1), keepdim=True)
    return torch.where(total > 0, painted / total.clamp_min(torch.finfo(painted.dtype).tiny), 0.0)
