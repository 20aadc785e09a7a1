"""Captum targets -> class indices: the contract's table of forms, on the function itself."""

from __future__ import annotations

import pytest
import torch

from infocam_captum.exceptions import TargetError
from infocam_captum.targets import check_target_form, class_indices

from .contract.cases import TARGET_FORMS, TargetForm


@pytest.mark.parametrize(("n", "k"), [(4, 10), (1, 5), (3, 6)])
@pytest.mark.parametrize("form", TARGET_FORMS, ids=str)
def test_every_form_means_what_layer_grad_cam_makes_of_it(form: TargetForm, n: int, k: int):
    classes = form.classes(n, k)
    if classes is None:
        with pytest.raises(TargetError) as error:
            class_indices(form.target(n, k), n, k)
        assert form.message(n, k) in str(error.value)
    else:
        indices = class_indices(form.target(n, k), n, k)
        assert indices.dtype == torch.long and indices.tolist() == classes


def test_form_errors_need_no_class_count():
    check_target_form((3,), 2)
    check_target_form(-7, 2)  # its range is checked once K is known
    with pytest.raises(TargetError, match="holds 3 entries for a batch of N=2"):
        check_target_form([0, 1, 2], 2)
    with pytest.raises(TargetError, match="holds 2 indices"):
        check_target_form((0, 1), 2)


def test_none_target_message_explains_captum_semantics():
    with pytest.raises(TargetError) as error:
        class_indices(None, 2, 10)
    assert "Captum never takes the argmax" in str(error.value)
    assert "target=model(inputs).argmax(1)" in str(error.value)


def test_range_errors_name_k_and_the_valid_indices():
    with pytest.raises(TargetError) as error:
        class_indices(-6, 2, 5)
    assert str(error.value) == (
        "target class(es) [-6] out of range for K=5 classes (valid: 0..4, or -5..-1 counted "
        "from the end)."
    )
    with pytest.raises(
        TargetError, match=r"\[-1, 5\] out of range for K=5 classes \(valid: 0\.\.4;"
    ):
        class_indices([5, -1], 2, 5)
