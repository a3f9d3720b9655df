"""Plain ``torch.nn.Module`` s: the shared preprocessing trunk, the hypothesis
head, and the baselines (CNN, VIB, LeNet-5 substitute).

Every module maps a float batch of shape (B, C, H, W) or (B, D) to raw scores
(B, K): hypothesis scores ``T(x, k)`` or logits. Probabilities are derived
elsewhere (:mod:`sk_guessfirst.objectives`).

Trunk rule (paper Appendix F for 28x28 images; user guide, "The method"),
chosen from ``input_shape``:

- images with both sides >= 28: the paper's stack, conv 4x4/2 -> BN -> ReLU, twice;
- images with both sides >= 8 (e.g. 8x8 digits): the same channels with 3x3
  kernels, stride 1 then 2, padding 1, so that small images keep a spatial map;
- anything else (flat features, tiny images): one fully connected layer + ReLU.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class TrunkKind:
    """What :func:`make_trunk` builds for an input shape (``input_kind_``).

    ``min_side``: the smallest image side it takes (None: anything, flat);
    ``guessfirst``: (kernel, stride, padding) of the paper's two conv layers;
    ``lenet``: (kernel, padding of the second conv) of the LeNet-5 style."""

    name: str
    min_side: int | None
    guessfirst: tuple = ()
    lenet: tuple = ()

    @property
    def convolutional(self) -> bool:
        return self.min_side is not None


# Largest first: an image takes the first kind whose min_side it reaches.
TRUNK_KINDS: dict[str, TrunkKind] = {
    k.name: k
    for k in (
        TrunkKind("paper", 28, guessfirst=((4, 2, 0), (4, 2, 0)), lenet=(5, 0)),
        TrunkKind("small", 8, guessfirst=((3, 1, 1), (3, 2, 1)), lenet=(3, 1)),
        TrunkKind("mlp", None),
    )
}
PAPER_MIN_SIDE = TRUNK_KINDS["paper"].min_side
SMALL_MIN_SIDE = TRUNK_KINDS["small"].min_side


def trunk_kind(input_shape: tuple) -> TrunkKind:
    """The trunk :func:`make_trunk` builds for ``input_shape``."""
    for kind in TRUNK_KINDS.values():
        if kind.min_side is None:
            return kind
        if len(input_shape) == 3 and min(input_shape[1:]) >= kind.min_side:
            return kind
    raise AssertionError("TRUNK_KINDS ends with a kind for any input")


def _guessfirst_layers(kind: TrunkKind, in_ch: int, conv_channels) -> list:
    layers: list[nn.Module] = []
    for out_ch, (k, s, p) in zip(conv_channels, kind.guessfirst, strict=True):
        layers += [
            nn.Conv2d(in_ch, out_ch, k, stride=s, padding=p),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(),
        ]
        in_ch = out_ch
    return layers


def _lenet_layers(kind: TrunkKind, in_ch: int, conv_channels) -> list:
    k, pad2 = kind.lenet
    return [
        nn.Conv2d(in_ch, 6, k, padding=k // 2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, k, padding=pad2),
        nn.ReLU(),
        nn.MaxPool2d(2),
    ]


# style -> the conv layers of that style for a convolutional trunk kind
STYLES = {"guessfirst": _guessfirst_layers, "lenet": _lenet_layers}


def make_trunk(
    input_shape: tuple,
    *,
    conv_channels=(32, 64),
    mlp_units=128,
    style: str = "guessfirst",
    trunk: nn.Module | type | None = None,
    trunk_params: dict | None = None,
) -> tuple[nn.Module, int]:
    """Build the preprocessing layers for ``input_shape``; return (module, out_dim).

    ``style="guessfirst"`` is the paper's conv-BN-ReLU stack (paper Appendix F);
    ``style="lenet"`` the LeNet-5-like substitute (conv 6@5x5 pad 2, pool,
    conv 16@5x5, pool), which switches to 3x3 kernels with padding on images
    smaller than 28 pixels (:data:`STYLES`, :data:`TRUNK_KINDS`).

    ``trunk``, when given, is the user's own unconditioned preprocessing: an
    ``nn.Module`` instance, or a class instantiated with ``trunk_params``. It
    takes inputs of ``input_shape`` (with the batch first); its output is
    flattened, and its width found by one forward pass on zeros.
    """
    if trunk is not None:
        return _own_trunk(input_shape, trunk, trunk_params or {})
    if trunk_params:
        raise TypeError(
            f"trunk parameters {sorted(trunk_params)} were given without a trunk; "
            "pass module__trunk=YourModule too"
        )
    kind = trunk_kind(input_shape)
    if not kind.convolutional:
        n_in = math.prod(input_shape)
        return nn.Sequential(
            nn.Flatten(), nn.Linear(n_in, mlp_units), nn.ReLU()
        ), mlp_units
    layers = STYLES[style](kind, input_shape[0], conv_channels)
    trunk = nn.Sequential(*layers, nn.Flatten())
    with torch.no_grad():
        out_dim = trunk.eval()(torch.zeros(1, *input_shape)).shape[1]
    return trunk.train(), int(out_dim)


def _own_trunk(input_shape, trunk, params) -> tuple[nn.Module, int]:
    if isinstance(trunk, nn.Module):
        if params:
            raise TypeError(
                f"trunk parameters {sorted(params)} were given with a trunk instance; "
                "pass the class (module__trunk=YourModule) to have them used"
            )
        module = copy.deepcopy(trunk)  # fit never changes a parameter
    elif isinstance(trunk, type) and issubclass(trunk, nn.Module):
        module = trunk(**params)
    else:
        raise TypeError(
            f"trunk must be a torch.nn.Module class or instance, got {trunk!r}"
        )
    module = nn.Sequential(module, nn.Flatten())
    was_training = module.training
    try:
        with torch.no_grad():
            out = module.eval()(torch.zeros(2, *input_shape))
    except Exception as exc:
        raise ValueError(
            f"the trunk {type(module[0]).__name__} does not take inputs of shape "
            f"(batch, {', '.join(map(str, input_shape))}): {exc}"
        ) from exc
    if out.ndim != 2 or out.shape[0] != 2:
        raise ValueError(
            f"the trunk {type(module[0]).__name__} must return one row per input"
        )
    return module.train(was_training), int(out.shape[1])


def _split_trunk_params(params: dict, who: str) -> dict:
    """skorch routes ``module__trunk__x`` to the module as ``trunk__x``."""
    unknown = sorted(k for k in params if not k.startswith("trunk__"))
    if unknown:
        raise TypeError(f"{who} got unexpected parameters {unknown}")
    return {k.removeprefix("trunk__"): v for k, v in params.items()}


def _reshape_input(x: Tensor, input_shape: tuple) -> Tensor:
    return x.reshape(x.shape[0], *input_shape)


def _mlp(n_in: int, units) -> tuple[nn.ModuleList, int]:
    layers = nn.ModuleList()
    for n_out in units:
        layers.append(nn.Linear(n_in, n_out))
        n_in = n_out
    return layers, n_in


class HypothesisConditionedModule(nn.Module):
    """Scores every (input, hypothesis) pair: ``T(x, k)`` for k = 0..K-1.

    ::

        trunk -> FC[0..j-1]          run once per input ("preprocessing")
        -- one-hot(k) concatenated before FC[j] (j = hypothesis_layer) --
        FC[j..] -> ReLU ... -> FC 1   run once per (input, hypothesis)

    The concatenation is never materialised: ``W [h; e_k] + b = W_h h + b + W_y[:, k]``,
    so ``W_h h + b`` is computed once per input and the K columns of ``W_y``
    are added by broadcasting (user guide, "Efficient hypothesis
    inference"); :meth:`forward_naive` is the literal concatenation, kept as
    the reference the efficient path is tested against.

    Parameters
    ----------
    input_shape : tuple
        (C, H, W) for images or (D,) for flat features.
    n_classes : int
        Number of hypotheses K.
    hidden_units : tuple of int, default=(512, 256, 128)
        Fully connected layers after the trunk; a final FC 1 follows.
    hypothesis_layer : int, default=0
        Index j of the FC layer the hypothesis enters; 0 is the paper's
        choice (right after the conv stack). Must be < len(hidden_units):
        concatenated at the scalar output layer the hypothesis would only add
        a per-class constant, and the argmax would ignore x.
    representation_layer : int, default=1
        Index of the FC layer whose post-ReLU output is the representation
        Z regularised by IE (paper: the 2nd FC layer, 256 units). Must satisfy
        hypothesis_layer <= representation_layer < len(hidden_units).
    conv_channels : tuple of int, default=(32, 64)
    mlp_units : int, default=128
        Width of the trunk for flat features.
    trunk : nn.Module class or instance, or None, default=None
        Your own unconditioned preprocessing instead of the built-in trunk
        (paper: "any unconditioned preprocessing, then hypothesis-conditioned
        layers"); a class is built with the ``trunk__*`` parameters
        (``module__trunk__channels=16`` on the estimator). Its output is
        flattened; the IE regulariser, efficient inference, checkpoints and
        the attacks work unchanged, since only the layers after it are
        hypothesis-conditioned.
    hypothesis_chunk_size : int or None, default=None
        Score at most this many hypotheses at once, bounding memory for very
        large K; None scores all K together.
    embedding_init_std : float or None, default=0.5
        Initial std of the hypothesis embedding (the one-hot columns W_y).
        None keeps a default ``Linear(n_in + K, ...)`` init, about
        1/sqrt(n_in + K) = 0.03 for the paper's trunk: then all K scores are
        nearly equal at the start and training is slower (the user guide has
        the measurement), so the hypotheses start strong.
    """

    def __init__(
        self,
        input_shape,
        n_classes,
        hidden_units=(512, 256, 128),
        hypothesis_layer=0,
        representation_layer=1,
        conv_channels=(32, 64),
        mlp_units=128,
        hypothesis_chunk_size=None,
        embedding_init_std=0.5,
        trunk=None,
        **trunk_params,
    ):
        super().__init__()
        trunk_params = _split_trunk_params(trunk_params, type(self).__name__)
        hidden_units = tuple(int(u) for u in hidden_units)
        if not 0 <= hypothesis_layer < len(hidden_units):
            raise ValueError(
                f"hypothesis_layer must be in [0, {len(hidden_units) - 1}] for "
                f"hidden_units={hidden_units}, got {hypothesis_layer}: the hypothesis "
                "must enter before a hidden layer (at the scalar output it would only "
                "add a per-class constant)"
            )
        if not hypothesis_layer <= representation_layer < len(hidden_units):
            raise ValueError(
                f"representation_layer must be in [{hypothesis_layer}, "
                f"{len(hidden_units) - 1}] (at or after hypothesis_layer, so that Z "
                f"is computed under a hypothesis), got {representation_layer}"
            )
        if hypothesis_chunk_size is not None and hypothesis_chunk_size < 1:
            raise ValueError(
                "hypothesis_chunk_size must be None or >= 1, "
                f"got {hypothesis_chunk_size}"
            )
        self.input_shape = tuple(input_shape)
        self.n_classes = int(n_classes)
        self.hypothesis_layer = hypothesis_layer
        self.representation_layer = representation_layer
        self.hypothesis_chunk_size = hypothesis_chunk_size

        self.trunk, n_in = make_trunk(
            self.input_shape, conv_channels=conv_channels, mlp_units=mlp_units,
            trunk=trunk, trunk_params=trunk_params,
        )  # fmt: skip
        self.pre, n_in = _mlp(n_in, hidden_units[:hypothesis_layer])
        # The injection layer: weight on h plus one bias row per hypothesis (W_y^T).
        self.inject = nn.Linear(n_in, hidden_units[hypothesis_layer])
        self.hypothesis_embedding = nn.Parameter(
            torch.empty(self.n_classes, hidden_units[hypothesis_layer])
        )
        if embedding_init_std is None:
            # The columns of a default-initialised Linear(n_in + K, ...) layer.
            bound = 1.0 / math.sqrt(n_in + self.n_classes)
            nn.init.uniform_(self.hypothesis_embedding, -bound, bound)
        else:
            nn.init.normal_(self.hypothesis_embedding, std=embedding_init_std)
        self.post, n_last = _mlp(
            hidden_units[hypothesis_layer], hidden_units[hypothesis_layer + 1 :]
        )
        self.out = nn.Linear(n_last, 1)

    # -- parts -------------------------------------------------------------
    def preprocess(self, x: Tensor) -> Tensor:
        """Layers run once per input: trunk and the FC layers before injection."""
        h = self.trunk(_reshape_input(x, self.input_shape))
        for layer in self.pre:
            h = F.relu(layer(h))
        return h

    def regularized_parameters(self):
        """Parameters of the layers from the injection to Z (updated by IE)."""
        n_reg = self.representation_layer - self.hypothesis_layer
        yield from self.inject.parameters()
        yield self.hypothesis_embedding
        for layer in self.post[:n_reg]:
            yield from layer.parameters()

    def _head(self, h: Tensor, hyps: Tensor, naive: bool = False, keep_z: bool = True):
        """Scores (B, k) and representation Z (B, k, D), or None unless
        ``keep_z``, for hypotheses ``hyps``."""
        if naive:
            b, k = h.shape[0], len(hyps)
            onehot = F.one_hot(hyps, self.n_classes).to(h.dtype)
            pairs = torch.cat(
                [h.unsqueeze(1).expand(b, k, -1), onehot.unsqueeze(0).expand(b, k, -1)],
                -1,
            )
            weight = torch.cat([self.inject.weight, self.hypothesis_embedding.T], 1)
            a = F.relu(F.linear(pairs, weight, self.inject.bias))
        else:
            a = F.relu(self.inject(h).unsqueeze(1) + self.hypothesis_embedding[hyps])
        z = a if keep_z else None
        for i, layer in enumerate(self.post, start=self.hypothesis_layer + 1):
            a = F.relu(layer(a))
            if keep_z and i == self.representation_layer:
                z = a
        return self.out(a).squeeze(-1), z

    def head(self, h: Tensor, naive: bool = False, keep_z: bool = True):
        """All K hypothesis scores (B, K) and representations Z (B, K, D) from h.

        With ``keep_z=False`` Z is not kept (None), so ``hypothesis_chunk_size``
        bounds the memory of scoring: outside autograd, the chunks are scored
        in buffers allocated once (:meth:`_scores_in_buffers`), since freeing
        and allocating B x chunk x D temporaries per chunk fragments the heap.
        """
        k = self.n_classes
        chunk = self.hypothesis_chunk_size or k
        if not keep_z and not naive and chunk < k and not torch.is_grad_enabled():
            return self._scores_in_buffers(h, chunk), None
        hyps = torch.arange(k, device=h.device)
        scores, zs = [], []
        for i in range(0, k, chunk):
            s, z = self._head(h, hyps[i : i + chunk], naive, keep_z)
            scores.append(s)
            zs.append(z)
        if len(scores) == 1:
            return scores[0], zs[0]
        return torch.cat(scores, 1), torch.cat(zs, 1) if keep_z else None

    def _scores_in_buffers(self, h: Tensor, chunk: int) -> Tensor:
        """Scores (B, K), ``chunk`` hypotheses at a time, in reused buffers
        laid out (hypotheses, B, units) so that a chunk is a contiguous slice;
        equal to the chunked autograd path up to float rounding."""
        base = self.inject(h)  # once per input, not once per chunk
        b, k = h.shape[0], self.n_classes
        bufs = [base.new_empty((chunk, b, base.shape[1]))]
        bufs += [base.new_empty((chunk, b, layer.out_features)) for layer in self.post]
        out = base.new_empty((k, b))
        for i in range(0, k, chunk):
            n = min(chunk, k - i)
            a = torch.add(base.unsqueeze(0), self.hypothesis_embedding[i : i + n, None],
                          out=bufs[0][:n]).relu_()  # fmt: skip
            for layer, buf in zip(self.post, bufs[1:], strict=True):
                a = torch.matmul(a, layer.weight.T, out=buf[:n])
                a.add_(layer.bias).relu_()
            torch.matmul(a, self.out.weight[0], out=out[i : i + n])
        return out.add_(self.out.bias).T

    # -- forward passes ----------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """Hypothesis scores, shape (B, K)."""
        return self.head(self.preprocess(x), keep_z=False)[0]

    def forward_naive(self, x: Tensor) -> Tensor:
        """The same scores by literal one-hot concatenation (K-fold cost)."""
        return self.head(self.preprocess(x), naive=True, keep_z=False)[0]

    def forward_train(self, x: Tensor):
        """Scores (B, K) for the objective and Z (B, K, D) for the IE regulariser.

        Both come from one forward pass. The IE term's gradient must reach only
        :meth:`regularized_parameters` (paper Algorithm 1), never the trunk:
        the estimator takes it with ``torch.autograd.grad`` restricted to those
        parameters (``HypothesisConditionedClassifier.train_step_single``).
        """
        return self.head(self.preprocess(x))


class CNNModule(nn.Module):
    """The paper's baseline: trunk -> FC 512-256-128 (ReLU) -> FC K logits."""

    def __init__(
        self,
        input_shape,
        n_classes,
        hidden_units=(512, 256, 128),
        conv_channels=(32, 64),
        mlp_units=128,
        style="guessfirst",
        trunk=None,
        **trunk_params,
    ):
        super().__init__()
        trunk_params = _split_trunk_params(trunk_params, type(self).__name__)
        self.input_shape = tuple(input_shape)
        self.trunk, n_in = make_trunk(
            self.input_shape,
            conv_channels=conv_channels,
            mlp_units=mlp_units,
            style=style,
            trunk=trunk,
            trunk_params=trunk_params,
        )
        self.hidden, n_in = _mlp(n_in, hidden_units)
        self.out = nn.Linear(n_in, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        h = self.trunk(_reshape_input(x, self.input_shape))
        for layer in self.hidden:
            h = F.relu(layer(h))
        return self.out(h)


class LeNet5Module(CNNModule):
    """LeNet-5-like substitute for black-box attacks: conv 6@5x5 pad 2, pool,
    conv 16@5x5, pool, FC 120, FC 84, FC K (paper Appendix F)."""

    def __init__(self, input_shape, n_classes, hidden_units=(120, 84), mlp_units=128):
        super().__init__(
            input_shape,
            n_classes,
            hidden_units=hidden_units,
            mlp_units=mlp_units,
            style="lenet",
        )


class VIBModule(nn.Module):
    """Variational information bottleneck (Alemi et al. 2016) in the baseline's middle.

    trunk -> FC 512 -> (mu, sigma) of a ``bottleneck``-d Gaussian with
    ``sigma = softplus(pre - 5)`` -> z -> FC 128 -> FC K. In training z is
    sampled (reparametrised); in evaluation the logits are averaged over
    ``n_samples`` draws, or computed from z = mu when ``n_samples`` is 0.
    """

    def __init__(
        self,
        input_shape,
        n_classes,
        encoder_units=512,
        bottleneck=256,
        decoder_units=128,
        conv_channels=(32, 64),
        mlp_units=128,
        n_samples=0,
        trunk=None,
        **trunk_params,
    ):
        super().__init__()
        trunk_params = _split_trunk_params(trunk_params, type(self).__name__)
        self.input_shape = tuple(input_shape)
        self.n_samples = n_samples
        self.trunk, n_in = make_trunk(
            self.input_shape, conv_channels=conv_channels, mlp_units=mlp_units,
            trunk=trunk, trunk_params=trunk_params,
        )  # fmt: skip
        self.encoder = nn.Linear(n_in, encoder_units)
        self.stats = nn.Linear(encoder_units, 2 * bottleneck)
        self.decoder = nn.Linear(bottleneck, decoder_units)
        self.out = nn.Linear(decoder_units, n_classes)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of q(z | x)."""
        h = F.relu(self.encoder(self.trunk(_reshape_input(x, self.input_shape))))
        mu, pre = self.stats(h).chunk(2, dim=-1)
        return mu, F.softplus(pre - 5.0)

    def decode(self, z: Tensor) -> Tensor:
        return self.out(F.relu(self.decoder(z)))

    def forward_train(self, x: Tensor):
        """Logits from one reparametrised sample; KL(q(z|x) || N(0, I)) per input."""
        mu, sigma = self.encode(x)
        z = mu + sigma * torch.randn_like(sigma)
        kl = 0.5 * (mu.pow(2) + sigma.pow(2) - 1.0 - 2.0 * torch.log(sigma)).sum(-1)
        return self.decode(z), kl

    def forward(self, x: Tensor, n_samples: int | None = None) -> Tensor:
        n = self.n_samples if n_samples is None else n_samples
        mu, sigma = self.encode(x)
        if n == 0:
            return self.decode(mu)
        # Average probabilities over draws (Alemi et al.), returned as log-probs
        # so that argmax and softmax still apply downstream.
        draws = mu + sigma * torch.randn(
            (n, *mu.shape), device=mu.device, dtype=mu.dtype
        )
        log_p = torch.log_softmax(self.decode(draws), dim=-1)
        return torch.logsumexp(log_p, 0) - math.log(n)
