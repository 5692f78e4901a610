"""A correct practical_dl homework in snake_case (grade with --api practical_dl_snake or --api auto)."""

from .modules import *  # noqa: F403
