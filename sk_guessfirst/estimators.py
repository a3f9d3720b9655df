"""The estimators: skorch classifiers that are real scikit-learn estimators."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from skorch.dataset import unpack_data
from skorch.utils import to_tensor
from torch import nn

from ._base import GuessFirstNet
from ._docs import fill_doc
from ._validation import non_negative, positive
from .modules import CNNModule, HypothesisConditionedModule, LeNet5Module, VIBModule
from .objectives import OBJECTIVES, objective_loss, predict_proba_from_scores
from .regularizers import backward_with_penalty, class_mmd


class ObjectiveLoss(nn.Module):
    """Criterion wrapping :func:`~sk_guessfirst.objectives.objective_loss`.

    It holds the objective the network was trained with (the estimator's
    ``objective`` parameter at fit time), which is what probabilities are
    derived from, and the class weights, if any.

    Parameters
    ----------
    objective : str, default="dv"
        One of :data:`~sk_guessfirst.OBJECTIVES`.
    weight : array-like of shape (n_classes,) or None, default=None
        Class weights of the joint term (see ``objective_loss``).
    """

    def __init__(self, objective: str = "dv", weight: Any = None) -> None:
        super().__init__()
        self.objective = objective
        self.register_buffer(
            "weight",
            None if weight is None else torch.as_tensor(weight, dtype=torch.float32),
        )

    def forward(self, scores, y):
        return objective_loss(scores, y, self.objective, self.weight)


@fill_doc
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
        Read at prediction time, so it can change after fit.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the objective's joint term: its expectation
        over true pairs becomes one under P_w(x, y) ∝ w_y P(x, y), so the bound
        is on D(P_w || Q) and ``predict_proba`` gives p_w(k|x) ∝ w_k p(k|x).
        "balanced" uses n / (K n_k), as scikit-learn does; a dict maps labels
        to weights (missing labels weigh 1).
    module : torch module class, default=HypothesisConditionedModule
        The network; its parameters are routed as ``module__...``.
    criterion : torch module class, default=ObjectiveLoss
        The training loss; the objective is set by ``objective``.
    {common_parameters}

    Attributes
    ----------
    class_weight_ : ndarray of shape (n_classes,) or None
        The class weights used in training.
    {common_attributes}

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
        objective: str = "dv",
        ie_lambda: float = 0.0,
        sigma: float | str = "median",
        hypothesis_layer: int = 0,
        representation_layer: int = 1,
        hypothesis_chunk_size: int | None = None,
        class_weight: str | dict[Any, float] | None = None,
        module: Any = HypothesisConditionedModule,
        criterion: Any = ObjectiveLoss,
        **kwargs: Any,
    ) -> None:
        super().__init__(module, criterion=criterion, **kwargs)
        self.class_weight = class_weight
        self.objective = objective
        self.ie_lambda = ie_lambda
        self.sigma = sigma
        self.hypothesis_layer = hypothesis_layer
        self.representation_layer = representation_layer
        self.hypothesis_chunk_size = hypothesis_chunk_size

    _parameter_constraints = {
        **GuessFirstNet._parameter_constraints,
        "objective": [StrOptions(OBJECTIVES)],  # live: registered ones too
        "ie_lambda": [non_negative()],
        "sigma": [positive(), StrOptions({"median"})],
        "hypothesis_layer": [non_negative(numbers.Integral)],
        "representation_layer": [non_negative(numbers.Integral)],
        "hypothesis_chunk_size": [positive(numbers.Integral), None],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }
    class_weight: str | dict[Any, float] | None = (
        None  # class-level default: models pickled before it existed
    )

    def _validate_y(self, y, classes=None):
        y_enc = super()._validate_y(y, classes=classes)
        if not hasattr(self, "class_weight_") or not self.__sklearn_is_fitted__():
            self.class_weight_ = self._compute_class_weight(y_enc)
        return y_enc

    def _compute_class_weight(self, y_enc):
        if self.class_weight is None:
            return None
        k = len(self.classes_)
        if self.class_weight == "balanced":
            present = np.unique(y_enc)
            weights = np.ones(k)
            weights[present] = compute_class_weight(
                "balanced", classes=present, y=y_enc
            )
            return weights
        unknown = set(self.class_weight) - set(self.classes_.tolist())
        if unknown:
            raise ValueError(
                f"class_weight has labels {sorted(unknown, key=str)} that are not in "
                f"classes_ {self.classes_.tolist()}"
            )
        return np.array([float(self.class_weight.get(c, 1.0)) for c in self.classes_])

    def _module_kwargs(self):
        return {
            **super()._module_kwargs(),
            "hypothesis_layer": self.hypothesis_layer,
            "representation_layer": self.representation_layer,
            "hypothesis_chunk_size": self.hypothesis_chunk_size,
        }

    def initialize_criterion(self):
        kwargs = {
            "objective": self.objective,
            "weight": getattr(self, "class_weight_", None),
            **self.get_params_for("criterion"),
        }
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def initialize_module(self):
        super().initialize_module()
        needs = ("forward_train", "regularized_parameters")
        if self.ie_lambda and not all(hasattr(self.module_, n) for n in needs):
            raise ValueError(
                f"ie_lambda={self.ie_lambda} needs a module with forward_train(x) -> "
                "(scores, Z) and regularized_parameters() (as "
                f"HypothesisConditionedModule has); {type(self.module_).__name__} "
                "has not. To bring your own preprocessing, keep the module and pass "
                "module__trunk=YourModule"
            )
        return self

    def infer(self, x, **fit_params):
        if not (self.module_.training and self.ie_lambda):
            # a prediction-time parameter: read now, not frozen at fit
            self.module_.hypothesis_chunk_size = self.hypothesis_chunk_size
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

    def _collapse_hint(self):
        if self.ie_lambda > 0:
            return (
                f"The IE regulariser is the likely cause: ie_lambda={self.ie_lambda} "
                f"with sigma={self.sigma!r} can erase the label information (user "
                "guide, 'When training collapses'); lower ie_lambda or raise sigma."
            )
        return super()._collapse_hint()

    def _loss_description(self):
        ie = (
            f" with IE (ie_lambda={self.ie_lambda}, sigma={self.sigma!r})"
            if self.ie_lambda
            else ""
        )
        return f"of objective {self.objective!r}{ie}"

    def _proba_from_scores(self, scores):
        # the objective the network was trained with, not today's parameter
        return predict_proba_from_scores(scores, self.criterion_.objective)


@fill_doc
class CNNClassifier(GuessFirstNet):
    """The paper's baseline CNN: trunk, FC 512-256-128, FC K, softmax cross-entropy.

    Parameters
    ----------
    module : torch module class, default=CNNModule
        The network; its parameters are routed as ``module__...``.
    criterion : torch module class, default=torch.nn.CrossEntropyLoss
        The training loss.
    {common_parameters}

    Attributes
    ----------
    {common_attributes}

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sk_guessfirst import CNNClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> CNNClassifier(max_epochs=5, random_state=0).fit(X, y).predict(X[:2]).shape
    (2,)
    """

    _convolutional = True

    def __init__(
        self,
        *,
        module: Any = CNNModule,
        criterion: Any = nn.CrossEntropyLoss,
        **kwargs: Any,
    ) -> None:
        super().__init__(module, criterion=criterion, **kwargs)


@fill_doc
class LeNet5Classifier(CNNClassifier):
    """LeNet-5-like CNN, the substitute model for black-box (transfer) attacks.

    conv 6@5x5 pad 2, max-pool, conv 16@5x5, max-pool, FC 120, FC 84, FC K
    (3x3 kernels on images smaller than 28 pixels).

    Parameters
    ----------
    module : torch module class, default=LeNet5Module
        The network; its parameters are routed as ``module__...``.
    {common_parameters}

    Attributes
    ----------
    {common_attributes}

    Examples
    --------
    >>> from sk_guessfirst import LeNet5Classifier
    >>> from sk_guessfirst.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = LeNet5Classifier(max_epochs=2, input_shape=(1, 8, 8), random_state=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    def __init__(self, *, module: Any = LeNet5Module, **kwargs: Any) -> None:
        super().__init__(module=module, **kwargs)


@fill_doc
class VIBClassifier(GuessFirstNet):
    """Deep variational information bottleneck (Alemi et al. 2016) baseline.

    Parameters
    ----------
    beta : float, default=1e-3
        Weight of KL(q(z|x) || N(0, I)) (Alemi et al. used 1e-3 on MNIST).
    n_predict_samples : int, default=0
        Draws of z averaged at prediction. 0 predicts through the mean
        encoder, deterministically: the same function that white-box attacks
        differentiate. Alemi et al. averaged 12 draws. Read at prediction
        time; with ``random_state`` set, the draws are reproducible.
    module : torch module class, default=VIBModule
        Its bottleneck size is ``module__bottleneck`` (default 256).
    criterion : torch module class, default=torch.nn.CrossEntropyLoss
        The classification loss; the KL term is added by the estimator.
    {common_parameters}

    Attributes
    ----------
    {common_attributes}

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
        beta: float = 1e-3,
        n_predict_samples: int = 0,
        module: Any = VIBModule,
        criterion: Any = nn.CrossEntropyLoss,
        **kwargs: Any,
    ) -> None:
        super().__init__(module, criterion=criterion, **kwargs)
        self.beta = beta
        self.n_predict_samples = n_predict_samples

    _parameter_constraints = {
        **GuessFirstNet._parameter_constraints,
        "beta": [non_negative()],
        "n_predict_samples": [non_negative(numbers.Integral)],
    }

    def infer(self, x, **fit_params):
        if not self.module_.training:
            # a prediction-time parameter: read now, not frozen at fit
            self.module_.n_samples = self.n_predict_samples
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
