"""The bridge to ART (adversarial/_art.py) and ART's configuration (_artconfig.py)."""

import os

import numpy as np
import pytest

from sk_guessfirst.adversarial import (
    adversarial_accuracy,
    evaluate_attack,
    to_art,
)


def test_art_bridge_scores_and_gradients(hcc, digits):
    _, _, Xt, _ = digits
    art = to_art(hcc)
    images = Xt[:10].reshape(10, 1, 8, 8)  # ART sees NCHW images
    np.testing.assert_allclose(
        art.predict(images), hcc.decision_function(Xt[:10]), rtol=1e-4, atol=1e-4
    )
    # gradients flow through every hypothesis score
    grads = art.class_gradient(images[:4])
    assert grads.shape == (4, 10, 1, 8, 8)
    assert np.all(np.abs(grads).reshape(4, 10, -1).max(-1) > 0)
    # the estimator's own module is untouched (a frozen eval-mode snapshot)
    hcc.module_.train()
    art.predict(images[:2])
    assert hcc.module_.training
    hcc.module_.eval()
    assert all(p.requires_grad for p in hcc.module_.parameters())


def test_art_instance_with_another_eps_is_refused(hcc, digits):
    from art.attacks.evasion import ProjectedGradientDescent

    _, _, Xt, yt = digits
    attack = ProjectedGradientDescent(
        to_art(hcc), eps=0.3, eps_step=0.05, max_iter=5, verbose=False
    )
    with pytest.raises(ValueError, match="eps=0.3, but eps=0.1"):
        adversarial_accuracy(hcc, Xt, yt, attack=attack, eps=0.1)
    # eps=None takes the instance's; the instance is run as built
    result = evaluate_attack(hcc, Xt[:30], yt[:30], attack=attack, eps=None)
    assert result.eps == 0.3 and result.accuracy < 0.2


def test_art_config_is_written_whole_and_never_over_another(tmp_path, monkeypatch):
    # ART writes ~/.art/config.json on first import; processes importing it at
    # once on a fresh home raced into a NameError inside art.config.
    import json

    from sk_guessfirst.adversarial import _artconfig

    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / ".art" / "config.json"
    _artconfig.ensure_art_config()
    assert json.loads(path.read_text()) == {
        "ART_DATA_PATH": str(tmp_path / ".art" / "data")
    }
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]
    path.write_text('{"ART_DATA_PATH": "/elsewhere"}')
    _artconfig.ensure_art_config()  # present: left alone
    assert path.read_text() == '{"ART_DATA_PATH": "/elsewhere"}'

    # another process writes its file between the check and the link
    path.unlink()
    real_link = os.link

    def others_first(src, dst):
        path.write_text('{"ART_DATA_PATH": "/theirs"}')
        real_link(src, dst)

    monkeypatch.setattr(_artconfig.os, "link", others_first)
    _artconfig.ensure_art_config()
    assert path.read_text() == '{"ART_DATA_PATH": "/theirs"}'
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.json"]
