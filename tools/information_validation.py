"""The information estimators against closed forms, as the table of docs/results.

I(Z; Y) for Y uniform on {0, 1} and Z | Y ~ N(+-delta/2, I_d) in the first of
d dimensions (truth by quadrature), by the kNN estimator and the probe bound
on 3,000 draws; I(X; Z) of the Gaussian channel Z = X + N(0, s^2 I_d),
X ~ N(0, I_d) sampled 3,000 times (truth d/2 log(1 + 1/s^2)), by the Monte
Carlo estimate and the pairwise bounds. The same cases as
tests/test_information.py::

    python3 tools/information_validation.py \
        docs/_static/results/information_validation.rst
"""

import sys

import numpy as np

from sk_guessfirst.information import (
    gaussian_mixture_information,
    knn_mutual_information,
    probe_mutual_information,
)
from sk_guessfirst.information import two_gaussians_label_information as mixture_mi

rng = np.random.default_rng(0)
label_rows, input_rows = [], []
for delta, dims in ((0.0, 4), (1.0, 1), (2.0, 4), (4.0, 2)):
    y = rng.integers(0, 2, 3000)
    Z = rng.standard_normal((3000, dims))
    Z[:, 0] += np.where(y == 1, delta / 2, -delta / 2)
    bound, _ = probe_mutual_information(Z, y)
    label_rows.append(
        (
            f"delta {delta:g}, d {dims}",
            mixture_mi(delta),
            knn_mutual_information(Z, y),
            bound,
        )
    )
for s, dims in ((0.5, 1), (1.0, 3), (2.0, 2)):
    x = rng.standard_normal((3000, dims))
    info = gaussian_mixture_information(x, s)
    input_rows.append(
        (f"s {s:g}, d {dims}", dims / 2 * np.log(1 + 1 / s**2), info.estimate,
         info.stderr, info.lower, info.upper)
    )  # fmt: skip
lines = [
    ".. csv-table:: I(Z; Y) of two-class Gaussian mixtures (nats, 3,000 draws)",
    '   :header: "case", "truth (quadrature)", "kNN", "probe bound"',
    "",
    *(f'   "{c}", "{t:.3f}", "{k:.3f}", "{p:.3f}"' for c, t, k, p in label_rows),
    "",
    ".. csv-table:: I(X; Z) of the Gaussian channel Z = X + N(0, s^2 I), "
    "X ~ N(0, I) (nats, 3,000 inputs)",
    '   :header: "case", "truth", "Monte Carlo (s.e.)", "Bhattacharyya bound", '
    '"KL bound"',
    "",
    *(
        f'   "{c}", "{t:.3f}", "{e:.3f} ({se:.3f})", "{lo:.3f}", "{hi:.3f}"'
        for c, t, e, se, lo, hi in input_rows
    ),
]
text = "\n".join(lines) + "\n"
print(text)
if len(sys.argv) > 1:
    open(sys.argv[1], "w").write(text)
