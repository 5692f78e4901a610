"""A correct practical_dl homework, as the current template asks it (grade with --api practical_dl or --api auto)."""

from .modules import *  # noqa: F403
