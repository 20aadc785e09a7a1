"""infoCAM and infoCAM+ (Qin, Kim & Gedeon) as Captum layer attributions, with the CAM family.

CAM, Grad-CAM (Captum's own, re-exported), Grad-CAM++, XGrad-CAM, LayerCAM and Score-CAM share
Captum's layer-attribution contract.

Also the paper's information-theoretic tools: PC-softmax, its loss, and the classifier as a
mutual-information estimator.

The public names are imported on first use (PEP 562), so ``import infocam_captum.exceptions``
(as the ``wsol-bench`` command does at start-up) does not import torch or Captum.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "LayerGradCam": "captum.attr",
    "FCWeightAttribution": "infocam_captum.cam",
    "LayerClassActivationMap": "infocam_captum.cam",
    "LayerInfoCam": "infocam_captum.infocam",
    "LayerInfoCamPlus": "infocam_captum.infocam",
    "LayerCam": "infocam_captum.gradcams",
    "LayerGradCamPlusPlus": "infocam_captum.gradcams",
    "LayerXGradCam": "infocam_captum.gradcams",
    "LayerScoreCam": "infocam_captum.scorecam",
    "gradient_weight_maps": "infocam_captum.gradient_maps",
    "ClassifierHead": "infocam_captum.head",
    "find_classifier": "infocam_captum.head",
    "fc_weight_maps": "infocam_captum.maps",
    "least_likely_class": "infocam_captum.maps",
    "region_sum": "infocam_captum.maps",
    "PCSoftmaxCrossEntropyLoss": "infocam_captum.information",
    "estimate_mutual_information": "infocam_captum.information",
    "label_priors": "infocam_captum.information",
    "pc_log_softmax": "infocam_captum.information",
    "pc_softmax": "infocam_captum.information",
    "pointwise_mutual_information": "infocam_captum.information",
    "HeadNotFoundError": "infocam_captum.exceptions",
    "InfoCamError": "infocam_captum.exceptions",
    "InvalidArgumentError": "infocam_captum.exceptions",
    "PriorsError": "infocam_captum.exceptions",
    "TargetError": "infocam_captum.exceptions",
}

__all__ = [
    "ClassifierHead",
    "FCWeightAttribution",
    "HeadNotFoundError",
    "InfoCamError",
    "InvalidArgumentError",
    "LayerCam",
    "LayerClassActivationMap",
    "LayerGradCam",
    "LayerGradCamPlusPlus",
    "LayerInfoCam",
    "LayerInfoCamPlus",
    "LayerScoreCam",
    "LayerXGradCam",
    "PCSoftmaxCrossEntropyLoss",
    "PriorsError",
    "TargetError",
    "__version__",
    "estimate_mutual_information",
    "fc_weight_maps",
    "find_classifier",
    "gradient_weight_maps",
    "label_priors",
    "least_likely_class",
    "pc_log_softmax",
    "pc_softmax",
    "pointwise_mutual_information",
    "region_sum",
]

if TYPE_CHECKING:
    from captum.attr import LayerGradCam

    from infocam_captum.cam import FCWeightAttribution, LayerClassActivationMap
    from infocam_captum.exceptions import (
        HeadNotFoundError,
        InfoCamError,
        InvalidArgumentError,
        PriorsError,
        TargetError,
    )
    from infocam_captum.gradcams import LayerCam, LayerGradCamPlusPlus, LayerXGradCam
    from infocam_captum.gradient_maps import gradient_weight_maps
    from infocam_captum.head import ClassifierHead, find_classifier
    from infocam_captum.infocam import LayerInfoCam, LayerInfoCamPlus
    from infocam_captum.information import (
        PCSoftmaxCrossEntropyLoss,
        estimate_mutual_information,
        label_priors,
        pc_log_softmax,
        pc_softmax,
        pointwise_mutual_information,
    )
    from infocam_captum.maps import fc_weight_maps, least_likely_class, region_sum
    from infocam_captum.scorecam import LayerScoreCam


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first access (and cache it here)."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names alongside the module's own attributes."""
    return sorted({*globals(), *_EXPORTS})
