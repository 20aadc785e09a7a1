"""The package's public surface: every exported name resolves, and start-up stays light."""

from __future__ import annotations

import subprocess
import sys

import infocam_captum


def test_every_exported_name_resolves_to_its_module_object() -> None:
    from captum.attr import LayerGradCam

    from infocam_captum.infocam import LayerInfoCam
    from infocam_captum.information import PCSoftmaxCrossEntropyLoss

    for name in infocam_captum.__all__:
        assert getattr(infocam_captum, name) is not None, name
    assert infocam_captum.LayerGradCam is LayerGradCam
    assert infocam_captum.LayerInfoCam is LayerInfoCam
    assert infocam_captum.PCSoftmaxCrossEntropyLoss is PCSoftmaxCrossEntropyLoss
    assert set(infocam_captum.__all__) <= set(dir(infocam_captum))
    assert set(infocam_captum.__all__) == {"__version__", *infocam_captum._EXPORTS}


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        infocam_captum.NoSuchThing  # noqa: B018
    except AttributeError as error:
        assert "NoSuchThing" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_exceptions_import_without_torch_or_captum() -> None:
    code = (
        "import sys, infocam_captum.exceptions, evaluation.cli; "
        "print(sorted(m for m in ('torch', 'captum') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
