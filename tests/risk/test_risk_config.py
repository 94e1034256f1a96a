import pytest

from dsop_assets.risk.config import RiskConfig


def test_defaults_and_dict_overrides():
    config = RiskConfig.from_dict(
        {"safety_ratio": 1.5, "stockout_breakpoints": [[0, 100], [1, 0]], "grade_upper_bounds": [10, 30, 50, 70]}
    )
    assert config.safety_ratio == 1.5 and config.weight_stockout == 0.35
    assert config.stockout_breakpoints == [[0.0, 100.0], [1.0, 0.0]]
    assert config.grade_upper_bounds == [10, 30, 50, 70]
    assert RiskConfig.from_dict(None) == RiskConfig()


@pytest.mark.parametrize(
    "overrides",
    [
        {"weight_stockout": 0.5},  # weights no longer sum to 1
        {"no_such_key": 1},
        {"delivery_slack_basis": "max"},
        {"stockout_breakpoints": [[1, 0], [0, 100]]},
        {"action_min_grade": "E"},
        {"stockout_breakpoints": [[0, 100, 5], [1, 0]]},
        {"grade_upper_bounds": [10, 30, 50]},
    ],
)
def test_invalid_overrides_raise(overrides):
    with pytest.raises(ValueError):
        RiskConfig.from_dict(overrides)


def test_frozen():
    # dg.Config refuses assignment (a DagsterInvalidInvocationError, not an AttributeError).
    with pytest.raises(Exception, match="frozen"):
        RiskConfig().safety_ratio = 2.0  # type: ignore[misc]
    assert RiskConfig().safety_ratio == 1.0


def test_action_grades():
    assert RiskConfig().action_grades == ("C", "D", "F")
    assert RiskConfig(action_min_grade="D").action_grades == ("D", "F")
