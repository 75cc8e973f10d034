"""Matrix capsules with EM routing, in 2-D (paper §3.3; specs §E.1-E.2; Hinton et al. 2018).

The paper replaces VideoCapsuleNet's 3-D capsule routing by 2-D routing "which makes it more
efficient in terms of memory and training speed" (§3.3). This module holds the three pieces:

* :func:`em_routing` — EM routing as a pure, batched, vectorised function. It is independent of
  any layer so it can be tested (and benchmarked) on its own.
* :class:`PrimaryCaps` — a 2-D convolution that turns a feature map into a grid of capsules, each
  a 4x4 pose matrix plus a sigmoid activation (E.2 ``PrimaryCaps``).
* :class:`ConvCaps1x1` — a 1x1 convolutional capsule layer (E.2 ``ConvCaps``, kernel 1, stride 1):
  at every grid position the ``P`` input capsules vote for ``C`` output capsules through learned
  4x4 transformation matrices, and EM routing turns the votes into output poses and activations.

EM routing (Hinton, Sabour & Frosst, ICLR 2018, "Matrix capsules with EM routing"), as implemented
here:

* **Votes.** ``V_ij = M_i W_ij`` (4x4 matrix products), flattened to 16 numbers.
* **Input activity.** ``a_i`` is divided by ``sum_i a_i`` first: only the relative activity of
  the inputs matters (see "Cost" below).
* **Initial assignment.** ``R_ij = 1/J``.
* **M-step.** ``R'_ij = R_ij a_i``; ``mu_j`` and ``sigma_j^2`` are the ``R'``-weighted mean and
  variance of the votes per pose entry; cost and activation as below.
* **E-step.** ``log p_ij = -1/2 sum_h ((V_ijh - mu_jh)^2 / sigma_jh^2 + log sigma_jh^2)`` and
  ``R_ij = softmax_j(log a_j + log p_ij)``, in log space (``logsigmoid``, ``softmax`` of logs) so
  far-away votes give tiny assignments instead of ``0/0``. The ``log 2 pi`` term is the same for
  every ``j`` and cancels in the softmax, so it is dropped.
* **Schedule.** ``iters`` M-steps with ``iters - 1`` E-steps between them (3 iterations = initial
  M-step + 2 loops, as VCN). The inverse temperature grows linearly,
  ``lambda_t = final_lambda (t + 1) / iters``, so early iterations assign softly (Hinton et al.
  raise lambda over the iterations too; VCN uses ``0.5 + 0.1 t``).

**Cost and activation** (where this differs from Hinton et al., VCN and ASL, and why)::

    share_j = J sum_i R'_ij                       (1 when the inputs are spread evenly)
    cost_j  = share_j * mean_h (beta_u_jh + 1/2 log sigma_jh^2)
    a_j     = sigmoid(lambda (beta_a_j - (cost_j - mean_k cost_k)))

Hinton's cost is ``sum_h (beta_u + log sigma_jh) sum_i R'_ij``: its scale grows with the pose
size ``D``, the number of inputs and their total activity, so one ``lambda`` cannot suit every
layer. VCN (E.1) fixes that by turning the cost into a z-score across the output capsules; ASL
(E.2) flips the sign and effectively scales by ``1e-2``. Here the scale is fixed by construction
instead — a mean over pose entries, and a share of the (normalised) input activity — and only the
mean across output capsules is removed (``cost_norm="center"``). Dividing by the std as well
(``cost_norm="zscore"``, VCN) forces *every* routing problem to pick a winner, however close its
costs: in the 2-D design every grid position routes on its own and the class score pools the
positions, so background positions then add confident noise to every class score. On a toy with
the class signal in 10 % of the grid (``benchmarks/bench_action_det_mc.py --learn``), centring plus
presence pooling learnt in 40-100 steps; the z-score needed 240-300 with presence pooling and
stayed at chance for 300 with the plain mean. (On the synthetic actions neither learnt in a CPU
cycle without help; see the training notes of ``model.py``.) Normalising the input activity
removes a dead state seen in training: with an absolute share, all primary capsules going quiet
drove every share, hence every cost difference, to zero, and the gradient with them.
The sign follows VCN and the paper: low cost (tight agreement) means active.

**Constants.** ``eps = 1e-4`` is added to every variance and floors the sums that are divided
by. Votes are O(1) (poses of a few units times ``W ~ N(0, 0.1)``), so it never changes a real
variance, yet it bounds ``log sigma^2 >= -9.2`` and ``1/sigma^2 <= 1e4``: identical votes give a
finite, very low cost and finite gradients instead of ``-inf``/``nan``. ``final_lambda``
defaults to 3 here: with centred costs the per-position activations start near 0.5 and must be
able to reach the spread loss's margins; on the toy 1 learnt slower and 10 made training
unstable. The detector uses 1 (its activations also carry linear evidence, and a sharp final
E-step flattened them; see the training notes of ``model.py``).

**Implementation.** Every sum over the inputs or the pose entries is an ``einsum`` on the
``[N, I, J, D]`` votes and the variance is ``E[V^2] - mu^2`` (floored at 0), so no temporary of
the votes' size is made per step: the straightforward version was memory-bound and ~10x slower
on CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvCaps1x1", "PrimaryCaps", "em_routing"]

POSE_DIM = 16  # 4x4 pose matrices, flattened


def em_routing(
    votes: torch.Tensor,
    a_in: torch.Tensor,
    beta_u: torch.Tensor,
    beta_a: torch.Tensor,
    iters: int = 3,
    *,
    final_lambda: float = 3.0,
    cost_norm: str = "center",
    eps: float = 1e-4,
) -> tuple[torch.Tensor, torch.Tensor]:
    """EM routing between one layer of capsules and the next (Hinton et al. 2018; spec §E.1).

    Every one of the ``N`` routing problems is independent (a grid position of one clip); all of
    them run in one set of tensor operations.

    Args:
        votes: ``[N, I, J, D]`` votes of input capsule ``i`` for output capsule ``j`` (``D = 16``
            for 4x4 poses, but any ``D`` works).
        a_in: ``[N, I]`` input activations in ``[0, 1]``.
        beta_u: ``[J]`` or ``[J, D]`` learned cost offset per output capsule (per pose entry).
        beta_a: ``[J]`` learned activation offset per output capsule, or ``[N, J]`` per routing
            problem (see ``evidence`` of :class:`ConvCaps1x1`).
        iters: number of M-steps (``iters - 1`` E-steps between them); at least 1.
        final_lambda: inverse temperature of the last M-step; step ``t`` uses
            ``final_lambda * (t + 1) / iters``.
        cost_norm: ``"center"`` (subtract the mean cost over the output capsules; default) or
            ``"zscore"`` (also divide by their std, as VCN does; see module notes).
        eps: added to every variance and used as the floor of ``sum_i R'_ij`` (see module notes).

    Returns:
        ``(pose, act)``: ``pose`` ``[N, J, D]`` the weighted vote means, ``act`` ``[N, J]`` output
        activations in ``(0, 1)``.

    Raises:
        ValueError: if shapes do not agree or ``iters < 1``.
    """
    if votes.dim() != 4:
        raise ValueError(f"votes must be [N, I, J, D], got shape {tuple(votes.shape)}")
    n, i_caps, j_caps, d = votes.shape
    if a_in.shape != (n, i_caps):
        raise ValueError(f"a_in must be [N, I] = {(n, i_caps)}, got {tuple(a_in.shape)}")
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    if cost_norm not in ("center", "zscore"):
        raise ValueError(f"cost_norm must be 'center' or 'zscore', got {cost_norm!r}")
    if beta_u.dim() == 1:
        beta_u = beta_u[:, None]
    if beta_u.shape not in ((j_caps, 1), (j_caps, d)) or beta_a.shape not in (
        (j_caps,),
        (n, j_caps),
    ):
        raise ValueError(
            f"beta_u must be [J] or [J, D] and beta_a [J] or [N, J] with N={n}, J={j_caps}, "
            f"D={d}; "
            f"got {tuple(beta_u.shape)} and {tuple(beta_a.shape)}"
        )

    # every sum over i or h is an einsum on the [N, I, J, D] votes and variances use
    # E[V^2] - mu^2: elementwise temporaries of the votes' size made routing memory-bound
    v2 = votes.square()
    # only the relative input activity matters (see module notes): normalise it to sum 1 so the
    # eps floors below are relative too
    a_rel = a_in / a_in.sum(dim=1, keepdim=True).clamp_min(eps)  # [N, I]
    r = votes.new_full((n, i_caps, j_caps), 1.0 / j_caps)
    mu = act = None
    for t in range(iters):
        lam = final_lambda * (t + 1) / iters
        # ---- M-step: fit one Gaussian per output capsule to the votes it is assigned
        rw = r * a_rel.unsqueeze(-1)  # [N, I, J]
        r_sum = rw.sum(dim=1)  # [N, J]
        # divide by a floored sum (not sum + eps) so the weights sum to exactly 1: identical votes
        # then give a pose equal to the vote; an all-inactive input gives weights 0 and pose 0.
        coeff = rw / r_sum.clamp_min(eps).unsqueeze(1)  # [N, I, J]
        mu = torch.einsum("nij,nijd->njd", coeff, votes)  # [N, J, D]
        var = (torch.einsum("nij,nijd->njd", coeff, v2) - mu.square()).clamp_min(0.0) + eps
        log_var = var.log()
        # cost per output capsule: mean (not sum) over pose entries, times the share of the input
        # activity assigned to j relative to the uniform share 1/J, so its scale depends neither
        # on D, I, J nor on the overall input activity (see module notes)
        share = r_sum * j_caps  # [N, J]; 1 for a uniform assignment
        cost = (beta_u + 0.5 * log_var).mean(dim=-1) * share  # [N, J]
        rel = cost - cost.mean(dim=-1, keepdim=True)
        if cost_norm == "zscore":  # VCN: also divide by the std across output capsules
            rel = rel / rel.square().mean(dim=-1, keepdim=True).add(eps).sqrt()
        logit = lam * (beta_a - rel)  # [N, J]; low cost = tight agreement = active
        act = torch.sigmoid(logit)
        if t == iters - 1:
            break
        # ---- E-step: reassign each vote to the output Gaussians in proportion to a_j p_ij;
        # sum_h (V - mu)^2 / var expanded as V^2/var - 2 V mu/var + mu^2/var
        inv = var.reciprocal()
        maha = (
            torch.einsum("nijd,njd->nij", v2, inv)
            - 2.0 * torch.einsum("nijd,njd->nij", votes, mu * inv)
            + (mu.square() * inv).sum(dim=-1).unsqueeze(1)
        )
        log_p = -0.5 * (maha + log_var.sum(dim=-1).unsqueeze(1))  # [N, I, J]
        # log(sigmoid) via logsigmoid keeps a_j -> 0 finite; softmax over j in log space
        r = torch.softmax(log_p + F.logsigmoid(logit).unsqueeze(1), dim=-1)
    assert mu is not None and act is not None
    return mu, act


class PrimaryCaps(nn.Module):
    """Convolutional primary capsules: features → grid of ``P`` capsule types (spec §E.2).

    Two parallel 2-D convolutions, one for the ``P x 16`` pose entries and one for the ``P``
    activations (sigmoid), as in ASL's ``PrimaryCaps``.

    Args:
        in_channels: channels of the input feature map.
        caps: number of capsule types ``P``.
        kernel_size: convolution kernel.
        stride: convolution stride (2 halves the grid).
        padding: convolution padding.
    """

    def __init__(
        self, in_channels: int, caps: int, kernel_size: int = 3, stride: int = 2, padding: int = 1
    ) -> None:
        super().__init__()
        self.caps = caps
        self.pose = nn.Conv2d(in_channels, caps * POSE_DIM, kernel_size, stride, padding)
        self.act = nn.Conv2d(in_channels, caps, kernel_size, stride, padding)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map features to capsules.

        Args:
            x: ``[B, in_channels, H, W]`` features.

        Returns:
            ``(pose, act)``: ``[B, G, G', P, 16]`` and ``[B, G, G', P]`` (grid last-but-one,
            capsule type last), activations in ``(0, 1)``.
        """
        b = x.shape[0]
        pose = self.pose(x)  # [B, P*16, G, G']
        g_h, g_w = pose.shape[-2:]
        pose = pose.view(b, self.caps, POSE_DIM, g_h, g_w).permute(0, 3, 4, 1, 2)
        act = torch.sigmoid(self.act(x)).permute(0, 2, 3, 1)
        return pose.contiguous(), act.contiguous()


class ConvCaps1x1(nn.Module):
    """1x1 convolutional capsules with EM routing: ``P`` → ``C`` types per grid position (§E.2).

    Each grid position is its own routing problem (2-D routing, paper §3.3): the ``P`` capsules
    there vote for the ``C`` output capsules with transformation matrices ``W [P, C, 4, 4]`` shared
    over the grid.

    Args:
        in_caps: input capsule types ``P``.
        out_caps: output capsule types ``C`` (one per action class for the class capsules).
        iters: EM iterations (3 in VCN and ASL).
        final_lambda: inverse temperature of the last M-step (see :func:`em_routing`).
        cost_norm: ``"center"`` or ``"zscore"`` (see :func:`em_routing`).
        weight_std: std of the N(0, std) init of ``W``.
    """

    def __init__(
        self,
        in_caps: int,
        out_caps: int,
        iters: int = 3,
        final_lambda: float = 3.0,
        cost_norm: str = "center",
        weight_std: float = 0.1,
    ) -> None:
        super().__init__()
        self.in_caps, self.out_caps = in_caps, out_caps
        self.iters, self.final_lambda, self.cost_norm = iters, final_lambda, cost_norm
        self.weight = nn.Parameter(torch.empty(in_caps, out_caps, 4, 4))
        self.beta_u = nn.Parameter(torch.zeros(out_caps, POSE_DIM))
        self.beta_a = nn.Parameter(torch.zeros(out_caps))
        self.weight_std = weight_std
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise ``W`` as N(0, std) (std 0.1 as VCN); betas start at 0.

        The cost is a log-variance, so the scale of the votes hardly matters, but the scale of
        ``W`` sets how fast Adam can turn it: a step moves each entry by about the learning rate,
        i.e. 1 % of its size per step at std 0.1 and lr 1e-3, only 0.2 % at std 0.5 (where the
        toy's classifier stayed at chance for hundreds of steps). Zero betas make every class
        equally likely before training.
        """
        with torch.no_grad():
            self.weight.normal_(0.0, self.weight_std)
            self.beta_u.zero_()
            self.beta_a.zero_()

    def votes(self, pose: torch.Tensor) -> torch.Tensor:
        """Votes ``V_ij = M_i W_ij``.

        Args:
            pose: ``[N, P, 16]`` input poses.

        Returns:
            ``[N, P, C, 16]`` votes.
        """
        m = pose.view(-1, self.in_caps, 1, 4, 4)
        return torch.matmul(m, self.weight.unsqueeze(0)).flatten(-2)

    def forward(
        self, pose: torch.Tensor, act: torch.Tensor, act_offset: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Route every grid position independently.

        Args:
            pose: ``[B, G, G', P, 16]`` input poses.
            act: ``[B, G, G', P]`` input activations.
            act_offset: optional ``[B, G, G', C]`` added to ``beta_a`` at each position (the
                detector's activation evidence, see :class:`~.model.CapsuleDetector`).

        Returns:
            ``(pose, act)``: ``[B, G, G', C, 16]`` and ``[B, G, G', C]``.
        """
        lead = pose.shape[:-2]
        v = self.votes(pose.reshape(-1, self.in_caps, POSE_DIM))
        beta_a = self.beta_a
        if act_offset is not None:
            beta_a = beta_a + act_offset.reshape(-1, self.out_caps)
        out_pose, out_act = em_routing(
            v,
            act.reshape(-1, self.in_caps),
            self.beta_u,
            beta_a,
            self.iters,
            final_lambda=self.final_lambda,
            cost_norm=self.cost_norm,
        )
        return out_pose.view(*lead, self.out_caps, POSE_DIM), out_act.view(*lead, self.out_caps)
