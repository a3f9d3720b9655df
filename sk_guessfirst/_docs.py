"""Docstring pieces every estimator shares, written once."""

COMMON_PARAMETERS = """\
input_shape : tuple or None, default=None
        Shape of one sample: (D,) for flat features, (H, W) or (C, H, W) for
        images. None takes it from 3-D (n, H, W) or 4-D (n, C, H, W) X; 2-D X
        is flat features whatever its width (pass input_shape=(C, H, W) to
        read flat rows as images).
    optimizer : torch optimizer class, default=torch.optim.Adam
        Routed parameters: ``optimizer__weight_decay`` and so on.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=10
        Epochs of ``fit`` (``partial_fit``: epochs more).
    batch_size : int, default=250
        Fixed within each epoch: the last incomplete batch is dropped (the DV
        estimate depends on the batch size); -1 trains on all the data at once.
    device : str, default="auto"
        "auto" trains on CUDA when available; or "cpu", "cuda", "cuda:N".
        A model trained on a GPU loads on a machine without one.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and any sampling; the same seed
        gives the same model on the same machine, and ``partial_fit`` (or a
        resumed checkpoint) continues the same random stream. The global torch
        RNG is left untouched.
    train_noise : float, default=0.0
        Standard deviation of Gaussian noise added to every training batch
        (in the scale of X), the training randomized smoothing needs (Cohen et
        al. 2019; certify with :func:`~sk_guessfirst.adversarial.certify` at
        the same sigma). The noisy inputs are not clipped. 0 trains on X.
    classes : array-like or None, default=None
        Every label, when ``partial_fit``'s first batch may not show them all
        (or to :meth:`initialize` without data, with ``input_shape``).
    train_split : callable or None, default=None
        skorch's validation split; None trains on all the data.
    callbacks : list or None, default=None
        skorch callbacks, e.g. ``[ProgressBar()]``.
    predict_nonlinearity : "auto", default="auto"
        Kept for skorch: probabilities always come from the model's own link
        (softmax, or the objective's density-ratio link); other values raise.
    verbose : int, default=0
        skorch's per-epoch log.
    warm_start : bool, default=False
        ``fit`` continues training instead of re-initialising.
    **kwargs
        skorch's routed parameters: ``module__hidden_units``,
        ``module__conv_channels``, ``iterator_train__num_workers`` and so on."""

COMMON_ATTRIBUTES = """\
classes_ : ndarray of shape (n_classes,)
        Class labels (skorch keeps them in ``classes_inferred_``).
    classes_inferred_ : ndarray of shape (n_classes,)
        The same labels, under skorch's name.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of str
        Column names, when X was a DataFrame.
    input_shape_ : tuple
        The sample shape the network was built for.
    input_kind_ : str
        The trunk chosen: "paper" (28x28 and up), "small" (8x8 and up), "mlp",
        or "own" (``module__trunk``).
    module_ : torch.nn.Module
        The trained network (raw scores: logits or hypothesis scores).
    criterion_ : torch.nn.Module
        The training loss.
    optimizer_ : torch.optim.Optimizer
        The optimizer, with its state (a resumed fit continues it).
    callbacks_ : list of (name, callback)
        The initialised callbacks.
    history_ : skorch.History
        Per epoch ``train_loss`` and ``dur``; per batch the parts of the loss.
    initialized_ : bool
        Whether the network is built.
    virtual_params_ : dict
        skorch's bookkeeping of parameters set after initialisation.
    prefixes_ : list of str
        skorch's bookkeeping: the prefixes of routed parameters.
    cuda_dependent_attributes_ : list of str
        skorch's bookkeeping: the attributes moved between devices on pickling.
    init_context_ : None
        skorch's bookkeeping of the initialisation context.
    rng_state_ : dict
        With ``random_state`` set: torch's RNG state where training stopped,
        which ``partial_fit`` and checkpoints continue from."""


ADVERSARIAL_PARAMETERS = """\
adv_method : {"madry", "trades"}, default="madry"
        ``"madry"``: each training batch is replaced by its PGD examples
        (Madry et al. 2018). ``"trades"``: the clean batch's own loss plus
        ``trades_beta * KL(softmax f(x) || softmax f(x'))``, x' the PGD
        maximiser of that KL (Zhang et al. 2019).
    adv_eps : float, default=0.3
        L-inf budget of the training attack, in the scale of the inputs
        ([0, 1] pixels; Madry et al. used 0.3 on MNIST).
    adv_steps : int, default=40
        PGD iterations per batch (Madry et al.: 40). Training costs about
        ``adv_steps + 1`` times a plain epoch.
    adv_loss : {"ce", "margin"}, default="ce"
        What Madry's inner PGD climbs on the K outputs: cross-entropy, or the
        Carlini-Wagner margin (the evaluation's two losses). TRADES climbs
        its KL term whatever this says.
    trades_beta : float, default=1.0
        TRADES' weight of the robust KL term (Zhang et al.: 1.0 on MNIST,
        6.0 on CIFAR-10); used with ``adv_method="trades"`` only.
    clip_values : tuple or None, default=None
        The range the inner attack keeps its examples in (``adv_eps`` is in
        its scale): None takes the training data's range (``clip_values_``);
        a (low, high) tuple refuses training data outside it (images scaled
        to [0, 1]: pass (0.0, 1.0) to be sure none is mis-scaled)."""


def fill_doc(cls):
    """Put the shared Parameters and Attributes entries into ``cls``'s docstring."""
    cls.__doc__ = (
        cls.__doc__.replace("{common_parameters}", COMMON_PARAMETERS)
        .replace("{common_attributes}", COMMON_ATTRIBUTES)
        .replace("{adversarial_parameters}", ADVERSARIAL_PARAMETERS)
    )
    return cls
