"""infoCAM and infoCAM+ (Qin, Kim & Gedeon) as Captum layer attributions, with CAM and Grad-CAM.

Also the paper's information-theoretic tools: PC-softmax, its loss, and the classifier as a
mutual-information estimator.
"""

__version__ = "0.1.0"
