"""The snake_case practical_dl homework with one bug, in BatchNormalization's backward (--api practical_dl_snake)."""

from .modules import *  # noqa: F403
