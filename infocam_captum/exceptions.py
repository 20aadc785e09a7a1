"""Typed exceptions raised by :mod:`infocam_captum`.

Every exception derives from :class:`InfoCamError` and from the built-in type a caller would
expect (``ValueError`` for bad arguments), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class InfoCamError(Exception):
    """Base class of every error raised by infocam_captum."""


class HeadNotFoundError(InfoCamError, ValueError):
    """The model has no global-average-pooling -> Linear head after the explained layer."""


class TargetError(InfoCamError, ValueError):
    """A ``target`` argument is missing, of an unsupported type or out of range."""


class PriorsError(InfoCamError, ValueError):
    """Class priors are not a valid probability vector for the logits they go with."""


class InvalidArgumentError(InfoCamError, ValueError):
    """An argument other than a target or the priors is invalid (dtype, shape, name or number)."""
