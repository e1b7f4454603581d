"""The fast ordered logit gives statsmodels' OrderedModel answer, with exact derivatives."""

from __future__ import annotations

import numpy as np
from statsmodels.miscmodels.ordinal_model import OrderedModel
from statsmodels.tools.numdiff import approx_fprime, approx_hess

from b12brain.cohort.stats_ordinal import LogitOrderedModel


def _data(seed: int = 0, n: int = 800) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    latent = x @ np.array([0.8, -0.4, 0.0]) + rng.logistic(size=n)
    return np.digitize(latent, [-1.0, 0.5, 2.0]), x


def test_score_and_hessian_are_the_derivatives_of_the_log_likelihood() -> None:
    y, x = _data()
    model = LogitOrderedModel(y, x)
    params = np.array([0.5, -0.3, 0.1, -0.8, 0.2, 0.1])
    np.testing.assert_allclose(model.score(params), approx_fprime(params, model.loglike, centered=True), atol=1e-4)
    np.testing.assert_allclose(model.hessian(params), approx_hess(params, model.loglike), rtol=1e-4, atol=1e-3)


def test_fit_matches_statsmodels_ordered_logit() -> None:
    y, x = _data(seed=3)
    ours = LogitOrderedModel(y, x).fit(method="newton", disp=False)
    reference = OrderedModel(y, x, distr="logit").fit(method="bfgs", disp=False, maxiter=1000, gtol=1e-9)
    np.testing.assert_allclose(ours.params, reference.params, atol=1e-5)
    np.testing.assert_allclose(ours.bse, reference.bse, rtol=1e-4)
    assert ours.mle_retvals["converged"]
