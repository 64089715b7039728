"""Calculator explanations are SFT targets: the arithmetic they write out must reproduce the answer."""

from __future__ import annotations

import itertools
import re

import pytest

from clinrl.calculators import compute
from clinrl.calculators.dosing import STEROID_EQUIVALENT_MG

PRODUCT_LINE = re.compile(r"^([\d.]+) mg x ([\d.]+) / ([\d.]+) = ([\d.]+) mg")


@pytest.mark.parametrize("src, dst", list(itertools.permutations(STEROID_EQUIVALENT_MG, 2))[::7])
@pytest.mark.parametrize("dose", [23.465, 7.0, 0.333])
def test_steroid_explanation_arithmetic_matches_the_answer(src, dst, dose):
    result = compute(24, {"input_steroid": src, "dose": [dose, "mg"], "target_steroid": dst})
    line = result.explanation.splitlines()[-1]
    match = PRODUCT_LINE.match(line)
    assert match, line
    a, num, den, shown = map(float, match.groups())
    assert round(a * num / den, 3) == pytest.approx(shown, abs=1e-9), line
    assert shown == pytest.approx(round(float(result.value), 3), abs=1e-9)


def test_missing_inputs_are_all_named_at_once():
    from clinrl.calculators.base import CalculatorInputError

    with pytest.raises(CalculatorInputError) as exc:
        compute("cockcroft_gault", {"sex": "Male"})
    message = str(exc.value)
    assert "field 'age'" in message
    assert all(name in message.split("all missing required inputs:")[1] for name in ("age", "weight", "creatinine"))
    assert "sex" not in message.split("all missing required inputs:")[1]
