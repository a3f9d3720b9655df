"""The estimators: skorch classifiers that are real scikit-learn estimators."""

from __future__ import annotations

from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn

from ._base import GuessFirstNet, _check_number
from .modules import CNNModule, HypothesisConditionedModule, LeNet5Module, VIBModule
from .objectives import OBJECTIVES, objective_loss, predict_proba_from_scores
from .regularizers import backward_with_penalty, class_mmd


class ObjectiveLoss(nn.Module):
    """Criterion wrapping :func:`~sk_guessfirst.objectives.objective_loss`."""

    def __init__(self, objective="dv"):
        super().__init__()
        self.objective = objective

    def forward(self, scores, y):
        return objective_loss(scores, y, self.objective)


class HypothesisConditionedClassifier(GuessFirstNet):
    """Classifier whose inference is conditioned on a label hypothesis ("Guess First").

    A network scores every pair (x, k) with one real number ``T(x, k)``; the
    prediction is ``argmax_k T(x, k)``. It is trained to maximise a variational
    lower bound on a divergence between true (x, y) pairs and x paired with a
    uniformly drawn hypothesis, optionally with the information-elimination
    (IE) regulariser that removes label information from the representation
    under each hypothesis (Zhu, An, Niu, arXiv 2001.03311).

    Parameters
    ----------
    objective : {"dv", "js", "energy", "kl", "rkl", "pearson", "hellinger", "gan"}, \
default="dv"
        The variational bound trained (see :mod:`sk_guessfirst.objectives`).
        "dv" and "js" are the paper's C-DV and C-JS models.
    ie_lambda : float, default=0.0
        Weight of the IE regulariser; > 0 gives the paper's C-DV-IE / C-JS-IE.
    sigma : float or "median", default="median"
        Gaussian kernel bandwidth of the MMD; "median" uses the median pairwise
        distance of each hypothesis's representations in the batch.
    hypothesis_layer : int, default=0
        Index of the hidden FC layer the one-hot hypothesis enters (0: right
        after the convolutional trunk, as in the paper).
    representation_layer : int, default=1
        Index of the hidden FC layer whose output is the regularised
        representation Z (paper: the 2nd FC layer).
    hypothesis_chunk_size : int or None, default=None
        Score hypotheses in chunks of this size to bound memory for large K.
    input_shape : tuple or None, default=None
        Shape of one sample, e.g. (1, 28, 28). None infers (1, s, s) from
        s*s >= 64 features (or takes it from 3-D/4-D X), else flat features.
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=1e-3
    max_epochs : int, default=10
    batch_size : int, default=250
        Fixed within each epoch: the last incomplete batch is dropped, as the
        DV estimate depends on the batch size.
    device : str, default="auto"
        "auto" trains on CUDA when available; or "cpu", "cuda", "cuda:N".
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation and shuffling; the same seed gives the
        same predictions on CPU. The global torch RNG is left untouched.
    train_split : callable or None, default=None
        skorch's validation split; None trains on all the data.
    callbacks : list or None, default=None
        skorch callbacks, e.g. ``[ProgressBar()]``.
    verbose : int, default=0
    warm_start : bool, default=False
    **kwargs
        The shared parameters above (declared by the common base class) and
        skorch's routed parameters: ``module__hidden_units=(512, 256, 128)``,
        ``module__conv_channels=(32, 64)``, ``optimizer__weight_decay``,
        ``iterator_train__num_workers`` and so on.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen in fit.
    input_shape_ : tuple
        The sample shape the network was built for.
    input_kind_ : str
        The trunk chosen: "paper", "small" or "mlp".
    module_ : HypothesisConditionedModule
        The trained network.
    history_ : skorch.History
        Per epoch ``train_loss``; per batch ``objective`` and, with IE, ``ie``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sk_guessfirst import HypothesisConditionedClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = HypothesisConditionedClassifier(max_epochs=60, batch_size=50,
    ...                                       random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    def __init__(
        self,
        *,
        objective="dv",
        ie_lambda=0.0,
        sigma="median",
        hypothesis_layer=0,
        representation_layer=1,
        hypothesis_chunk_size=None,
        module=HypothesisConditionedModule,
        criterion=ObjectiveLoss,
        **kwargs,
    ):
        super().__init__(module, criterion=criterion, **kwargs)
        self.objective = objective
        self.ie_lambda = ie_lambda
        self.sigma = sigma
        self.hypothesis_layer = hypothesis_layer
        self.representation_layer = representation_layer
        self.hypothesis_chunk_size = hypothesis_chunk_size

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {OBJECTIVES}, got {self.objective!r}"
            )
        _check_number("ie_lambda", self.ie_lambda, low=0)
        if not (isinstance(self.sigma, str) and self.sigma == "median"):
            if isinstance(self.sigma, str):
                raise ValueError(
                    f"sigma must be a positive number or 'median', got {self.sigma!r}"
                )
            _check_number("sigma", self.sigma, low=0, include_low=False)

    def _module_kwargs(self):
        return {
            **super()._module_kwargs(),
            "hypothesis_layer": self.hypothesis_layer,
            "representation_layer": self.representation_layer,
            "hypothesis_chunk_size": self.hypothesis_chunk_size,
        }

    def initialize_criterion(self):
        kwargs = {"objective": self.objective, **self.get_params_for("criterion")}
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def infer(self, x, **fit_params):
        if not (self.module_.training and self.ie_lambda):
            return super().infer(x, **fit_params)
        return self.module_.forward_train(to_tensor(x, device=self.device))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if training:
            self.history.record_batch("objective", loss.item())
        return loss

    def train_step_single(self, batch, **fit_params):
        """One batch's loss and gradients: the objective, plus IE if ie_lambda > 0.

        IE's gradient reaches only ``module_.regularized_parameters()`` (paper
        Appendix F, Algorithm 1), from the same forward pass as the objective:
        see :func:`~sk_guessfirst.regularizers.backward_with_penalty`.
        """
        if not self.ie_lambda:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        scores, z = self.infer(Xi, **fit_params)
        objective = self.get_loss(scores, yi, X=Xi, training=True)
        # z is (B, K, D); one MMD spread per hypothesis, summed (paper App. B).
        y = to_tensor(yi, device=self.device)
        ie = class_mmd(z.transpose(0, 1), y, self.sigma).sum()
        self._check_finite(ie, "IE regulariser")
        self.history.record_batch("ie", ie.item())
        backward_with_penalty(
            objective, self.ie_lambda * ie, self.module_.regularized_parameters()
        )
        return {"loss": (objective + self.ie_lambda * ie).detach(), "y_pred": scores}

    def _loss_description(self):
        ie = (
            f" with IE (ie_lambda={self.ie_lambda}, sigma={self.sigma!r})"
            if self.ie_lambda
            else ""
        )
        return f"of objective {self.objective!r}{ie}"

    def _proba_from_scores(self, scores):
        return predict_proba_from_scores(scores, self.objective)


class CNNClassifier(GuessFirstNet):
    """The paper's baseline CNN: trunk, FC 512-256-128, FC K, softmax cross-entropy.

    Takes the same parameters as :class:`HypothesisConditionedClassifier`
    where they apply (``input_shape``, ``optimizer``, ``lr``, ``max_epochs``,
    ``batch_size``, ``device``, ``random_state``, ``train_split``,
    ``callbacks``, ``verbose``, ``warm_start``, ``module__...``).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sk_guessfirst import CNNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> CNNClassifier(max_epochs=5, random_state=0).fit(X, y).predict(X[:2]).shape
    (2,)
    """

    def __init__(self, *, module=CNNModule, criterion=nn.CrossEntropyLoss, **kwargs):
        super().__init__(module, criterion=criterion, **kwargs)


class LeNet5Classifier(CNNClassifier):
    """LeNet-5-like CNN, the substitute model for black-box (transfer) attacks.

    conv 6@5x5 pad 2, max-pool, conv 16@5x5, max-pool, FC 120, FC 84, FC K
    (3x3 kernels on images smaller than 28 pixels). Parameters as
    :class:`CNNClassifier`.
    """

    def __init__(self, *, module=LeNet5Module, **kwargs):
        super().__init__(module=module, **kwargs)


class VIBClassifier(GuessFirstNet):
    """Deep variational information bottleneck (Alemi et al. 2016) baseline.

    Parameters
    ----------
    beta : float, default=1e-3
        Weight of KL(q(z|x) || N(0, I)) (Alemi et al. used 1e-3 on MNIST).
    n_predict_samples : int, default=0
        Draws of z averaged at prediction. 0 predicts through the mean
        encoder, deterministically: the same function that white-box attacks
        differentiate. Alemi et al. averaged 12 draws.
    Other parameters as :class:`CNNClassifier`; the bottleneck size is
    ``module__bottleneck`` (default 256).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sk_guessfirst import VIBClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> VIBClassifier(max_epochs=5, random_state=0).fit(X, y).score(X, y) > 0
    True
    """

    def __init__(
        self,
        *,
        beta=1e-3,
        n_predict_samples=0,
        module=VIBModule,
        criterion=nn.CrossEntropyLoss,
        **kwargs,
    ):
        super().__init__(module, criterion=criterion, **kwargs)
        self.beta = beta
        self.n_predict_samples = n_predict_samples

    def _validate_hyperparameters(self):
        super()._validate_hyperparameters()
        _check_number("beta", self.beta, low=0)
        _check_number("n_predict_samples", self.n_predict_samples, low=0, integer=True)

    def _module_kwargs(self):
        return {**super()._module_kwargs(), "n_samples": self.n_predict_samples}

    def infer(self, x, **fit_params):
        if not self.module_.training:
            return super().infer(x, **fit_params)
        return self.module_.forward_train(to_tensor(x, device=self.device))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        logits, kl = y_pred if isinstance(y_pred, tuple) else (y_pred, None)
        loss = super().get_loss(logits, y_true, X=X, training=training)
        if kl is None:
            return loss
        kl = kl.mean()
        self.history.record_batch("kl", kl.item())
        return loss + self.beta * kl

    def _loss_description(self):
        return f"of the VIB loss (beta={self.beta})"
