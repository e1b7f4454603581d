"""The proportional-odds (ordered logit) model of statsmodels with analytic derivatives.

:class:`statsmodels.miscmodels.ordinal_model.OrderedModel` differentiates its log-likelihood
numerically and evaluates the logistic distribution through ``scipy.stats`` (a generic wrapper
that costs a millisecond a call on 10,000 rows): a 12-parameter fit takes about a second.
:class:`LogitOrderedModel` is the same model and parameterisation, with the logistic cdf from
:func:`scipy.special.expit` and the exact score and Hessian, so that Newton's method converges
in a few steps (the estimates and standard errors agree with ``OrderedModel(distr="logit")``
to the optimiser's tolerance; tests/cohort/test_stats_ordinal.py).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from statsmodels.miscmodels.ordinal_model import OrderedModel

FloatArray = npt.NDArray[np.float64]


class LogitOrderedModel(OrderedModel):  # type: ignore[misc]
    """Ordered logit: P(y <= k) = expit(c_k - x'beta), thresholds c as in ``OrderedModel``
    (c_0 free, later ones c_{k-1} + exp(a_k)). Construct without ``distr`` and without a constant."""

    def __init__(self, endog: npt.ArrayLike, exog: npt.ArrayLike, **kwds: object) -> None:
        # hasconst=False: the caller builds the design without a constant (the thresholds are the
        # intercepts); statsmodels would otherwise look for an implicit one with three SVDs.
        super().__init__(endog, exog, distr="logit", hasconst=False, **kwds)

    def cdf(self, x: npt.ArrayLike) -> FloatArray:
        return np.asarray(expit(x), dtype=np.float64)

    def pdf(self, x: npt.ArrayLike) -> FloatArray:
        p = expit(x)
        return np.asarray(p * (1.0 - p), dtype=np.float64)

    def _derivatives(self, params: FloatArray, *, hessian: bool) -> tuple[FloatArray, FloatArray | None]:
        """Gradient (and Hessian) of the log-likelihood in the transformed parameters."""
        params = np.asarray(params, dtype=np.float64)
        k_x = self.exog.shape[1]
        n_thresh = self.k_levels - 1
        n = len(self.endog)
        low, upp = self._bounds(params)
        f_low, f_upp = expit(low), expit(upp)
        prob = np.maximum(f_upp - f_low, 1e-20)
        d_low, d_upp = f_low * (1.0 - f_low), f_upp * (1.0 - f_upp)  # logistic pdf (0 at +-inf)
        k = np.asarray(self.endog, dtype=np.intp)
        has_upp, has_low = k < n_thresh, k > 0
        s_upp, s_low = d_upp / prob, d_low / prob
        grad_beta = -(self.exog.T @ (s_upp - s_low))
        grad_c = (np.bincount(k[has_upp], s_upp[has_upp], minlength=n_thresh)
                  - np.bincount(k[has_low] - 1, s_low[has_low], minlength=n_thresh))
        # Chain rule to the transformed thresholds: dc_j/da_0 = 1, dc_j/da_m = exp(a_m) for 1 <= m <= j.
        a = params[k_x:]
        tail = np.cumsum(grad_c[::-1])[::-1]  # sum over j >= m of dl/dc_j
        grad = np.concatenate((grad_beta, tail * np.concatenate(([1.0], np.exp(a[1:])))))
        if not hessian:
            return grad, None
        # Hessian in (beta, c). Per observation, with u = c_k - x'beta and l = c_{k-1} - x'beta:
        # d2 log P = (f'(u) du du' - f'(l) dl dl') / P - s s', f' = f (1 - 2F) for the logistic,
        # du = (-x, e_k), dl = (-x, e_{k-1}); written out by block so that no n x (k + levels) matrix is built.
        w_upp = np.where(has_upp, d_upp * (1.0 - 2.0 * f_upp) / prob, 0.0)
        w_low = np.where(has_low, d_low * (1.0 - 2.0 * f_low) / prob, 0.0)
        s_eta = s_upp - s_low  # -(d log P / d x'beta)
        x = self.exog
        hess_bb = x.T @ ((w_upp - w_low - s_eta**2)[:, None] * x)
        a_upp = -w_upp + s_eta * s_upp  # weight of x on c_k
        a_low = w_low - s_eta * s_low  # weight of x on c_{k-1}
        m = np.zeros((n, n_thresh))
        rows = np.arange(n)
        m[rows[has_upp], k[has_upp]] = a_upp[has_upp]
        m[rows[has_low], k[has_low] - 1] += a_low[has_low]
        hess_bc = x.T @ m
        hess_cc = np.diag(np.bincount(k[has_upp], (w_upp - s_upp**2)[has_upp], minlength=n_thresh)
                          - np.bincount(k[has_low] - 1, (w_low + s_low**2)[has_low], minlength=n_thresh))
        both = has_upp & has_low
        off = np.bincount(k[both] - 1, (s_upp * s_low)[both], minlength=n_thresh)[: n_thresh - 1]
        hess_cc += np.diag(off, 1) + np.diag(off, -1)
        jac = np.tril(np.ones((n_thresh, n_thresh))) * np.concatenate(([1.0], np.exp(a[1:])))[None, :]
        hess = np.block([[hess_bb, hess_bc @ jac], [jac.T @ hess_bc.T, jac.T @ hess_cc @ jac]])
        # Second derivative of c_j in a_m (m >= 1) is exp(a_m) for j >= m: weighted by dl/dc_j.
        idx = np.arange(k_x + 1, k_x + n_thresh)
        hess[idx, idx] += tail[1:] * np.exp(a[1:])
        return grad, hess

    def score(self, params: FloatArray) -> FloatArray:
        cached = self._cached(params)
        return cached[0] if cached is not None else self._derivatives(params, hessian=False)[0]

    def hessian(self, params: FloatArray) -> FloatArray:
        cached = self._cached(params)
        if cached is None:
            grad, hess = self._derivatives(params, hessian=True)
            assert hess is not None
            cached = (grad, hess)
            # Newton's method asks for the score and the Hessian at the same point: compute both once.
            self._last = (np.array(params, dtype=np.float64), grad, hess)
        return cached[1]

    def _cached(self, params: FloatArray) -> tuple[FloatArray, FloatArray] | None:
        last = getattr(self, "_last", None)
        if last is not None and np.array_equal(last[0], params):
            return last[1], last[2]
        return None
