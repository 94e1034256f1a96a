"""Plan, purchase and risk settings: one config style (dg.Config), validated, editable per run."""

import pytest
import yaml

from dsop_assets.planning.assets import production_plan, purchase_recommendation
from dsop_assets.planning.config import PlanConfig, PurchaseConfig
from dsop_jobs.tools.replay import _override
from dsop_assets.replay.assets import ReplayConfig, decision_replay
from dsop_assets.risk.assets import CONFIG_ENV, action_queue, load_risk_config, risk_backtest, risk_score
from dsop_assets.risk.config import RiskConfig


@pytest.mark.parametrize(("cls", "bad"), [
    (PlanConfig, {"service_level": 1.0}),
    (PlanConfig, {"horizon_weeks": 0}),
    (PlanConfig, {"firm_orders_when_short": "later"}),
    (PlanConfig, {"horizon_week": 8}),  # a typo must not leave the default in force
    (PlanConfig, {"mip_max_nodes": "many"}),
    (PurchaseConfig, {"service_level": 0.4}),
    (PurchaseConfig, {"weight_cost": -0.1}),
    (RiskConfig, {"weight_margin": 0.5}),
])
def test_rules_refuse_bad_settings(cls, bad):
    with pytest.raises(ValueError):
        cls.from_dict(bad)


def test_replay_cli_overrides_take_the_field_types():
    config = PlanConfig.from_dict(dict(_override(o) for o in
                                       ["mip_rel_gap=0.02", "decompose_by_line=false", "horizon_weeks=8"]))
    assert (config.mip_rel_gap, config.decompose_by_line, config.horizon_weeks) == (0.02, False, 8)
    assert config.overrides() == {"mip_rel_gap": 0.02, "decompose_by_line": False, "horizon_weeks": 8}
    with pytest.raises(ValueError):
        PlanConfig.from_dict(dict([_override("no_such_field=1")]))


def test_copy_with_update_keeps_the_rest():
    config = PlanConfig(horizon_weeks=6)
    line = config.model_copy(update={"mip_max_nodes": config.master_max_nodes})
    assert (line.mip_max_nodes, line.horizon_weeks, config.mip_max_nodes) == (200, 6, 20_000)


@pytest.mark.parametrize(("asset", "cls"), [
    (production_plan, PlanConfig), (purchase_recommendation, PurchaseConfig),
    (risk_score, RiskConfig), (action_queue, RiskConfig), (risk_backtest, RiskConfig),
])
def test_launchpad_shows_every_field_with_its_default(asset, cls):
    fields = asset.op.config_schema.config_type.fields
    assert set(fields) == set(cls.model_fields)
    defaults = cls()
    assert all(not f.is_required and f.default_value == getattr(defaults, name) for name, f in fields.items())


def test_replay_plan_settings_are_nested_in_its_config():
    assert "plan" in decision_replay.op.config_schema.config_type.fields
    assert ReplayConfig(plan={"horizon_weeks": 8}).plan == PlanConfig(horizon_weeks=8)


def test_run_config_beats_the_risk_file(tmp_path, monkeypatch):
    path = tmp_path / "risk.yaml"
    path.write_text(yaml.safe_dump({"safety_ratio": 1.5, "dominant_floor": 0.5}))
    monkeypatch.setenv(CONFIG_ENV, str(path))
    config = load_risk_config(RiskConfig(dominant_floor=0.7))
    assert (config.safety_ratio, config.dominant_floor) == (1.5, 0.7)
    assert load_risk_config().dominant_floor == 0.5
    monkeypatch.delenv(CONFIG_ENV)
    assert load_risk_config(RiskConfig(safety_ratio=1.2)) == RiskConfig(safety_ratio=1.2)
