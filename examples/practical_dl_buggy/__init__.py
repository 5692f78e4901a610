"""The practical_dl homework with one bug, in Conv2d's bias gradient (grade with --api practical_dl)."""

from .modules import *  # noqa: F403
