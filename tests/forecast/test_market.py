"""The market factor: a leading indicator's line moves the summed product forecast only where the
line is clear and has beaten the forecast out of sample, without reading the future."""

from datetime import date

import numpy as np
import polars as pl

from dsop_assets.forecast.config import monthly_config
from dsop_assets.forecast.market import MarketHistory, apply_market, market_factors

CONFIG = monthly_config(horizons=(1, 2, 3))
FIRST = 2023 * 12  # January 2023 as a monthly period index
N = 40


def _month(p: int) -> date:
    return date(p // 12, p % 12 + 1, 1)


def _as_of(p: int) -> date:
    nxt = p + 1
    return date.fromordinal(date(nxt // 12, nxt % 12 + 1, 1).toordinal() - 1)


def _leading_market(seed: int = 3, lead: int = 3) -> tuple[dict[int, float], dict[int, float], np.ndarray]:
    """Total demand follows a cycle that the driver shows ``lead`` months early (driver = growth
    of the cycle over the next ``lead`` months, plus a little noise)."""
    rng = np.random.default_rng(seed)
    k = np.arange(N + lead + 1)
    cycle = 0.3 * np.sin(2 * np.pi * k / 30) + np.cumsum(rng.normal(0, 0.02, len(k)))
    total = {FIRST + i: float(1000 * np.exp(cycle[i])) for i in range(N)}
    driver = {FIRST + i: float(cycle[i + lead] - cycle[i] + rng.normal(0, 0.01)) for i in range(N)}
    return driver, total, cycle


def test_line_reads_the_cycle_from_the_driver_and_ignores_later_months():
    driver, total, cycle = _leading_market()
    t, h = FIRST + 30, 3
    fitted = MarketHistory(driver, total).line(t, h)
    assert fitted is not None
    market, t_stat, months = fitted
    assert t_stat > 5 and months >= 20
    actual = 1000 * np.exp(cycle[30 + h])
    naive = np.mean([total[t - 2], total[t - 1], total[t]])
    assert abs(np.log(market / actual)) < 0.5 * abs(np.log(naive / actual))
    # Months after the origin (and the target itself) change nothing: the line saw none of them.
    later = {p: (v * 5 if p > t else v) for p, v in total.items()}
    assert MarketHistory(driver, later).line(t, h) == fitted


def test_unrelated_driver_or_short_history_moves_nothing():
    _, total, _ = _leading_market()
    noise = {p: float(v) for p, v in zip(total, np.random.default_rng(11).normal(0, 0.1, N))}
    fitted = MarketHistory(noise, total).line(FIRST + 30, 3)
    assert fitted is not None and fitted[1] < 2
    assert MarketHistory(noise, total).line(FIRST + 10, 3) is None  # fewer than 12 months on the line


def _out(origin: int, p50_total: float) -> pl.DataFrame:
    rows = []
    for h in CONFIG.horizons:
        for product, share in (("A", 0.75), ("B", 0.25)):
            p50 = p50_total * share
            rows.append(("product", product, "ALL", h, 0.5 * p50, p50, 2 * p50, p50, 0.5 * p50, 1.1))
        rows.append(("customer_product", "A", "C1", h, 1.0, 2.0, 3.0, 2.0, 1.0, 1.0))
    return pl.DataFrame(rows, schema=["level", "product_id", "customer_id", "horizon", "p10", "p50", "p90", "mean",
                                      "p10_unclipped", "bias_scale"], orient="row").with_columns(
        origin_period=pl.lit(origin), horizon=pl.col("horizon").cast(pl.Int32))


def _past(history: MarketHistory, origin: int, error: float) -> pl.DataFrame:
    """Past product forecasts of the calibration window whose summed P50 missed actual by ``error``
    (log), stored with market factor 1."""
    rows = []
    for o in range(origin - CONFIG.calibration_origins, origin):
        for h in CONFIG.horizons:
            if o + h <= origin:
                rows.append(("product", "A", _month(o), _month(o + h), h, history.total[o + h] * np.exp(error), 1.0))
    return pl.DataFrame(rows, schema=["level", "product_id", "origin_date", "target_start", "horizon", "p50",
                                      "market_scale"], orient="row")


def test_factor_applies_only_where_the_line_beat_the_forecast():
    driver, total, cycle = _leading_market()
    history, origin = MarketHistory(driver, total), FIRST + 30
    out = _out(origin, p50_total=1000.0)
    as_of = _as_of(origin)
    poor = market_factors(out, history, _past(history, origin, error=-0.3), origin, as_of, CONFIG)
    for h, factor in poor.select("horizon", "market_scale").iter_rows():
        expected = min(max(history.line(origin, h)[0] / 1000.0, 0.67), 1.5)
        assert factor == expected != 1.0
    good = market_factors(out, history, _past(history, origin, error=0.0), origin, as_of, CONFIG)
    assert good["market_scale"].to_list() == [1.0] * len(CONFIG.horizons)
    none = market_factors(out, history, None, origin, as_of, CONFIG)  # nothing to judge the line on
    assert none["market_scale"].to_list() == [1.0] * len(CONFIG.horizons)


def test_apply_market_scales_product_rows_and_keeps_the_raw_point_recoverable():
    driver, total, _ = _leading_market()
    origin = FIRST + 30
    targets = pl.DataFrame({"level": "product", "product_id": "A", "customer_id": "ALL",
                            "target_period": list(total), "target_start": [_month(p) for p in total],
                            "actual_qty": list(total.values())})
    features = pl.DataFrame({"origin_period": list(driver), "ext_sox_g12m": [float(np.expm1(v)) for v in driver.values()]})
    features = features.filter(pl.col("origin_period") <= origin)
    out = _out(origin, p50_total=1000.0)
    past = _past(MarketHistory(driver, total), origin, error=-0.3)
    moved = apply_market(out, features, targets, past, origin, _as_of(origin), CONFIG)
    products = moved.filter(pl.col("level") == "product")
    assert (products["market_scale"] != 1.0).all()
    before = out.filter(pl.col("level") == "product")
    for c in ("p10", "p50", "p90", "mean", "p10_unclipped"):
        assert np.allclose(products[c], before[c] * products["market_scale"])
    # p50 / bias_scale is still the raw point the bias and band calibrations learn from.
    assert np.allclose(products["p50"] / products["bias_scale"], before["p50"] / before["bias_scale"])
    pairs = moved.filter(pl.col("level") == "customer_product")
    assert pairs["market_scale"].to_list() == [1.0] * pairs.height and pairs["p50"].to_list() == [2.0] * pairs.height
    # A driver published as NaN for some months is unknown there, not a number the line fits.
    gappy = features.with_columns(pl.when(pl.col("origin_period") % 5 == 0).then(float("nan"))
                                  .otherwise(pl.col("ext_sox_g12m")).alias("ext_sox_g12m"))
    gapped = apply_market(out, gappy, targets, past, origin, _as_of(origin), CONFIG).filter(pl.col("level") == "product")
    assert gapped["p50"].is_finite().all() and (gapped["market_scale"] != 1.0).all()
    off = apply_market(out, features, targets, past, origin, _as_of(origin), monthly_config(market_driver=None))
    assert off.drop("market_scale").equals(out) and (off["market_scale"] == 1.0).all()
