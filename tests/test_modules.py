"""The networks: efficient vs naive hypothesis paths, chunking, IE gradient routing."""

import pytest
import torch

from sk_guessfirst.modules import (
    CNNModule,
    HypothesisConditionedModule,
    LeNet5Module,
    VIBModule,
    make_trunk,
    trunk_kind,
)


@pytest.mark.parametrize(
    "shape, kind",
    [
        ((1, 28, 28), "paper"),
        ((3, 32, 32), "paper"),
        ((1, 8, 8), "small"),
        ((1, 4, 4), "mlp"),
        ((20,), "mlp"),
    ],
)
def test_trunk_rule(shape, kind):
    assert trunk_kind(shape).name == kind
    trunk, dim = make_trunk(shape)
    assert trunk.eval()(torch.zeros(2, *shape)).shape == (2, dim)


def test_paper_trunk_output_is_1600():
    assert make_trunk((1, 28, 28))[1] == 5 * 5 * 64


@pytest.mark.parametrize(
    "hypothesis_layer, representation_layer", [(0, 1), (1, 1), (2, 2)]
)
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (7,)])
def test_efficient_equals_naive(shape, hypothesis_layer, representation_layer):
    torch.manual_seed(0)
    m = HypothesisConditionedModule(
        shape,
        10,
        hypothesis_layer=hypothesis_layer,
        representation_layer=representation_layer,
    ).eval()
    x = torch.rand(5, *shape)
    fast, naive = m(x), m.forward_naive(x)
    assert fast.shape == (5, 10)
    torch.testing.assert_close(fast, naive, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layers", [dict(), dict(hypothesis_layer=1,
                                       representation_layer=2)])  # fmt: skip
@pytest.mark.parametrize("chunk", [1, 3, 6])
def test_chunked_hypotheses_equal_unchunked(chunk, layers):
    torch.manual_seed(0)
    m = HypothesisConditionedModule((1, 8, 8), 7, **layers).eval()
    x = torch.rand(4, 1, 8, 8)
    full = m(x)
    m.hypothesis_chunk_size = chunk
    torch.testing.assert_close(m(x), full)  # autograd: per-chunk graphs
    with torch.no_grad():  # scores only: reused buffers
        torch.testing.assert_close(m(x), full)
        scores, z = m.head(m.preprocess(x), keep_z=False)
    assert z is None and scores.shape == (4, 7)
    scores, z = m.forward_train(x)
    assert z.shape[:2] == (4, 7)
    torch.testing.assert_close(scores, full)


def test_invalid_depths():
    with pytest.raises(ValueError, match="hypothesis_layer"):
        HypothesisConditionedModule((5,), 3, hypothesis_layer=3)
    with pytest.raises(ValueError, match="representation_layer"):
        HypothesisConditionedModule((5,), 3, hypothesis_layer=1, representation_layer=0)


def test_regularised_layers_are_injection_to_z():
    m = HypothesisConditionedModule((1, 28, 28), 3)
    regularised = {
        n
        for n, p in m.named_parameters()
        if any(p is q for q in m.regularized_parameters())
    }
    assert regularised == {
        "inject.weight",
        "inject.bias",
        "hypothesis_embedding",
        "post.0.weight",
        "post.0.bias",
    }
    deeper = HypothesisConditionedModule((6,), 3, representation_layer=2)
    assert sum(1 for _ in deeper.regularized_parameters()) == 7


def test_forward_train_scores_equal_forward():
    torch.manual_seed(0)
    m = HypothesisConditionedModule((1, 8, 8), 4).eval()
    x = torch.rand(3, 1, 8, 8)
    scores, z = m.forward_train(x)
    torch.testing.assert_close(scores, m(x))
    assert z.shape == (3, 4, 256)


def test_baselines_shapes():
    x = torch.rand(3, 1, 28, 28)
    assert CNNModule((1, 28, 28), 10).eval()(x).shape == (3, 10)
    assert LeNet5Module((1, 28, 28), 10).eval()(x).shape == (3, 10)
    vib = VIBModule((1, 28, 28), 10).eval()
    assert vib(x).shape == (3, 10)
    logits, kl = vib.forward_train(x)
    assert logits.shape == (3, 10) and kl.shape == (3,) and bool((kl >= 0).all())


def test_vib_sampled_prediction_is_log_probability():
    torch.manual_seed(0)
    vib = VIBModule((6,), 3, n_samples=12).eval()
    out = vib(torch.rand(4, 6))
    torch.testing.assert_close(out.exp().sum(1), torch.ones(4))
