"""Customer lifetime value models: BG/NBD purchases and Gamma-Gamma spend.

>>> from models.clv import BetaGeoModel, GammaGammaModel

See docs/models.md for the equations and the handling of one-time buyers and
non-positive spend.
"""

from ._base import ConvergenceWarning, NotFittedError
from .beta_geo import BetaGeoModel
from .discounting import DAYS_PER_MONTH, customer_lifetime_value, discounted_expected_purchases
from .gamma_gamma import GammaGammaModel

__all__ = [
    "DAYS_PER_MONTH",
    "BetaGeoModel",
    "ConvergenceWarning",
    "GammaGammaModel",
    "NotFittedError",
    "customer_lifetime_value",
    "discounted_expected_purchases",
]
