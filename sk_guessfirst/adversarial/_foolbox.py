"""Minimal perturbations with Foolbox 3, the library the paper used.

For each example: the size of the smallest perturbation found that changes
the target model's prediction (0 where it is already wrong, inf where the
attack fails). White-box, the minimisation attacks (FMN, DDN, C&W) give it
directly; FGSM, which has a direction but no size, is searched along a grid
of budgets up to ``max_eps`` (the paper searched up to 1). Black-box, every
attack crafts on the substitute, and budgets are searched along the
substitute's perturbation direction, each point checked on the target; at a
fixed budget eps the transferred example is the substitute's direction
scaled to the whole budget.
"""

from __future__ import annotations

import numpy as np
import torch

from ..attacked._function import attacked_function, device_of, norms


def _split(params):
    """(Foolbox constructor parameters, line-search grid)."""
    params = dict(params)
    grid = np.linspace(0.0, params.pop("max_eps"), int(params.pop("grid")))
    return params, grid


def craft(
    backend,
    norm,
    source,
    X,
    y_enc,
    *,
    params,
    clip_values,
    view,
    eot_samples,
    batch_size,
):
    """Foolbox's adversarial examples on ``source`` for flat X, and the
    line-search grid. An attack without a size of its own (FGSM) runs at the
    top of the grid, which only serves to read off its direction."""
    import foolbox as fb

    params, grid = _split(params)
    module = attacked_function(source, view=view, eot_samples=eot_samples)
    device = device_of(source)
    fmodel = fb.PyTorchModel(module, bounds=tuple(clip_values), device=device)
    attack = backend.attack_class()(**params)
    epsilons = None if backend.sized else float(grid[-1])
    X_adv = np.empty_like(X)
    for start in range(0, len(X), batch_size):
        sl = slice(start, start + batch_size)
        x = torch.as_tensor(source.as_input(X[sl]), device=device)
        labels = torch.as_tensor(np.asarray(y_enc[sl], dtype=np.int64), device=device)
        _, clipped, _ = attack(fmodel, x, labels, epsilons=epsilons)
        X_adv[sl] = clipped.detach().cpu().numpy().reshape(X[sl].shape)
    return X_adv, grid


def direction(backend, norm, X_adv, X):
    """Unit step (per example) along which budgets are searched: the sign of
    the perturbation for an attack without a size (clip(x + t sign(g)) for t
    in [0, max_eps]), else the perturbation scaled to norm 1."""
    delta = X_adv - X
    if not backend.sized:
        return np.sign(delta)
    size = norms(delta, norm).reshape(-1, *[1] * (delta.ndim - 1))
    return np.where(size > 0, delta / np.maximum(size, 1e-12), 0.0).astype(np.float32)


def along(X, step, t, clip_values):
    """clip(X + t step); ``t`` a budget, or one budget per leading row of X."""
    t = np.reshape(t, np.shape(t) + (1,) * (np.ndim(X) - np.ndim(t)))
    return np.clip(X + t * step, *clip_values).astype(np.float32)


# Rows of one prediction call in the line search (budgets x examples still
# searched): the budgets are checked many at a time, not one call per budget.
SEARCH_ROWS = 4096


def _line_search(target, X, y, step, grid, clip_values, rows=SEARCH_ROWS):
    """Smallest budget t on ``grid`` with target(clip(X + t d)) != y; inf if none.

    The grid is walked in blocks of budgets, each block one ``predict`` call
    on every example not yet fooled at every budget of the block (at most
    ``rows`` rows, or one budget when more examples than that are left); an
    example's first fooling budget in the first block that fools it is its
    minimum, as in a walk one budget at a time."""
    minimal = np.full(len(X), np.inf)
    budgets = grid[1:]
    start = 0
    while start < len(budgets):
        todo = np.flatnonzero(np.isinf(minimal))
        if not len(todo):
            break
        block = budgets[start : start + max(1, rows // len(todo))]
        start += len(block)
        points = along(X[todo][None], step[todo][None], block[:, None], clip_values)
        predicted = target.predict(points.reshape(-1, *X.shape[1:]))
        fooled = (predicted.reshape(len(block), len(todo)) != y[todo]).T
        hit = fooled.any(1)
        minimal[todo[hit]] = block[fooled[hit].argmax(1)]
    return minimal


def minimal_perturbations(backend, norm, crafted, own, target, X, y, opts):
    """Per-example minimal perturbation (in ``norm``) that fools ``target``,
    from the examples ``crafted`` (with their grid) on the target itself
    (``own``) or on a substitute.

    Returns (minimal, X_found): the sizes (0 where the target is already
    wrong, inf where nothing was found) and the adversarial examples found
    (X itself where none).
    """
    X_adv, grid = crafted
    clip_values = opts["clip_values"]
    if own and backend.sized:
        fooled = target.predict(X_adv) != y
        minimal = np.where(fooled, norms(X_adv - X, norm), np.inf)
        X_found = np.where(fooled[:, None], X_adv, X)
    else:
        step = direction(backend, norm, X_adv, X)
        minimal = _line_search(target, X, y, step, grid, clip_values)
        found = np.isfinite(minimal)
        X_found = X.copy()
        X_found[found] = along(X[found], step[found], minimal[found, None], clip_values)
    wrong = target.predict(X) != y
    minimal[wrong] = 0.0
    X_found[wrong] = X[wrong]
    return minimal, X_found


def transferred(backend, norm, crafted, X, eps, opts):
    """Black-box examples at budget ``eps``: the substitute's direction, scaled
    to the whole budget (what an attacker who knows eps would send)."""
    X_adv, _ = crafted
    return along(X, direction(backend, norm, X_adv, X), eps, opts["clip_values"])
