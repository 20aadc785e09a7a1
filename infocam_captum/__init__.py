"""infoCAM and infoCAM+ (Qin, Kim & Gedeon) as Captum layer attributions, with CAM and Grad-CAM.

Also the paper's information-theoretic tools: PC-softmax, its loss, and the classifier as a
mutual-information estimator.
"""

from captum.attr import LayerGradCam

from infocam_captum.cam import FCWeightAttribution, LayerClassActivationMap
from infocam_captum.exceptions import (
    HeadNotFoundError,
    InfoCamError,
    InvalidArgumentError,
    PriorsError,
    TargetError,
)
from infocam_captum.head import ClassifierHead, find_classifier
from infocam_captum.infocam import LayerInfoCam, LayerInfoCamPlus
from infocam_captum.maps import fc_weight_maps, least_likely_class, region_sum

__version__ = "0.1.0"

__all__ = [
    "ClassifierHead",
    "FCWeightAttribution",
    "HeadNotFoundError",
    "InfoCamError",
    "InvalidArgumentError",
    "LayerClassActivationMap",
    "LayerGradCam",
    "LayerInfoCam",
    "LayerInfoCamPlus",
    "PriorsError",
    "TargetError",
    "__version__",
    "fc_weight_maps",
    "find_classifier",
    "least_likely_class",
    "region_sum",
]
