"""WSOL benchmark: datasets, box metrics, evaluation runs and reports for CAM-family methods.

This package builds on :mod:`infocam_captum`; the reverse import never happens.
"""

__version__ = "0.1.0"
