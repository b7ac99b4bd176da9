"""Attentive Action and Context Factorization (ActX): an action map S and a context map C learned
with the help of conjugate samples.

Wang, Tran, Bertasius, Torresani and Hoai, "Attentive Action and Context Factorization",
BMVC 2021 (arXiv 2019), and its supplement. No public code exists (REFERENCE_NOTES.md 4);
everything here comes from the paper, and where it is silent the choice is listed below.

The head (Sec. 3.3-3.4, Fig. 2b) on backbone features F (T x H x W x D; T = 1 for still images,
supplement Sec. 1):
1. two 3D convolutions phi and psi give confidence maps; AttNorm standardises each over the clip's
   (t, h, w); Percent_rho shifts the action confidences so that rho % of them are positive; a
   relaxed sigmoid (alpha) and softmax (beta) give S^act in [0, 1] and S^att, summing to 1 per
   clip (eq. 6);
2. S = S^act * S^att, C = 1 - S^act (eq. 5);
3. F_s and F_c, the S- and C-weighted means of theta(F) = relu(F + conv3d(F)) (Sec. 3.3); one
   fully-connected layer on [F_s, F_c] gives the logits.
In training a conjugate sample a' (the same context, not the action) adds the losses of Sec. 3.2
(:func:`conjugate_losses`), eq. 1 being L_c + lambda_s L_s + lambda_d L_d. A conjugate has no
voxel-to-voxel correspondence with its sample (other positions, another length), so each position
F_k of the sample's map F is soft-aligned (eq. 2) twice: with the sample's own map, eta(F_k, F)
(F_k itself among them, at cosine 1), and with the conjugate's, eta(F_k, F'). An action position
should find nothing like itself in F' (L_s, eq. 3, weighted by S), a context position should
(L_d, eq. 4, weighted by C). eta(F_k, F') averages over F' as a set, so a conjugate that is its
sample with the positions permuted, or tiled (each position repeated as often: another length and
grid), gives cos = 1 everywhere (L_d = 0, L_s = 1 - xi) at any gamma.

Variants (Tables 1-3), ``attention=``:
- ``"full"``: ActX.
- ``"no_att"``: ActX without S^att, S = S^act (Table 1, "ActX [w/o S^att]"); psi is not built.
- ``"acf"``: ACF (Wang and Hoai, CVPR 2018) as the paper runs it on the same features: the losses
  "defined based on cosine distance between globally pooled feature vectors" (Sec. 4.1). ACF learns
  factorized feature extractors (Sec. 2.2): here an action and a context theta, each globally
  average pooled, give f(a) and g(a); L_s = max(0, cos(f(a), f(a')) - xi) and
  L_d = 1 - cos(g(a), g(a')) (:func:`pooled_conjugate_losses`: eq. 2-4 on one-position maps, where
  eta of a single vector is that vector and the weights cancel); the classifier reads [f, g]. Table 1
  gives ACF the backbone's parameter count too, so its extractors are as light as theta. ACF has
  no maps (``makes_maps`` False): separating action from context in space and time is what it
  "cannot" do (Sec. 2.2).
Attentional Pooling and average pooling (Table 1's "Attentional" and "I3D") are their own heads.

Choices where the paper is silent:
- Kernels. phi and psi are 1x1x1 (``kernel_size``) and bias-free (AttNorm removes any bias). The
  conv3d of theta is 3x3x3 and depthwise, one filter per channel (``theta_kernel``,
  ``theta_depthwise``), "same" padding, initialised to zero so that theta(F) = relu(F) at first
  (the residual "to aid the optimization", Sec. 3.3). Table 1 gives ActX the parameter count of
  the backbone alone (13.4M, as I3D's): the added parameters are negligible, which a dense
  C x C conv3d (1M at 1x1x1, 28M at 3x3x3 for the I3D's D = 1024) would not be.
- AttNorm uses the population standard deviation over the clip's N = T*H*W positions, with 1e-5
  added to the variance, so a constant map (or a one-position clip) stays finite.
- Percent_rho: "subtracting the rho percentile" is read as the paper means it, rho % of the values
  positive: k = round(rho N / 100) of them; the threshold is the midpoint between the k-th and
  (k+1)-th largest value, so with alpha -> inf exactly k values of S^act are 1 and the others 0
  (Sec. 3.4). k = 0 (k = N) puts it 1 (one standard deviation, after AttNorm) above the largest
  (below the smallest) value. Values tied at the threshold all become 0 (S^act = 0.5), so with
  ties fewer than k are positive. The gradient flows through the threshold (the two order
  statistics), as through any percentile.
- F_s and F_c divide by the sum of the weights (Sec. 3.3), clamped at 1e-6 (sum C -> 0 when
  alpha -> inf and rho = 100).
- The classifier is one Linear(2D, K) with PyTorch's default initialisation; no dropout (none is
  named). ``class_maps`` is accepted and ignored: the maps are class-agnostic.
- The conjugate losses compare the backbone's F and F' themselves, as eq. 1-4 write them
  (F(a_i), F(a'_i)), not theta(F), which only serves F_s and F_c. So L_s and L_d train phi and psi
  through S and C (and the backbone, if it is trained). The own-map term eta(F_k, F) includes k.
- Each clip's L_s, L_d is the weighted mean over its positions (eq. 3-4); eq. 1 sums over the
  samples, here the batch mean is taken, like the cross-entropy's, so that lambda_s = lambda_d = 1
  keeps the paper's unweighted balance at any batch size. gamma and xi have no values in the paper:
  gamma = 10 (cosines lie in [-1, 1], so 1 would average almost uniformly and 100 pick the nearest
  neighbour) and xi = 0.5 (cosines of post-ReLU features lie in [0, 1]). Cosines use torch's eps
  (1e-8) on the norms: an all-zero vector has cosine 0 with anything.
- The action's interval in a long video (localisation): the frames whose mean S^act, the share of
  action voxels in the frame, is high (``interval_map``, :func:`~actattn.localize.temporal.presence_interval`).
- Without a conjugate (test time, Sec. 3.1) the losses are the action loss alone; the conjugate
  never changes the logits or the maps.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from actattn.heads.base import Batch, Head, Supervision, check_feats
from actattn.output import ModelOutput

ATTENTION = ("full", "no_att", "acf")
NORM_EPS = 1e-5  # AttNorm: added to the variance
WEIGHT_EPS = 1e-6  # floor of the sums of the weights of F_s, F_c and eq. 3-4


def att_norm(x: Tensor) -> Tensor:
    """AttNorm over the positions: x (B, N) minus each row's mean, over its standard deviation."""
    var, mean = torch.var_mean(x, dim=1, correction=0, keepdim=True)
    return (x - mean) * torch.rsqrt(var + NORM_EPS)


def percent(x: Tensor, rho: float) -> Tensor:
    """Percent_rho: x (B, N) minus a per-row threshold above which round(rho N / 100) values lie
    (see the module docstring for the threshold, the ends and ties)."""
    n = x.shape[1]
    k = round(rho * n / 100)
    if k == 0:
        return x - (x.amax(dim=1, keepdim=True) + 1)
    if k == n:
        return x - (x.amin(dim=1, keepdim=True) - 1)
    top = x.topk(k + 1, dim=1).values  # descending: the k positives, then the largest of the rest
    return x - (top[:, k - 1 : k] + top[:, k:]) / 2


def weighted_means(weights: Tensor, values: Tensor) -> Tensor:
    """sum_i w_i v_i / sum_i w_i for each map: weights (B, M, N), values (B, D, N) -> (B, M, D)."""
    total = weights.sum(dim=2, keepdim=True).clamp_min(WEIGHT_EPS)
    return torch.einsum("bmn,bdn->bmd", weights, values) / total


def soft_align(queries: Tensor, keys: Tensor, gamma: float) -> Tensor:
    """eq. 2, eta(F_k, F') for every query: queries (B, N, D), keys (B, M, D) -> (B, N, D), the
    softmax over j of gamma * cos(F_k, F'_j) averaging the keys F'_j."""
    cosines = torch.einsum("bnd,bmd->bnm", F.normalize(queries, dim=-1), F.normalize(keys, dim=-1))
    return torch.einsum("bnm,bmd->bnd", torch.softmax(gamma * cosines, dim=-1), keys)  # eq. 2


def aligned_cosine(feats: Tensor, conjugate_feats: Tensor, gamma: float) -> Tensor:
    """cos(eta(F_k, F), eta(F_k, F')) for each position k: feats (B, N, D), conjugate_feats
    (B, M, D) -> (B, N)."""
    own = soft_align(feats, feats, gamma)  # eq. 2 on the sample's own map
    other = soft_align(feats, conjugate_feats, gamma)  # eq. 2
    return F.cosine_similarity(own, other, dim=-1)


def clip_mean(weights: Tensor, values: Tensor) -> Tensor:
    """Per clip sum_k w_k v_k / sum_k w_k, then the batch mean: weights, values (B, N) -> scalar."""
    return ((weights * values).sum(dim=1) / weights.sum(dim=1).clamp_min(WEIGHT_EPS)).mean()


def conjugate_losses(
    S: Tensor, C: Tensor, feats: Tensor, conjugate_feats: Tensor, *, gamma: float, xi: float
) -> tuple[Tensor, Tensor]:
    """The similarity and difference losses (L_s, L_d) of eq. 3-4, each a scalar (batch mean).

    Args:
        S: (B, T, H, W) action map, the weights of L_s.
        C: (B, T, H, W) context map, the weights of L_d.
        feats: (B, T, D, H, W) the sample's backbone features F.
        conjugate_feats: (B, T', D, H', W') its conjugate's F'; any T', H', W'.
        gamma: sharpness of the soft alignment (eq. 2).
        xi: margin of sim(x, z) = max(0, cos<x, z> - xi) (eq. 3); diff(x, z) = 1 - cos<x, z> (eq. 4).
    """
    b, t, d, h, w = feats.shape
    if S.shape != (b, t, h, w) or C.shape != (b, t, h, w):
        raise ValueError(f"conjugate_losses: S and C must be (B, T, H, W) = {(b, t, h, w)} like feats "
                         f"{tuple(feats.shape)}, got {tuple(S.shape)} and {tuple(C.shape)}")
    if conjugate_feats.ndim != 5 or conjugate_feats.shape[0] != b or conjugate_feats.shape[2] != d:
        raise ValueError(f"conjugate_losses: conjugate_feats must be ({b}, T', {d}, H', W'), "
                         f"got {tuple(conjugate_feats.shape)}")
    cosines = aligned_cosine(rearrange(feats, "b t d h w -> b (t h w) d"),
                             rearrange(conjugate_feats, "b t d h w -> b (t h w) d"), gamma)
    l_s = clip_mean(S.flatten(1), (cosines - xi).clamp_min(0))  # eq. 3
    l_d = clip_mean(C.flatten(1), 1 - cosines)  # eq. 4
    return l_s, l_d


def pooled_conjugate_losses(
    action: Tensor, conjugate_action: Tensor, context: Tensor, conjugate_context: Tensor, *, xi: float
) -> tuple[Tensor, Tensor]:
    """ACF's losses on globally pooled features (B, D) (ActX Sec. 4.1): L_s = max(0, cos(f(a),
    f(a')) - xi), L_d = 1 - cos(g(a), g(a')), batch means. This is :func:`conjugate_losses` on
    one-position maps: eta of a one-vector set is that vector (eq. 2) and the weights cancel
    (eq. 3-4), except that the action and the context have their own features."""
    l_s = (F.cosine_similarity(action, conjugate_action, dim=-1) - xi).clamp_min(0).mean()  # eq. 3
    l_d = (1 - F.cosine_similarity(context, conjugate_context, dim=-1)).mean()  # eq. 4
    return l_s, l_d


def channels_last(feats: Tensor) -> Tensor:
    """feats (B, T, D, H, W) -> (B, D, T, H, W) for the 3D convs, stored channels-last (torch's
    depthwise conv3d is ~1.4x faster on CPU so)."""
    return rearrange(feats, "b t d h w -> b d t h w").contiguous(memory_format=torch.channels_last_3d)


class Theta(nn.Module):
    """theta(F) = relu(F + conv3d(F)) on (B, D, T, H, W) (Sec. 3.3); starts as relu(F)."""

    def __init__(self, channels: int, kernel: int, depthwise: bool) -> None:
        super().__init__()
        groups = channels if depthwise else 1
        self.conv = nn.Conv3d(channels, channels, kernel, padding=kernel // 2, groups=groups)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.conv(x))


class ActionContextFactorization(Head):
    """ActX head (or an ablation or ACF, see ``attention``).

    Args:
        in_channels: D of the backbone features (1024 for I3D's Mixed_5c).
        num_classes: K.
        rho: percentage of positive action confidences per clip (30, Sec. 3.4).
        alpha: sharpness of the sigmoid of S^act (1, Sec. 3.4); 0 gives 0.5 everywhere.
        beta: sharpness of the softmax of S^att (1, Sec. 3.4); 0 gives average pooling.
        gamma: sharpness of the soft alignment eta (eq. 2); not given in the paper: 10.
        xi: margin of sim = max(0, cos - xi) (eq. 3); not given in the paper: 0.5.
        lambda_s, lambda_d: weights of L_s and L_d (1 and 1: eq. 1 adds them unweighted).
        attention: ``"full"`` (ActX), ``"no_att"`` (S = S^act) or ``"acf"`` (ACF on pooled features).
        kernel_size: of phi and psi (1; odd).
        theta_kernel: of theta's conv3d (3; odd).
        theta_depthwise: theta's conv3d one filter per channel (True) or dense D -> D.

    Submodules: ``phi`` (and ``psi`` in ``"full"``), ``theta``, ``classifier``; in ``"acf"``
    ``theta`` and ``theta_context`` and no phi or psi.

    forward(feats (B, T, D, H, W), *, conjugate_feats (B, T', D, H', W') or None) -> ModelOutput:
        logits["action"]: (B, K).
        attention["action"]: (B, T, H, W) S = S^act * S^att (eq. 5), in [0, 1] and summing to less
            than 1 per clip (S^att's unit mass, weighted by S^act); in ``"no_att"`` S = S^act.
        attention["context"]: (B, T, H, W) C = 1 - S^act (eq. 5), in [0, 1].
        aux["s_act"]: (B, T, H, W) S^act (eq. 6), in [0, 1].
        aux["s_att"]: (B, T, H, W) S^att (eq. 6), summing to 1 per clip (``"full"`` only).
        aux["feats"], aux["conjugate_feats"]: F and F' for the losses, only with a conjugate.
    In ``"acf"``: no maps; aux["action_feature"], aux["context_feature"] (B, D) are f(a), g(a),
    and with a conjugate aux["conjugate_action_feature"], aux["conjugate_context_feature"].
    The conjugate (another length T' and grid H' x W' allowed) is read from the batch entry
    ``"conjugate"`` when present (training), through the backbone (``encodes``).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        rho: float = 30.0,
        alpha: float = 1.0,
        beta: float = 1.0,
        gamma: float = 10.0,
        xi: float = 0.5,
        lambda_s: float = 1.0,
        lambda_d: float = 1.0,
        attention: str = "full",
        kernel_size: int = 1,
        theta_kernel: int = 3,
        theta_depthwise: bool = True,
    ) -> None:
        super().__init__()
        if attention not in ATTENTION:
            raise ValueError(f"ActionContextFactorization: attention must be one of {ATTENTION}, got {attention!r}")
        if not 0.0 <= rho <= 100.0:
            raise ValueError(f"ActionContextFactorization: rho is a percentage in [0, 100], got {rho}")
        if kernel_size % 2 == 0 or theta_kernel % 2 == 0:
            raise ValueError(f"ActionContextFactorization: kernels must be odd (same padding), got "
                             f"kernel_size={kernel_size}, theta_kernel={theta_kernel}")
        self.in_channels = in_channels
        self.rho, self.alpha, self.beta = rho, alpha, beta
        self.gamma, self.xi = gamma, xi
        self.lambda_s, self.lambda_d = lambda_s, lambda_d
        self.attention = attention
        self.kernel_size = kernel_size
        self.theta = Theta(in_channels, theta_kernel, theta_depthwise)
        self.phi = self.psi = self.theta_context = None
        if attention == "acf":
            self.theta_context = Theta(in_channels, theta_kernel, theta_depthwise)
        else:
            self.phi = nn.Conv3d(in_channels, 1, kernel_size, padding=kernel_size // 2, bias=False)
            if attention == "full":
                self.psi = nn.Conv3d(in_channels, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.classifier = nn.Linear(2 * in_channels, num_classes)
        self.optional_reads = {"conjugate_feats": "conjugate"}
        self.encodes = {"conjugate_feats"}
        self.makes_maps = attention != "acf"
        self.interval_map = "s_act" if self.makes_maps else None  # the action's frames: high S^act

    def forward(self, feats: Tensor, *, conjugate_feats: Tensor | None = None, class_maps: bool = False) -> ModelOutput:
        """feats (B, T, D, H, W) -> ModelOutput (see the class docstring)."""
        check_feats(feats, self.in_channels, "ActionContextFactorization")
        if conjugate_feats is not None:
            check_feats(conjugate_feats, self.in_channels, "ActionContextFactorization (conjugate_feats)")
            if conjugate_feats.shape[0] != feats.shape[0]:
                raise ValueError(f"ActionContextFactorization: one conjugate per sample: feats {tuple(feats.shape)}, "
                                 f"conjugate_feats {tuple(conjugate_feats.shape)}")
        x = channels_last(feats)
        if self.attention == "acf":
            return self._acf(x, conjugate_feats)
        s_act, s_att = self.maps(feats, x)
        s = s_act if s_att is None else s_act * s_att  # eq. 5
        c = 1 - s_act  # eq. 5
        f_s_and_f_c = weighted_means(torch.stack([s, c], dim=1), self.theta(x).flatten(2))  # Sec. 3.3: F_s, F_c
        logits = self.classifier(rearrange(f_s_and_f_c, "b two d -> b (two d)"))  # h([F_s, F_c])
        t, h, w = x.shape[2:]

        def grid(m: Tensor) -> Tensor:
            return rearrange(m, "b (t h w) -> b t h w", t=t, h=h, w=w)

        aux = {"s_act": grid(s_act)}
        if s_att is not None:
            aux["s_att"] = grid(s_att)
        if conjugate_feats is not None:
            aux.update(feats=feats, conjugate_feats=conjugate_feats)
        return ModelOutput(logits={"action": logits}, attention={"action": grid(s), "context": grid(c)}, aux=aux)

    def maps(self, feats: Tensor, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """feats (B, T, D, H, W), the same as x (B, D, T, H, W) -> S^act (B, N) and S^att (B, N)
        (None in ``"no_att"``), eq. 6."""
        convs = [conv for conv in (self.phi, self.psi) if conv is not None]
        if self.kernel_size == 1:  # a 1x1x1 conv is a product with each feature (faster than conv3d)
            weights = torch.cat([conv.weight.flatten(1) for conv in convs])  # (O, D)
            scores = rearrange(torch.einsum("btdhw,od->bothw", feats, weights), "b o t h w -> o b (t h w)")
        else:
            scores = rearrange(torch.cat([conv(x) for conv in convs], dim=1), "b o t h w -> o b (t h w)")
        s_act = torch.sigmoid(self.alpha * percent(att_norm(scores[0]), self.rho))  # eq. 6
        if self.psi is None:
            return s_act, None
        s_att = torch.softmax(self.beta * att_norm(scores[1]), dim=1)  # eq. 6
        return s_act, s_att

    def _acf(self, x: Tensor, conjugate_feats: Tensor | None) -> ModelOutput:
        """ACF: pooled action and context features f, g (and the conjugate's), no maps."""
        f, g = self.theta(x).mean(dim=(2, 3, 4)), self.theta_context(x).mean(dim=(2, 3, 4))
        aux = {"action_feature": f, "context_feature": g}
        if conjugate_feats is not None:
            x_conj = channels_last(conjugate_feats)
            aux["conjugate_action_feature"] = self.theta(x_conj).mean(dim=(2, 3, 4))
            aux["conjugate_context_feature"] = self.theta_context(x_conj).mean(dim=(2, 3, 4))
        return ModelOutput(logits={"action": self.classifier(torch.cat([f, g], dim=1))}, aux=aux)

    def losses(self, out: ModelOutput, batch: Batch, supervision: Supervision) -> dict[str, Tensor]:
        """``"action"`` (the dataset's criterion); with a conjugate in the forward also
        ``"similarity"`` lambda_s L_s (eq. 3) and ``"difference"`` lambda_d L_d (eq. 4): eq. 1."""
        losses = {"action": supervision.action_loss(out.logits["action"], batch["label"])}
        if "conjugate_feats" in out.aux:
            l_s, l_d = conjugate_losses(out.attention["action"], out.attention["context"], out.aux["feats"],
                                        out.aux["conjugate_feats"], gamma=self.gamma, xi=self.xi)
        elif "conjugate_action_feature" in out.aux:
            l_s, l_d = pooled_conjugate_losses(out.aux["action_feature"], out.aux["conjugate_action_feature"],
                                               out.aux["context_feature"], out.aux["conjugate_context_feature"],
                                               xi=self.xi)
        else:
            return losses
        return losses | {"similarity": self.lambda_s * l_s, "difference": self.lambda_d * l_d}  # eq. 1

    def frame_maps(self, feats: Tensor, clip: ModelOutput, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The maps of every frame (the head takes any T); a conjugate, which never changes them, is
        left out."""
        return super().frame_maps(feats, clip, {k: v for k, v in inputs.items() if k != "conjugate_feats"})
