"""Split-conformal band calibration: leak-free, neutral without history, fixes too-narrow bands."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from dsop_assets.forecast.calibration import band_scales, calibrate, calibrate_origin, past_scores
from dsop_assets.forecast.config import weekly_config

CONFIG = weekly_config(horizons=(1, 2, 3), calibration_min_rows=200)
MONDAY = date(2024, 1, 1)
Z90 = 1.2816  # standard normal 0.9 quantile


def _origin_rows(origin: date, n: int, rng: np.random.Generator, sigma: float = 10.0, width: float = 0.5):
    """Forecast rows at ``origin`` (a Monday) with raw bands ``width`` times the true 80 % band."""
    half = Z90 * sigma * width
    rows = pl.DataFrame({
        "level": "product", "product_id": [f"P{i}" for i in range(n)], "customer_id": "ALL",
        "model_id": "lgbm_quantile", "p50": 100.0,
    }).join(pl.DataFrame({"horizon": list(CONFIG.horizons)}, schema={"horizon": pl.Int64}), how="cross")
    rows = rows.with_columns(
        origin_date=pl.lit(origin),
        target_start=pl.lit(origin) + pl.duration(days=pl.col("horizon") * 7),
        p10=pl.col("p50") - half, p90=pl.col("p50") + half,
    )
    actual = rows.select("level", "product_id", "customer_id", "target_start").with_columns(
        actual_qty=pl.Series(100.0 + rng.normal(0, sigma, rows.height)))
    return rows, actual


def _as_of(origin: date) -> date:
    return origin + timedelta(days=6)


def test_no_history_means_scale_one():
    rows, _ = _origin_rows(MONDAY, 10, np.random.default_rng(0))
    out = calibrate_origin(rows, None, pl.DataFrame(schema={"level": pl.String}), _as_of(MONDAY), CONFIG)
    assert out["band_scale"].to_list() == [1.0] * rows.height
    assert out["p10"].to_list() == rows["p10"].to_list() and out["p90"].to_list() == rows["p90"].to_list()
    # Too little history (below calibration_min_rows even pooled) is the same as none.
    past, actual = _origin_rows(MONDAY - timedelta(days=28), 10, np.random.default_rng(1))
    out = calibrate_origin(rows, past.with_columns(band_scale=pl.lit(1.0)), actual, _as_of(MONDAY), CONFIG)
    assert set(out["band_scale"]) == {1.0}


def test_actuals_after_as_of_do_not_change_the_calibration():
    rng = np.random.default_rng(2)
    pasts, actuals = zip(*(_origin_rows(MONDAY + timedelta(days=7 * w), 300, rng) for w in range(8)))
    past = pl.concat(pasts).with_columns(band_scale=pl.lit(1.0))
    actual = pl.concat(actuals)
    as_of = _as_of(MONDAY + timedelta(days=7 * 5))
    base = band_scales(past_scores(past, actual, as_of, CONFIG), ["product"], CONFIG)
    later = pl.col("target_start") > as_of
    tampered = actual.with_columns(actual_qty=pl.when(later).then(pl.col("actual_qty") * 50).otherwise(pl.col("actual_qty")))
    extra = actual.filter(later).with_columns(pl.col("target_start") + pl.duration(days=70))
    moved = band_scales(past_scores(past, pl.concat([tampered, extra]), as_of, CONFIG), ["product"], CONFIG)
    assert base.equals(moved)
    assert (base["band_scale"] > 1.0).all()  # the history did say something


def test_bands_twice_too_narrow_are_widened_to_eighty_percent_coverage():
    rng = np.random.default_rng(3)
    past, actuals, covered, scales = None, [], [], []
    for week in range(20):
        origin = MONDAY + timedelta(days=7 * week)
        rows, actual = _origin_rows(origin, 300, rng)
        actuals.append(actual)
        out = calibrate_origin(rows, past, pl.concat(actuals), _as_of(origin), CONFIG)
        # Stored outputs hold calibrated bands: calibration must undo band_scale to stay stable.
        past = out if past is None else pl.concat([past, out])
        if week >= 8:
            hit = out.join(actual, on=["level", "product_id", "customer_id", "target_start"])
            covered.append(((hit["actual_qty"] >= hit["p10"]) & (hit["actual_qty"] <= hit["p90"])).mean())
            scales.extend(out["band_scale"].to_list())
    assert 0.76 <= float(np.mean(covered)) <= 0.86
    assert 1.7 <= float(np.median(scales)) <= 2.4


def test_calibrated_bands_stay_ordered_and_non_negative():
    rows = pl.DataFrame({
        "level": ["product", "product", "customer_product"], "horizon": [1, 2, 1],
        "model_id": ["lgbm_quantile", "lgbm_quantile", "moving_average"],
        "p10": [2.0, 0.0, 1.0], "p50": [5.0, 0.0, 2.0], "p90": [9.0, 0.0, 4.0],
    })
    scales = pl.DataFrame({"level": ["product", "product", "customer_product"], "horizon": [1, 2, 1],
                           "band_scale_low": [4.0, 4.0, 4.0], "band_scale": [4.0, 4.0, 4.0],
                           "bias_scale": [1.0, 1.0, 1.0]})
    out = calibrate(rows, scales)
    assert out["p10"].to_list() == [0.0, 0.0, 1.0]  # clipped; the fallback row keeps its own band
    assert out["p90"].to_list() == [21.0, 0.0, 4.0]
    assert out["band_scale"].to_list() == [4.0, 4.0, 1.0]
    assert out.filter((pl.col("p10") > pl.col("p50")) | (pl.col("p50") > pl.col("p90"))).is_empty()


def test_each_side_and_the_bias_are_calibrated_separately():
    """Raw P50 = 0.8 x the true median with a symmetric raw band: the bias factor restores the
    volume, then the lower and upper sides get their own scales and miss ~10 % each."""
    rng = np.random.default_rng(4)
    pasts, actuals = [], []
    for week in range(10):
        rows, actual = _origin_rows(MONDAY + timedelta(days=7 * week), 300, rng, width=1.0)
        rows = rows.with_columns(pl.col("p10", "p50", "p90") * 0.8)
        pasts.append(rows)
        actuals.append(actual)
    past = pl.concat(pasts).with_columns(band_scale=pl.lit(1.0), band_scale_low=pl.lit(1.0), bias_scale=pl.lit(1.0))
    as_of = _as_of(MONDAY + timedelta(days=7 * 10))
    scales = band_scales(past_scores(past, pl.concat(actuals), as_of, CONFIG), ["product"], CONFIG)
    assert scales["bias_scale"].to_list() == pytest.approx([1.25] * 3, abs=0.01)
    # After the bias factor the raw width (0.8 x the true half-band) x 1.25 is the true one: k ~ 1.
    assert scales["band_scale_low"].to_list() == pytest.approx([1.0] * 3, abs=0.15)
    assert scales["band_scale"].to_list() == pytest.approx([1.0] * 3, abs=0.15)
    test, actual = _origin_rows(MONDAY + timedelta(days=7 * 11), 3000, rng, width=1.0)
    out = calibrate(test.with_columns(pl.col("p10", "p50", "p90") * 0.8), scales)
    hit = out.join(actual, on=["level", "product_id", "customer_id", "target_start"])
    below = (hit["actual_qty"] < hit["p10"]).mean()
    above = (hit["actual_qty"] > hit["p90"]).mean()
    assert 0.07 <= below <= 0.13 and 0.07 <= above <= 0.13
    assert abs(hit["p50"].sum() / hit["actual_qty"].sum() - 1) < 0.01


def test_a_skewed_miss_widens_only_its_side():
    rng = np.random.default_rng(5)
    pasts, actuals = [], []
    for week in range(10):
        rows, _ = _origin_rows(MONDAY + timedelta(days=7 * week), 300, rng, width=1.0)
        # Actuals: the median is right (100) but the upper tail is three times the band's.
        z = rng.normal(0, 10, rows.height)
        y = 100 + np.where(z > 0, 3 * z, z)
        actuals.append(rows.select("level", "product_id", "customer_id", "target_start").with_columns(actual_qty=pl.Series(y)))
        pasts.append(rows)
    past = pl.concat(pasts).with_columns(band_scale=pl.lit(1.0), band_scale_low=pl.lit(1.0), bias_scale=pl.lit(1.0))
    scales = band_scales(past_scores(past, pl.concat(actuals), _as_of(MONDAY + timedelta(days=70)), CONFIG),
                         ["product"], CONFIG)
    row = scales.row(0, named=True)
    # The bias factor moves the centre up a little (mean of the skewed actuals > median): the lower side
    # then needs a bit more than 1, the upper side about 3 x.
    assert row["band_scale"] > 2.0 and row["band_scale_low"] < 1.8


def test_a_p10_clipped_at_zero_does_not_widen_the_next_lower_band():
    """Small series (P50 = 5, raw lower width 4) whose actual sits just under the raw P10 at scale 1:
    with a stored lower scale of 2 their P10 was clipped at zero. Recovered from the clipped P10 the raw
    lower width would be 2.5, not 4, and every later lower scale 1.6x too wide; ``p10_unclipped``
    makes the recovered scores those of the raw forecast."""
    rng = np.random.default_rng(6)
    raw = []
    for week in range(8):
        origin = MONDAY + timedelta(days=7 * week)
        rows = pl.DataFrame({"level": "product", "product_id": [f"P{i}" for i in range(100)], "customer_id": "ALL",
                             "model_id": "lgbm_quantile"}).join(
            pl.DataFrame({"horizon": list(CONFIG.horizons)}, schema={"horizon": pl.Int64}), how="cross").with_columns(
            origin_date=pl.lit(origin), target_start=pl.lit(origin) + pl.duration(days=pl.col("horizon") * 7),
            p10=pl.lit(1.0), p50=pl.lit(5.0), p90=pl.lit(9.0))
        raw.append(rows)
    raw = pl.concat(raw)
    # Actual = P50 - u x raw width, u uniform on [0, 1.25]: 20 % fall below the raw P10 (k = 1 covers 80 %).
    actual = raw.select("level", "product_id", "customer_id", "target_start").unique().with_columns(
        actual_qty=pl.Series(5.0 - 4.0 * rng.uniform(0, 1.25, raw.select("target_start", "product_id").unique().height)))
    actual = actual.group_by("level", "product_id", "customer_id", "target_start").agg(pl.col("actual_qty").first())
    scales = pl.DataFrame({"level": ["product"] * 3, "horizon": list(CONFIG.horizons), "band_scale_low": [2.0] * 3,
                           "band_scale": [1.0] * 3, "bias_scale": [1.0] * 3})
    stored = calibrate(raw, scales)
    assert stored["p10"].max() == 0.0 and stored["p10_unclipped"].min() == pytest.approx(-3.0)
    as_of = _as_of(MONDAY + timedelta(days=7 * 10))
    from_raw = band_scales(past_scores(raw.with_columns(band_scale=pl.lit(1.0), band_scale_low=pl.lit(1.0),
                                                        bias_scale=pl.lit(1.0)), actual, as_of, CONFIG), ["product"], CONFIG)
    from_stored = band_scales(past_scores(stored, actual, as_of, CONFIG), ["product"], CONFIG)
    assert from_stored["band_scale_low"].to_list() == pytest.approx(from_raw["band_scale_low"].to_list())
    # Without the column (rows stored before it) the clipped P10 still over-widens: the old behaviour.
    legacy = band_scales(past_scores(stored.drop("p10_unclipped"), actual, as_of, CONFIG), ["product"], CONFIG)
    assert min(legacy["band_scale_low"]) > 1.4 * max(from_raw["band_scale_low"])


def test_rows_with_a_zero_raw_p10_get_their_own_lower_scale():
    """Half the rows are intermittent (raw P10 = 0, actual zero 40 % of the time), half are smooth with a
    raw lower band twice too wide. Pooled, the atom of zero actuals at score 1 held the lower scale at 1
    and the smooth rows missed below P10 about 2 % of the time; split, they get ~0.5 and miss ~10 %,
    while the intermittent rows keep P10 = 0."""
    rng = np.random.default_rng(7)
    pasts, actuals = [], []
    for week in range(12):
        smooth, y_smooth = _origin_rows(MONDAY + timedelta(days=7 * week), 200, rng, width=2.0)
        sparse = smooth.with_columns(product_id=pl.col("product_id") + "s", p10=pl.lit(0.0), p50=pl.lit(4.0), p90=pl.lit(12.0))
        y_sparse = sparse.select("level", "product_id", "customer_id", "target_start").with_columns(
            actual_qty=pl.Series(np.where(rng.uniform(size=sparse.height) < 0.4, 0.0, rng.uniform(1, 12, sparse.height))))
        pasts += [smooth, sparse]
        actuals += [y_smooth, y_sparse]
    past = pl.concat(pasts).with_columns(band_scale=pl.lit(1.0), band_scale_low=pl.lit(1.0), bias_scale=pl.lit(1.0))
    actual = pl.concat(actuals)
    as_of = _as_of(MONDAY + timedelta(days=7 * 14))
    scales = band_scales(past_scores(past, actual, as_of, CONFIG), ["product"], CONFIG)
    assert scales["band_scale_low_floor"].to_list() == [1.0] * 3  # 40 % zeros: P10 = 0 is right
    assert scales["band_scale_low_open"].to_list() == pytest.approx([0.5] * 3, abs=0.12)
    test = pl.concat(pasts[:2])
    out = calibrate(test, scales)
    hit = out.join(actual, on=["level", "product_id", "customer_id", "target_start"])
    smooth = hit.filter(~pl.col("product_id").str.ends_with("s"))
    assert 0.06 <= (smooth["actual_qty"] < smooth["p10"]).mean() <= 0.14
    assert hit.filter(pl.col("product_id").str.ends_with("s"))["p10"].max() == 0.0


def test_small_rows_keep_a_median_while_the_volume_rows_track_volume():
    """Ten large series (P50 1000) run 20 % low; 290 small ones (P50 2, 3 % of the volume) mostly order
    1.6 and now and then 40. With the tiers the large rows get 1.2 and the small ones their median
    ratio 0.8; one volume factor over everything would lift the small P50s far above their median."""
    rng = np.random.default_rng(8)
    config = weekly_config(horizons=(1, 2, 3), calibration_min_rows=200, bias_top_share=0.9)
    pasts, actuals = [], []
    for week in range(10):
        rows, _ = _origin_rows(MONDAY + timedelta(days=7 * week), 300, rng, width=1.0)
        big = pl.col("product_id").is_in([f"P{i}" for i in range(10)])
        rows = rows.with_columns(pl.when(big).then(pl.col(c) * 10).otherwise(pl.col(c) / 50) for c in ("p10", "p50", "p90"))
        y = rows.select("level", "product_id", "customer_id", "target_start", "p50").with_columns(
            actual_qty=pl.when(big).then(pl.col("p50") * 1.2)
            .otherwise(pl.when(pl.Series(rng.uniform(size=rows.height) < 0.1)).then(40.0).otherwise(1.6))).drop("p50")
        pasts.append(rows)
        actuals.append(y)
    past = pl.concat(pasts).with_columns(band_scale=pl.lit(1.0), band_scale_low=pl.lit(1.0), bias_scale=pl.lit(1.0))
    as_of = _as_of(MONDAY + timedelta(days=70))
    scales = band_scales(past_scores(past, pl.concat(actuals), as_of, config), ["product"], config)
    assert scales["bias_scale"].to_list() == pytest.approx([1.2] * 3, rel=0.02)
    assert scales["bias_scale_small"].to_list() == pytest.approx([0.8] * 3, rel=0.02)
    out = calibrate(pasts[0], scales, config.bias_top_share)
    assert sorted(set(out["bias_scale"].round(3).to_list())) == pytest.approx([0.8, 1.2], rel=0.02)
    # Planning's mean tracks volume on every row: raw P50 x the volume factor, also where P50 is a median.
    assert (out["mean"] / (out["p50"] / out["bias_scale"])).to_list() == pytest.approx([scales["bias_scale"][0]] * out.height)
    single = weekly_config(horizons=(1, 2, 3), calibration_min_rows=200, bias_top_share=1.0)
    one = band_scales(past_scores(past, pl.concat(actuals), as_of, single), ["product"], single)
    assert one["bias_scale"][0] > 1.25  # volume over every row: the small rows' 40s pull it up


def test_upper_side_is_calibrated_per_volume_tier():
    """Small rows (the median tier) that miss above three times as far as the large ones get their own
    upper scale; the large rows' upper scale is fitted on their own misses, not widened by the small ones'."""
    rng = np.random.default_rng(9)
    config = weekly_config(horizons=(1,), calibration_min_rows=200)  # bias_top_share 0.9
    origins = [MONDAY + timedelta(days=7 * w) for w in range(3)]
    parts = []
    for o in origins:
        top = pl.DataFrame({"y": 1000.0 + rng.normal(0, 100, 300), "raw_p50": 1000.0, "raw_lower": 100.0,
                            "raw_upper": 100.0, "top": True})
        small = pl.DataFrame({"y": 10.0 + rng.normal(0, 3, 300), "raw_p50": 10.0, "raw_lower": 1.0,
                              "raw_upper": 1.0, "top": False})
        parts.append(pl.concat([top, small]).with_columns(level=pl.lit("product"), horizon=pl.lit(1, pl.Int64),
                                                          origin_date=pl.lit(o), floor=pl.lit(False)))
    scales = band_scales(pl.concat(parts), ["product"], config).row(0, named=True)
    assert scales["band_scale"] == pytest.approx(Z90, rel=0.15)  # the large rows' own: sigma / width = 1
    assert scales["band_scale_small"] == pytest.approx(3 * Z90, rel=0.15)
    rows = pl.DataFrame({"level": "product", "product_id": ["BIG", "SMALL"], "customer_id": "ALL", "horizon": [1, 1],
                         "model_id": "lgbm_quantile", "p10": [900.0, 9.0], "p50": [1000.0, 10.0], "p90": [1100.0, 11.0]})
    out = calibrate(rows, band_scales(pl.concat(parts), ["product"], config), config.bias_top_share).sort("product_id")
    assert out["band_scale"].to_list() == pytest.approx([scales["band_scale"], scales["band_scale_small"]])


def test_a_monthly_band_narrows_to_no_less_than_seven_tenths_of_its_raw_width():
    """Past raw bands four times too wide (errors N(0, 25) inside +-100 widths) would calibrate to a quarter of
    their width; the monthly scales stop at 0.7 (a 6-month scale comes from errors six months old, which a
    turning market outdates), the weekly ones at 0.5."""
    from dsop_assets.forecast.config import monthly_config

    rng = np.random.default_rng(3)
    scores = pl.DataFrame({"y": 1000.0 + rng.normal(0, 25, 600), "raw_p50": 1000.0, "raw_lower": 100.0,
                           "raw_upper": 100.0, "top": True, "market": 1.0}).with_columns(
        level=pl.lit("product"), horizon=pl.lit(1, pl.Int64), origin_date=pl.lit(date(2025, 1, 1)),
        floor=pl.lit(False))
    monthly = band_scales(scores, ["product"], monthly_config(horizons=(1,))).row(0, named=True)
    weekly = band_scales(scores, ["product"], weekly_config(horizons=(1,))).row(0, named=True)
    assert monthly["band_scale"] == monthly["band_scale_low"] == 0.7
    assert weekly["band_scale"] == weekly["band_scale_low"] == 0.5
