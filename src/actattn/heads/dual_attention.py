"""Dual Attention Network: action and object priors steer each other's spatial attention.

Xiao, Fan, Gutfreund, Monfort, Oliva and Zhou, "Reasoning About Human-Object Interactions Through
Dual Attention Networks", ICCV 2019. No public code exists (REFERENCE_NOTES.md 2); everything
here comes from the paper, and where it is silent the choice is listed below.

Two steps (Sec. 2.4, Fig. 2) on backbone features f_k (C x N, N = H*W, per frame k):
1. first prediction: the action head and the object head read the spatially averaged frames
   (eq. 1) through a temporal module; their softmax probabilities are the priors p^a, p^o;
2. two two-layer MLPs encode the priors into h^a, h^o; the dual attention module (Sec. 2.3,
   Fig. 3) turns them into per-frame attention over the N positions, the object prior steering
   the ACTION attention alpha (eq. 6, 8) and the action prior the OBJECT attention beta (eq. 7, 9);
   the attended frames (eq. 10, 11) replace the averaged ones in eq. 3 or 5 for the second
   prediction, made by heads that share no weights with the first ones (Sec. 3.1).

Temporal modules (Sec. 2.1, 3.1): ``"tsn"`` averages the frame features over T (eq. 5) and applies
a two-layer MLP (also the head of a TSM backbone, whose frames are already temporally mixed);
``"trn"`` is the multi-scale TRN of eq. 3-4 (:class:`~actattn.temporal.MultiScaleTRN`).

Modes, the ablations of Table 1:
- ``"baseline"``: action head on averaged frames (eq. 1), no objects, no attention;
- ``"multitask"``: action and object heads on averaged frames, no attention (Table 1a);
- ``"self"``: attention from the features alone (eq. 6-9 without the prior terms), one step
  (Table 1c);
- ``"dual"``: the full two-step model;
- ``"gt_priors"``: one-hot ground-truth labels are the priors, in training and evaluation
  (Table 1b, and the affordance maps of Sec. 4.2), one step.

Choices where the paper is silent or unclear:
- The paper writes ``W_a, W_o, W_ota, W_ato in R^{N x d}`` and ``w_a, w_o in R^N``, i.e. an
  attention hidden size equal to the number of positions; that would tie the weights to the
  feature grid. Here the hidden size is ``embed_dim`` (512), as in the co-attention models it
  cites. W_a, W_o, W_ota, W_ato, w_a, w_o have no bias (the equations have none).
- eq. 10-11 average the backbone features f_k (C channels, after the 0.5 dropout), not their
  512-channel projection, so that the second-step heads read the same frame features as the
  first-step heads ("substituting f-bar with f-tilde in eq. 3 or 5").
- The projection to 512 is one linear layer without activation, shared by both attentions.
- The prior MLPs are Linear-ReLU-Linear-ReLU, both layers ``prior_hidden`` wide ("both layers of
  the MLP have 512 channels ... with ReLU activations"), so h^a, h^o >= 0.
- The object prior p^o is the two object classifiers' softmax outputs concatenated
  (2 * num_objects values); in ``"gt_priors"`` the two one-hot object labels concatenated.
- The priors are not detached: gradients of the second step flow into the first-step heads
  ("integrated into one network for end-to-end learning", Sec. 2.4).
- One object head per step (the paper's "another multi-scale TRN module is used for object
  recognition") outputs 2 * num_objects scores, split into the two softmax classifiers
  ``"object"`` and ``"object_2"``.
- The TSN/TSM head is Linear(C, trn_bottleneck)-ReLU-Linear (the paper gives no width; the TRN's
  256 is reused). No dropout inside the heads (Sec. 3.1).
- All heads of a TRN model seed their tuple sampling with the same ``seed``, so the heads of one
  forward pass use the same frame tuples. Weights get PyTorch's default initialisation.
- ``"self"`` and ``"gt_priors"`` have no first-step heads: nothing would use their predictions.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy

from actattn.heads.base import Batch, Head, Supervision, check_feats
from actattn.output import ModelOutput
from actattn.temporal import MultiScaleTRN, SegmentConsensus

MODES = ("baseline", "multitask", "self", "dual", "gt_priors")
TEMPORAL = ("tsn", "trn")
TASKS = ("action", "object", "object_2")


def temporal_head(
    in_features: int, num_classes: int, *, temporal: str, num_frames: int, hidden: int, num_tuples: int, seed: int
) -> nn.Module:
    """Frame features (B, T, D) -> logits (B, num_classes): eq. 5 + two-layer MLP, or TRN (eq. 3-4)."""
    if temporal == "trn":
        return MultiScaleTRN(in_features, num_classes, num_frames, bottleneck=hidden, num_tuples=num_tuples, seed=seed)
    return nn.Sequential(
        SegmentConsensus(),  # eq. 5
        nn.Linear(in_features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )


def prior_mlp(num_classes: int, hidden: int) -> nn.Sequential:
    """Probabilities (B, num_classes) -> prior encoding h (B, hidden): two ReLU layers."""
    return nn.Sequential(nn.Linear(num_classes, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())


class DualAttentionModule(nn.Module):
    """Per-frame spatial attention for action (alpha) and object (beta), eq. 6-9 (Fig. 3).

    Args:
        in_channels: C of the frame features.
        embed_dim: width of the projection of the features and of the attention's hidden layer.
        prior_dim: width of h^a and h^o; ``None`` builds self attention (no prior terms).

    forward(frames (B, T, N, C), h_a (B, prior_dim), h_o (B, prior_dim)) -> (alpha, beta), each
    (B, T, N) and summing to 1 over the N positions of each frame. Without priors (``h_a`` and
    ``h_o`` None, required when ``prior_dim`` is None) the prior terms are left out.
    """

    def __init__(self, in_channels: int, embed_dim: int, prior_dim: int | None) -> None:
        super().__init__()
        self.project = nn.Linear(in_channels, embed_dim)
        self.action_feature = nn.Linear(embed_dim, embed_dim, bias=False)  # W_a
        self.object_feature = nn.Linear(embed_dim, embed_dim, bias=False)  # W_o
        self.action_score = nn.Linear(embed_dim, 1, bias=False)  # w_a
        self.object_score = nn.Linear(embed_dim, 1, bias=False)  # w_o
        self.object_to_action = self.action_to_object = None
        if prior_dim is not None:
            self.object_to_action = nn.Linear(prior_dim, embed_dim, bias=False)  # W_ota
            self.action_to_object = nn.Linear(prior_dim, embed_dim, bias=False)  # W_ato

    def forward(self, frames: Tensor, h_a: Tensor | None = None, h_o: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """frames (B, T, N, C) -> alpha, beta (B, T, N); see the class docstring."""
        with_priors = self.object_to_action is not None
        if with_priors != (h_a is not None and h_o is not None):
            need = "h_a and h_o" if with_priors else "no priors (built with prior_dim=None)"
            raise ValueError(f"DualAttentionModule: expected {need}")
        g = self.project(frames)
        action_in, object_in = self.action_feature(g), self.object_feature(g)
        if with_priors:
            action_in = action_in + self.object_to_action(h_o)[:, None, None]
            object_in = object_in + self.action_to_object(h_a)[:, None, None]
        z_a = self.action_score(torch.tanh(action_in)).squeeze(-1)  # eq. 6 (self attention: no W_ota h^o)
        z_o = self.object_score(torch.tanh(object_in)).squeeze(-1)  # eq. 7 (self attention: no W_ato h^a)
        return z_a.softmax(dim=-1), z_o.softmax(dim=-1)  # eq. 8, 9


class DualAttention(Head):
    """Dual Attention Network head (or one of its Table 1 ablations, see ``mode``).

    Args:
        in_channels: C of the backbone features.
        num_actions: number of action classes (174 on Something-Something V2).
        num_objects: number of object categories INCLUDING the null label used as the second
            object of one-object actions (e.g. ``len(ObjectVocabulary)``).
        mode: ``"baseline"``, ``"multitask"``, ``"self"``, ``"dual"`` or ``"gt_priors"``.
        temporal: ``"tsn"`` (eq. 5 + MLP; also for TSM backbones) or ``"trn"`` (eq. 3-4).
        num_frames: T, needed by ``"trn"`` (the forward checks it); unused by ``"tsn"``.
        embed_dim: projection and attention width (512).
        prior_hidden: width of both layers of the prior MLPs (512).
        dropout: drop probability on the backbone features (0.5).
        trn_bottleneck: hidden width of the recognition heads (TRN's g and h: 256; TSN's MLP).
        trn_tuples: frame tuples per TRN scale.
        seed: seeds the TRN tuple sampling (same for every head).

    Submodules: ``action_head``, ``object_head`` (final prediction; ``object_head`` absent in
    ``"baseline"``); in ``"dual"`` also ``action_head_first``, ``object_head_first``; in
    ``"dual"`` and ``"gt_priors"`` ``action_prior`` and ``object_prior`` (p -> h); in the attention
    modes ``attention`` (:class:`DualAttentionModule`).

    forward(feats (B, T, C, H, W), *, action_labels (B,), object_labels (B, 2)) -> ModelOutput:
        logits["action"]: (B, num_actions), the final (second-step in ``"dual"``) prediction.
        logits["object"], logits["object_2"]: (B, num_objects), first and second object (not in
            ``"baseline"``).
        logits["action_first"], ["object_first"], ["object_2_first"]: the first-step predictions
            whose softmax are the priors (``"dual"`` only).
        attention["action"]: (B, T, H, W) alpha, the attention for the action (steered by the
            object prior), a softmax over each frame's H*W positions: sums to 1 per frame.
        attention["object"]: (B, T, H, W) beta, the attention for the objects (steered by the
            action prior), also summing to 1 per frame.
    ``"baseline"`` and ``"multitask"`` return no maps. The labels are used, and required, only in
    ``"gt_priors"``; other modes ignore them. ``class_maps`` (the other heads' request for per-class
    maps) is accepted and ignored: this head has no per-class maps.

    The head contract (:class:`~actattn.heads.base.Head`): ``num_objects`` comes from the data
    (``from_data``); ``"gt_priors"`` reads the batch's ``label`` and ``objects``; the losses are
    every prediction's cross-entropy (:meth:`losses`); ``object_top1`` scores the first object.
    """

    from_data = ("num_objects",)

    def __init__(
        self,
        in_channels: int,
        num_actions: int,
        num_objects: int,
        *,
        mode: str = "dual",
        temporal: str = "tsn",
        num_frames: int = 8,
        embed_dim: int = 512,
        prior_hidden: int = 512,
        dropout: float = 0.5,
        trn_bottleneck: int = 256,
        trn_tuples: int = 3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"DualAttention: mode must be one of {MODES}, got {mode!r}")
        if temporal not in TEMPORAL:
            raise ValueError(f"DualAttention: temporal must be one of {TEMPORAL}, got {temporal!r}")
        if num_objects < 2:
            raise ValueError(f"DualAttention: num_objects counts the null label too, so must be >= 2, "
                             f"got {num_objects}")
        self.in_channels = in_channels
        self.num_actions = num_actions
        self.num_objects = num_objects
        self.mode = mode
        self.temporal = temporal
        self.dropout = nn.Dropout(dropout)

        def head(num_classes: int) -> nn.Module:
            return temporal_head(
                in_channels, num_classes, temporal=temporal, num_frames=num_frames,
                hidden=trn_bottleneck, num_tuples=trn_tuples, seed=seed,
            )

        self.action_head = head(num_actions)
        self.object_head = None if mode == "baseline" else head(2 * num_objects)
        self.action_head_first = self.object_head_first = None
        if mode == "dual":
            self.action_head_first = head(num_actions)
            self.object_head_first = head(2 * num_objects)
        self.action_prior = self.object_prior = None
        if mode in ("dual", "gt_priors"):
            self.action_prior = prior_mlp(num_actions, prior_hidden)  # p^a -> h^a
            self.object_prior = prior_mlp(2 * num_objects, prior_hidden)  # p^o -> h^o
        self.attention = None
        if mode in ("self", "dual", "gt_priors"):
            self.attention = DualAttentionModule(in_channels, embed_dim, None if mode == "self" else prior_hidden)
        if mode == "gt_priors":
            self.reads = {"action_labels": "label", "object_labels": "objects"}
        self.makes_maps = self.attention is not None
        self.num_frames = num_frames if temporal == "trn" else None

    def forward(
        self,
        feats: Tensor,
        *,
        action_labels: Tensor | None = None,
        object_labels: Tensor | None = None,
        class_maps: bool = False,
    ) -> ModelOutput:
        """feats (B, T, C, H, W) -> ModelOutput (see the class docstring)."""
        check_feats(feats, self.in_channels, "DualAttention")
        if self.num_frames is not None and feats.shape[1] != self.num_frames:
            raise ValueError(f"DualAttention(temporal='trn'): expected T = num_frames = {self.num_frames} frames, "
                             f"got feats {tuple(feats.shape)}")
        frames = rearrange(self.dropout(feats), "b t c h w -> b t (h w) c")
        if self.attention is None:
            averaged = frames.mean(dim=2)  # eq. 1
            return ModelOutput(logits=self._predict(averaged, averaged, self.action_head, self.object_head))
        logits: dict[str, Tensor] = {}
        if self.mode == "dual":
            averaged = frames.mean(dim=2)  # eq. 1
            first = self._predict(averaged, averaged, self.action_head_first, self.object_head_first)
            logits.update({f"{task}_first": value for task, value in first.items()})
        alpha, beta = self.attention(frames, *self.priors(logits, action_labels, object_labels, feats))
        attended_action = torch.einsum("btn,btnc->btc", alpha, frames)  # eq. 10
        attended_object = torch.einsum("btn,btnc->btc", beta, frames)  # eq. 11
        logits.update(self._predict(attended_action, attended_object, self.action_head, self.object_head))
        height = feats.shape[-2]
        attention = {
            "action": rearrange(alpha, "b t (h w) -> b t h w", h=height),
            "object": rearrange(beta, "b t (h w) -> b t h w", h=height),
        }
        return ModelOutput(logits=logits, attention=attention)

    def losses(self, out: ModelOutput, batch: Batch, supervision: Supervision) -> dict[str, Tensor]:
        """Every prediction's loss, keyed like the logits (:func:`dual_attention_loss`), the action
        ones by the dataset's criterion."""
        return dual_attention_loss(out, batch["label"], batch.get("objects"), supervision.action_loss)

    def metrics(self) -> dict[str, Metric]:
        """``object_top1``: accuracy of the first object (never the null label), beyond ``"baseline"``."""
        return {} if self.object_head is None else {"object_top1": MulticlassAccuracy(self.num_objects, average="micro")}

    def metric_inputs(self, out: ModelOutput, batch: Batch) -> dict[str, tuple[Tensor, Tensor]]:
        if self.object_head is None:
            return {}
        return {"object_top1": (out.logits["object"].softmax(dim=-1), batch["objects"][:, 0])}

    def frame_maps(self, feats: Tensor, clip: ModelOutput, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """alpha and beta of every frame of ``feats``, steered by the priors of the clip's prediction
        ``clip`` (or by the labels in ``inputs``, ``"gt_priors"``): the attention module alone on
        each frame, since the recognition heads need exactly ``num_frames`` frames."""
        priors = self.priors(clip.logits, inputs.get("action_labels"), inputs.get("object_labels"), feats)
        alpha, beta = self.attention(rearrange(feats, "b t c h w -> b t (h w) c"), *priors)
        height = feats.shape[-2]
        return {"action": rearrange(alpha, "b t (h w) -> b t h w", h=height),
                "object": rearrange(beta, "b t (h w) -> b t h w", h=height)}

    def _predict(
        self, action_frames: Tensor, object_frames: Tensor, action_head: nn.Module, object_head: nn.Module | None
    ) -> dict[str, Tensor]:
        """Frame features (B, T, C) for each task -> logits "action" (+ "object", "object_2")."""
        logits = {"action": action_head(action_frames)}
        if object_head is not None:
            objects = object_head(object_frames)
            logits["object"], logits["object_2"] = objects[:, : self.num_objects], objects[:, self.num_objects :]
        return logits

    def priors(
        self, logits: dict[str, Tensor], action_labels: Tensor | None, object_labels: Tensor | None, feats: Tensor
    ) -> tuple[Tensor | None, Tensor | None]:
        """The encoded priors h^a, h^o: of the first-step softmax in ``logits`` ("action_first",
        "object_first", "object_2_first") in mode "dual", of the one-hot labels in "gt_priors", none
        otherwise."""
        if self.mode == "dual":
            p_a = logits["action_first"].softmax(dim=-1)
            p_o = torch.cat([logits["object_first"].softmax(dim=-1), logits["object_2_first"].softmax(dim=-1)], dim=-1)
        elif self.mode == "gt_priors":
            p_a, p_o = self._ground_truth_priors(action_labels, object_labels, feats)
        else:
            return None, None
        return self.action_prior(p_a), self.object_prior(p_o)

    def _ground_truth_priors(
        self, action_labels: Tensor | None, object_labels: Tensor | None, feats: Tensor
    ) -> tuple[Tensor, Tensor]:
        """One-hot p^a (B, num_actions) and p^o (B, 2 * num_objects) from the labels."""
        if action_labels is None or object_labels is None:
            raise ValueError("DualAttention(mode='gt_priors'): forward needs action_labels= (B,) and "
                             "object_labels= (B, 2), the ground truth that replaces the priors")
        b = feats.shape[0]
        if action_labels.shape != (b,) or object_labels.shape != (b, 2):
            raise ValueError(f"DualAttention(mode='gt_priors'): expected action_labels ({b},) and object_labels "
                             f"({b}, 2), got {tuple(action_labels.shape)} and {tuple(object_labels.shape)}")
        for name, labels, count in (("action_labels", action_labels, self.num_actions),
                                    ("object_labels", object_labels, self.num_objects)):
            if labels.numel() and (labels.min() < 0 or labels.max() >= count):
                raise ValueError(f"DualAttention(mode='gt_priors'): {name} must lie in [0, {count}), "
                                 f"got values {labels.min().item()}..{labels.max().item()}")
        p_a = F.one_hot(action_labels.long(), self.num_actions).to(feats.dtype)
        p_o = rearrange(F.one_hot(object_labels.long(), self.num_objects), "b two k -> b (two k)").to(feats.dtype)
        return p_a, p_o


def dual_attention_loss(
    out: ModelOutput,
    action_labels: Tensor,
    object_labels: Tensor | None,
    action_loss: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
) -> dict[str, Tensor]:
    """The loss of every prediction in ``out.logits``, keyed like the logits: ``action_loss`` (the
    dataset's criterion; softmax cross-entropy by default) for the actions, softmax cross-entropy
    for the objects.

    Args:
        out: a :class:`DualAttention` output.
        action_labels: (B,) action class indices.
        object_labels: (B, 2) first and second object (null label for one-object actions); may be
            None only when ``out`` has no object logits (``"baseline"``).

    Targets: ``"action"``/``"action_first"`` -> action_labels, ``"object"``/``"object_first"`` ->
    object_labels[:, 0], ``"object_2"``/``"object_2_first"`` -> object_labels[:, 1]; the null label
    is an ordinary class. Each term is the batch mean and has weight 1; the caller sums them.
    Both steps are supervised: the paper calls the first outputs predictions whose softmax are
    "probabilities ... of their likelihood to appear in the video" (Sec. 2.3-2.4, Fig. 2), which
    they are only when trained on the labels; it gives no weights, hence 1 each.
    """
    has_objects = any(key.startswith("object") for key in out.logits)
    if has_objects and (object_labels is None or object_labels.ndim != 2 or object_labels.shape[1] != 2):
        got = None if object_labels is None else tuple(object_labels.shape)
        raise ValueError(f"dual_attention_loss: object logits need object_labels (B, 2), got {got}")
    targets = {"action": action_labels}
    if has_objects:
        targets.update({"object": object_labels[:, 0], "object_2": object_labels[:, 1]})
    losses = {}
    for key, logits in out.logits.items():
        task = key.removesuffix("_first")
        if task not in TASKS:
            raise ValueError(f"dual_attention_loss: unknown logits key {key!r}; expected {TASKS} (+ '_first')")
        losses[key] = (action_loss if task == "action" else F.cross_entropy)(logits, targets[task])
    return losses
