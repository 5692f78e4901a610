"""A correct submission in the "write your own PyTorch" notebook style (grade with --api module-grad or auto)."""

from .modules import *  # noqa: F403
