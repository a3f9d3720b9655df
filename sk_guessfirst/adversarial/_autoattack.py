"""AutoAttack (Croce & Hein 2020) from the reference implementation, ``pyautoattack``.

ART ships its own ``AutoAttack``, but its default ensemble is not the
standard one (DeepFool instead of FAB, 5 restarts, another first step); the
field's numbers come from the authors' code, which this module calls as is.
Its self-checks (randomised model, probabilities instead of logits, zero
gradients, Square beating the white-box attacks...) are logged as warnings;
they are collected here as flags.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
import torch

from ..attacked._function import attacked_function, device_of

_NORMS = {float(np.inf): "Linf", 2.0: "L2"}
_AFTER = re.compile(r"robust accuracy after ([A-Z-]+): ([0-9.]+)%")


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.flags, self.after = [], {}

    def emit(self, record):
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            self.flags.append(message)
        match = _AFTER.search(message)
        if match:
            self.after[match.group(1).lower()] = float(match.group(2)) / 100


@dataclass
class AutoAttackRun:
    """Adversarial examples and what AutoAttack reported while making them."""

    X_adv: np.ndarray
    flags: list = field(default_factory=list)
    accuracy_after: dict = field(default_factory=dict)  # component -> robust acc


def reference_autoattack(module, backend, norm, eps, params, device, n_classes):
    """The reference ``AutoAttack`` object of ``backend`` (the ensemble or one
    of its attacks, ``_backends.AutoAttack``), with ``params`` set on its parts."""
    from pyautoattack import AutoAttack

    params = dict(params)
    version = params.pop("version", "custom")
    seed = params.pop("seed")
    attacks = None if version != "custom" else [backend.component]
    aa = AutoAttack(
        module,
        attacks=attacks,
        device=device,
        eps=float(eps),
        norm=_NORMS[norm],
        seed=seed,
        version=version,
    )
    parts = [getattr(aa, name) for name in backend.parts]
    for name, value in (*params.items(), *backend.settings):
        for part in parts:
            if hasattr(part, name):
                setattr(part, name, value)
    for part in (aa.apgd_targeted, aa.fab):  # at most K - 1 target hypotheses
        part.n_target_classes = min(part.n_target_classes, n_classes - 1)
    return aa


def craft_autoattack(
    backend,
    norm,
    target,
    X,
    y_enc,
    eps,
    params,
    *,
    clip_values,
    view,
    eot_samples,
    batch_size,
):
    """Run AutoAttack (or one of its attacks) on flat X; returns an AutoAttackRun."""
    if tuple(clip_values) != (0.0, 1.0):
        raise ValueError(
            "AutoAttack's reference code assumes inputs in [0, 1]; got clip_values "
            f"{tuple(clip_values)}. Rescale X to [0, 1]."
        )
    device = device_of(target)
    module = attacked_function(target, view=view, eot_samples=eot_samples)
    flat = len(target.input_shape) == 1
    if flat:  # Square samples squares of an image: D features as a 1 x D image
        module = torch.nn.Sequential(torch.nn.Flatten(), module)
    aa = reference_autoattack(
        module, backend, norm, eps, params, device, n_classes=len(target.classes_)
    )
    collect = _Collect()
    logger = aa.logger
    saved = logger.level, logger.propagate
    logger.addHandler(collect)
    # its warnings become our flags (reported), not stray stderr lines
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        x = torch.as_tensor(target.as_input(X))
        if flat:
            x = x.reshape(len(x), 1, 1, -1)
        y = torch.as_tensor(np.asarray(y_enc, dtype=np.int64))
        X_adv, _ = aa.run_standard_evaluation(x, y, batch_size=batch_size)
    finally:
        logger.removeHandler(collect)
        logger.level, logger.propagate = saved
    X_adv = X_adv.detach().cpu().numpy().reshape(X.shape).astype(np.float32)
    return AutoAttackRun(X_adv, collect.flags, collect.after)
