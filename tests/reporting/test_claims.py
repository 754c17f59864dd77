import pytest

from fashion_core.reporting.claims import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE
from fashion_core.reporting.claims import compare


@pytest.mark.parametrize("a, b, better, verdict", [
    ([0.030, 0.031, 0.032], [0.050, 0.051, 0.052], "lower", HOLDS),          # 0.02 apart, pooled sd 0.001
    ([0.050, 0.051, 0.052], [0.030, 0.031, 0.032], "lower", DOES_NOT_HOLD),
    ([0.030, 0.040, 0.050], [0.035, 0.045, 0.055], "lower", INCONCLUSIVE),   # 0.005 apart, pooled sd 0.01
    ([0.9, 0.91, 0.92], [0.8, 0.81, 0.82], "higher", HOLDS),
    ([0.9], [0.1], "higher", INCONCLUSIVE),                                    # one seed decides nothing
])
def test_verdict_rule(a, b, better, verdict):
    assert compare("c", "m", better, "A", a, "B", b).verdict == verdict


def test_margin_is_two_pooled_standard_deviations():
    # sd of each row is 0.01, so the margin is 0.02: a 0.019 gap is inconclusive, 0.021 holds.
    base = [0.0, 0.01, 0.02]
    assert compare("c", "m", "higher", "A", [v + 0.019 for v in base], "B", base).verdict == INCONCLUSIVE
    assert compare("c", "m", "higher", "A", [v + 0.021 for v in base], "B", base).verdict == HOLDS
