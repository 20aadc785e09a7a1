"""The models of the benchmark: CAM-ready backbones, their checkpoints, the fine-tuning recipe.

:mod:`~evaluation.models.backbones` builds a classifier with its explained layer and its GAP ->
Linear head by name (:func:`~evaluation.models.backbones.build_model`);
:mod:`~evaluation.models.checkpoints` loads weights into it; :mod:`~evaluation.models.training`
fine-tunes it with the infoCAM authors' recipe and writes the checkpoints.

May import: :mod:`evaluation.errors`, :mod:`evaluation.io`, :mod:`evaluation.paths`,
:mod:`evaluation.progress`, :mod:`evaluation.datasets.worker_errors` (a sample's error in a
DataLoader worker reaches the caller as itself), :mod:`infocam_captum`, torch and torchvision.
Never ``localization``, ``runs``, ``reports`` or ``commands``: a model knows nothing of how its
maps are scored. (Training reads samples from any ``Dataset`` of image/label dicts.)
"""
