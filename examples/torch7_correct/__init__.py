"""A correct submission in the Torch7 style of the practical_dl homework (grade with --api torch7 or --api auto)."""

from .modules import *  # noqa: F403
