"""Minimal perturbations with Foolbox 3, the library the paper used.

For each example: the size of the smallest perturbation found that changes
the target model's prediction (0 where it is already wrong, inf where the
attack fails). White-box, the minimisation attacks (FMN, DDN, C&W) give it
directly; FGSM, which has a direction but no size, is searched along a grid
of budgets up to ``max_eps`` (the paper searched up to 1). Black-box, every
attack crafts on the substitute and the same line search runs along the
substitute's perturbation direction, each point checked on the target.
"""

from __future__ import annotations

import numpy as np
import torch

from ._model import attacked_function, device_of


def _fmodel(target, view, eot_samples, clip_values):
    import foolbox as fb

    module = attacked_function(target, view=view, eot_samples=eot_samples)
    return fb.PyTorchModel(module, bounds=tuple(clip_values), device=device_of(target))


def _norms(delta, norm):
    flat = delta.reshape(len(delta), -1)
    return np.abs(flat).max(1) if np.isinf(norm) else np.linalg.norm(flat, axis=1)


def _direction(spec, delta):
    """Unit step along which budgets are searched (per example)."""
    if spec.name == "fgsm-search":
        return np.sign(delta)  # clip(x + t sign(g)) for t in [0, max_eps]
    size = _norms(delta, spec.norm).reshape(-1, *[1] * (delta.ndim - 1))
    return np.where(size > 0, delta / np.maximum(size, 1e-12), 0.0)


def _line_search(target, X, y, direction, grid, clip_values):
    """Smallest budget t on ``grid`` with target(clip(X + t d)) != y; inf if none."""
    minimal = np.full(len(X), np.inf)
    for t in grid[1:]:
        todo = np.flatnonzero(np.isinf(minimal))
        if not len(todo):
            break
        X_t = np.clip(X[todo] + t * direction[todo], *clip_values)
        fooled = target.predict(X_t) != y[todo]
        minimal[todo[fooled]] = t
    return minimal


def minimal_perturbations(
    spec, source, target, X, y, y_enc, *, params, clip_values, view, eot_samples,
    batch_size,
):
    """Per-example minimal perturbation (in ``spec.norm``) that fools ``target``.

    ``source`` crafts (the target itself white-box, a substitute black-box);
    X is flat, y the labels and y_enc their indices. Examples the target
    already misclassifies get 0.
    """
    from ._attacks import _foolbox_class

    params = dict(params)
    grid = np.linspace(0.0, params.pop("max_eps"), int(params.pop("grid")))
    fmodel = _fmodel(source, view, eot_samples, clip_values)
    # FGSM is run at the top of the grid only to read off its direction
    attack = _foolbox_class(spec.name)(**params)
    epsilons = grid[-1] if spec.name == "fgsm-search" else None
    device = device_of(source)
    X_adv = np.empty_like(X)
    for start in range(0, len(X), batch_size):
        sl = slice(start, start + batch_size)
        x = torch.as_tensor(source.as_input(X[sl]), device=device)
        labels = torch.as_tensor(np.asarray(y_enc[sl], dtype=np.int64), device=device)
        _, clipped, _ = attack(fmodel, x, labels, epsilons=epsilons)
        X_adv[sl] = clipped.detach().cpu().numpy().reshape(X[sl].shape)

    delta = X_adv - X
    white = source is target
    if white and spec.name != "fgsm-search":
        fooled = target.predict(X_adv) != y
        minimal = np.where(fooled, _norms(delta, spec.norm), np.inf)
    else:
        minimal = _line_search(target, X, y, _direction(spec, delta), grid, clip_values)
    minimal[target.predict(X) != y] = 0.0
    return minimal
