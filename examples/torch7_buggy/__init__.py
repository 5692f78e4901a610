"""The Torch7 example with ONE bug: MSECriterion.updateGradInput drops the factor 2 (grade with --api torch7)."""

from .modules import *  # noqa: F403
