"""Planted anomalies, detection rules, stock echo suppression, messages and scoring."""

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from dsop_assets.anomaly import detect, evaluate, shift
from dsop_assets.anomaly.features import _log_exceedance_p as features_log_p, pair_features, weekly_grid
from dsop_assets.anomaly.messages import with_messages

START = date(2024, 1, 1)


def _steady(qty_by_week: dict[int, float], weeks: int = 60, customer: str = "C1", product: str = "P1") -> list:
    rng = np.random.default_rng(1)
    return [(START + timedelta(days=7 * w), customer, product, qty_by_week.get(w, float(rng.integers(90, 110))))
            for w in range(weeks) if qty_by_week.get(w, 1.0) > 0]


def _scored(rows: list) -> pl.DataFrame:
    orders = pl.DataFrame(rows, schema=["order_date", "customer_id", "product_id", "order_qty"], orient="row")
    grid = weekly_grid(orders, ["customer_id", "product_id"], START, START + timedelta(days=7 * 59))
    return detect.pair_rules(pair_features(grid))


def test_a_spike_and_a_drop_are_found_once():
    # a week ten times the usual breaks the record by far; a month without orders on a weekly pair is a drop
    rows = (_steady({30: 1000.0, 40: 0.0, 41: 0.0, 42: 0.0, 43: 0.0}) + _steady({}, customer="C2")
            + _steady({}, product="P2"))
    scored = _scored(rows).filter((pl.col("customer_id") == "C1") & (pl.col("product_id") == "P1"))
    found = scored.filter(pl.col("rule_kind").is_not_null()).select("rule_kind", "event_week").rows()
    assert found == [("spike", START + timedelta(days=7 * 30)), ("drop", START + timedelta(days=7 * 40))]


def _orders(rows: list) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["order_date", "customer_id", "product_id", "order_qty"], orient="row")


def _shifts(rows: list, groups: pl.DataFrame | None = None, weeks: int = 80, lines: bool = True) -> pl.DataFrame:
    """Level shifts with the order-line size test (``lines``) or the weekly totals' test alone."""
    orders = _orders(rows)
    grid = weekly_grid(orders, ["customer_id", "product_id"], START, START + timedelta(days=7 * (weeks - 1)))
    return shift.level_shifts(grid, groups, orders if lines else None)


def _noisy(w: int, rng, level: float = 100.0) -> float:
    return float(level * np.exp(rng.normal(0, 0.25)))


def test_level_shift_is_called_once_near_its_onset():
    rng = np.random.default_rng(2)
    rows = [(START + timedelta(days=7 * w), "C1", "P1", _noisy(w, rng) * (3.0 if w >= 35 else 1.0)) for w in range(80)]
    calls = _shifts(rows)
    assert calls.height == 1
    assert abs((calls["event_week"][0] - (START + timedelta(days=7 * 35))).days) <= 7
    # called only once the new level has held for MIN_WEEKS: never from the weeks before it
    assert calls["week_start"][0] >= START + timedelta(days=7 * (35 + shift.MIN_WEEKS - 1))


def test_level_shift_is_called_with_the_weekly_totals_alone():
    rng = np.random.default_rng(2)
    rows = [(START + timedelta(days=7 * w), "C1", "P1", _noisy(w, rng) * (3.0 if w >= 35 else 1.0)) for w in range(80)]
    calls = _shifts(rows, lines=False)
    assert calls.height == 1 and abs((calls["event_week"][0] - (START + timedelta(days=7 * 35))).days) <= 7


def _lumpy_lines(rng, weeks: int, step_at: int | None, factor: float) -> list:
    """One steady customer ordering 0-6 lines a week (Poisson 2.5) of e^N(0, 0.35) x 50, sizes x ``factor`` from
    ``step_at``: the count of lines makes the weekly total swing by far more than the sizes do."""
    rows = []
    for w in range(weeks):
        for _ in range(max(1, rng.poisson(2.5))):
            size = 50.0 * np.exp(rng.normal(0, 0.35)) * (factor if step_at is not None and w >= step_at else 1.0)
            rows.append((START + timedelta(days=7 * w + int(rng.integers(0, 5))), "C1", "P1", round(size, 1)))
    return rows


def test_the_size_test_finds_a_step_in_order_sizes_that_the_noisy_totals_hide():
    rng = np.random.default_rng(11)
    rows = _lumpy_lines(rng, 80, 35, 0.3)
    calls = _shifts(rows)
    assert calls.height == 1
    assert abs((calls["event_week"][0] - (START + timedelta(days=7 * 35))).days) <= 7
    assert calls["shift_z"][0] < 0


def test_the_size_test_stays_quiet_on_lumpy_lines_without_a_step():
    for seed in range(5):
        assert _shifts(_lumpy_lines(np.random.default_rng(100 + seed), 80, None, 1.0)).is_empty()


def test_line_comparisons_give_the_mann_whitney_u_of_any_block_of_weeks():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(3)
    week = np.sort(rng.integers(0, 12, 60))
    size = np.round(rng.normal(0, 1, 60), 1)  # rounded: ties count a half
    c, lines = shift.line_comparisons(week, size, 12)
    assert lines.sum() == 60
    before, after = size[(week >= 2) & (week < 7)], size[(week >= 7) & (week < 11)]
    u = c[2:7, 7:11].sum()  # lines of weeks 7-10 above lines of weeks 2-6
    assert u == pytest.approx(mannwhitneyu(after, before).statistic)


def test_the_onset_is_placed_at_a_step_shared_by_customers_of_different_sizes():
    # two customers, sizes e^3 and e^6, both x0.3 from week 20: one shared step, each customer at its own level
    rng = np.random.default_rng(4)
    moments = []
    for level in (3.0, 6.0):
        week = np.sort(rng.integers(0, 34, 120))
        size = level + rng.normal(0, 0.4, len(week)) + np.where(week >= 20, np.log(0.3), 0.0)
        moments.append(shift.line_moments(week, size, 34))
    assert shift.locate_sizes(moments, 0, 33) == 20


def test_a_burst_of_near_empty_weeks_is_not_a_new_level():
    # lumpy weeks: six of eight weeks at 5 % of the level, then the old level again. Their mean in logs fell so
    # far that a mean test scaled by the MAD called a shift (the previous test did); the weeks after them are
    # where they were, and two weeks in eight at the old level are not a sustained new level for a rank test
    rng = np.random.default_rng(6)
    low = {40, 41, 43, 44, 46, 47}
    rows = [(START + timedelta(days=7 * w), "C1", "P1", _noisy(w, rng) * (0.05 if w in low else 1.0)) for w in range(80)]
    assert _shifts(rows).is_empty()


def test_a_shift_that_reverts_is_tested_against_the_shifted_level():
    # x3 for 12 weeks, then back: the return is a level shift of its own, found against the 12 shifted weeks
    rng = np.random.default_rng(8)
    rows = [(START + timedelta(days=7 * w), "C1", "P1", _noisy(w, rng) * (3.0 if 35 <= w < 47 else 1.0))
            for w in range(80)]
    # one order line a week: the size test's normal tail is too blunt for 12 + 8 lines, the totals' exact test
    # is not (the regime logic is the same for both)
    onsets = [(d - START).days // 7 for d in _shifts(rows, lines=False)["event_week"]]
    assert len(onsets) == 2 and abs(onsets[0] - 35) <= 1 and abs(onsets[1] - 47) <= 1
    rng = np.random.default_rng(9)
    rows = [(d, c, p, q * (3.0 if 35 * 7 <= (d - START).days < 47 * 7 else 1.0))
            for d, c, p, q in _lumpy_lines(rng, 80, None, 1.0)]
    onsets = [(d - START).days // 7 for d in _shifts(rows)["event_week"]]
    assert len(onsets) == 2 and abs(onsets[0] - 35) <= 1 and abs(onsets[1] - 47) <= 1


def test_the_rank_sum_null_is_exact():
    from math import comb

    cdf = shift.rank_sum_cdf(26, 26)
    assert cdf[26, 8, 0] == pytest.approx(1 / comb(34, 8))  # every week after below every week before
    assert cdf[26, 26, 26 * 26] == pytest.approx(1.0)
    assert cdf[10, 10, 49] == pytest.approx(0.5, abs=0.05)  # symmetric around n1 n2 / 2


def test_a_product_whose_orders_stop_has_ended_not_shifted():
    rng = np.random.default_rng(3)
    rows = [(START + timedelta(days=7 * w), "C1", "P1", _noisy(w, rng)) for w in range(40)]
    assert _shifts(rows).is_empty()


def test_a_move_of_the_whole_product_group_is_the_market_not_a_shift():
    rng = np.random.default_rng(4)
    rows = [(START + timedelta(days=7 * w), "C1", p, _noisy(w, rng) * (0.3 if w >= 35 else 1.0))
            for w in range(80) for p in ("P1", "P2", "P3")]
    groups = pl.DataFrame({"product_id": ["P1", "P2", "P3"], "product_group": ["G"] * 3})
    assert _shifts(rows).height == 3  # without the market: each product "shifts"
    assert _shifts(rows, groups).is_empty()


def test_a_product_whose_main_customer_leaves_is_an_account_event_not_a_shift():
    rng = np.random.default_rng(5)
    rows = [(START + timedelta(days=7 * w), "C1", "P1", _noisy(w, rng, 400.0)) for w in range(35)]
    rows += [(START + timedelta(days=7 * w), "C2", "P1", _noisy(w, rng)) for w in range(80)]
    assert _shifts(rows).is_empty()
    # the same total fall spread over every customer is a level shift
    rows = [(START + timedelta(days=7 * w), c, "P1", _noisy(w, rng, lvl) * (0.2 if w >= 35 else 1.0))
            for w in range(80) for c, lvl in (("C1", 400.0), ("C2", 100.0))]
    assert _shifts(rows).height == 1


def test_the_count_after_a_bad_count_is_not_a_second_anomaly():
    rec = pl.DataFrame({
        "item_id": ["X"] * 4, "snapshot_date": [date(2024, m, 1) for m in (2, 3, 4, 5)],
        "estimated_qty": [100.0, 100.0, 50.0, 100.0], "snapshot_qty": [100.0, 50.0, 100.0, 101.0]})
    found = detect.stock_mismatches(rec).filter(pl.col("rule_kind").is_not_null())
    assert found["snapshot_date"].to_list() == [date(2024, 3, 1)]


def test_messages_in_both_languages():
    alerts = pl.DataFrame({"kind": ["spike", "stock_mismatch"], "customer_id": ["C1", None], "product_id": ["P1", "RM1"],
                           "event_week": [date(2024, 3, 4)] * 2, "observed": [1000.0, 50.0], "expected": [100.0, 100.0]})
    out = with_messages(alerts)
    assert "10.0x" in out["message_en"][0] and "배" in out["message_ko"][0]
    assert "재고 실사" in out["message_ko"][1] and "imply 100" in out["message_en"][1]


def test_scoring_counts_matches_within_a_week():
    truth = pl.DataFrame({"kind": ["spike", "drop"], "customer_id": ["C1", "C2"], "product_id": ["P1", "P2"],
                          "week_start": [date(2024, 3, 4), date(2024, 5, 6)]})
    alerts = pl.DataFrame({"kind": ["spike", "spike"], "customer_id": ["C1", "C9"], "product_id": ["P1", "P1"],
                           "event_week": [date(2024, 3, 11), date(2024, 3, 11)]})
    result = evaluate.score(alerts, truth, date(2024, 1, 1), date(2024, 12, 31))
    assert result["spike"] == {"alerts": 2, "planted": 1, "precision": 0.5, "recall": 1.0, "superseded": 0}
    assert result["drop"]["recall"] == 0.0


def test_a_level_shift_is_credited_within_three_weeks_of_its_onset():
    truth = pl.DataFrame({"kind": ["level_shift"], "customer_id": [None], "product_id": ["P1"],
                          "week_start": [date(2024, 3, 4)]}, schema_overrides={"customer_id": pl.String})
    alerts = pl.DataFrame({"kind": ["level_shift"] * 2, "customer_id": [None, None], "product_id": ["P1"] * 2,
                           "event_week": [date(2024, 3, 25), date(2024, 4, 1)]}, schema_overrides={"customer_id": pl.String})
    result = evaluate.score(alerts, truth, date(2024, 1, 1), date(2024, 12, 31))
    assert result["level_shift"] == {"alerts": 2, "planted": 1, "precision": 0.5, "recall": 1.0}


def test_a_pause_of_a_pair_that_skips_weeks_needs_a_longer_run():
    # a pair that skipped 5 of its 45 weeks: (0.11)^5 = 1.7e-5 says five empty weeks are nearly a drop, but the
    # rate rests on 45 weeks; the beta-binomial's chance of 5 is 1.1e-4, of 6 2.3e-5, of 7 5e-6: seven it is
    skips = {w: 0.0 for w in range(3, 45, 10)}
    short = _scored(_steady({**skips, **{w: 0.0 for w in range(45, 50)}}) + _steady({}, customer="C2"))
    assert short.filter(pl.col("rule_kind") == "drop").is_empty()
    rows = _steady({**skips, **{w: 0.0 for w in range(45, 52)}}) + _steady({}, customer="C2")
    found = _scored(rows).filter((pl.col("customer_id") == "C1") & (pl.col("rule_kind") == "drop"))
    assert found["week_start"].to_list() == [START + timedelta(days=7 * 51)]
    assert found["event_week"].to_list() == [START + timedelta(days=7 * 45)]


def test_the_run_a_drop_needs_charges_for_a_short_record():
    n, m = pl.col("n"), pl.col("m")
    f = pl.DataFrame({"n": [13, 52, 52, 26, 26], "m": [0, 0, 2, 0, 4]}).with_columns(
        detect.drop_run_weeks(n, m).alias("k"), detect.drop_run_log_p(4, n, m).exp().alias("p4"))
    # 13 weeks without a gap: four empty weeks have chance 4! 14! / 18! = 3.3e-4, not 0; seven are needed
    assert f["p4"][0] == pytest.approx(24 / (15 * 16 * 17 * 18))
    assert f["k"].to_list() == [7, 4, 5, 5, None]  # 22 of 26 weeks: not even eight empty weeks are rare


def test_a_young_pair_that_stops_or_a_fading_one_is_not_a_drop():
    # 20 weeks of weekly orders, then nothing: no half-year of rhythm to break
    young = [(START + timedelta(days=7 * w), "C1", "P1", 100.0) for w in range(30, 50)]
    assert _scored(young + _steady({}, customer="C2")).filter(pl.col("rule_kind") == "drop").is_empty()
    # an order every week of its first 30, then four gaps in its last 26 (22 of 26 weeks, 85 % is 22.1), then
    # it stops: the year's 48 of 52 is steady, the half-year's is not; the year alone called a drop at week 57
    fading = {30: 0.0, 36: 0.0, 42: 0.0, 48: 0.0} | {w: 0.0 for w in range(52, 60)}
    f = _scored(_steady(fading) + _steady({}, customer="C2")).filter(pl.col("customer_id") == "C1")
    assert f.filter(pl.col("rule_kind") == "drop").is_empty()
    at = f.filter(pl.col("week_start") == START + timedelta(days=7 * 57))
    assert at["presence_before_6"][0] >= detect.DROP_PRESENCE > at["half_presence_before_6"][0]


def test_spike_bar_follows_the_book_and_ignores_the_week_it_judges():
    rng = np.random.default_rng(5)
    weeks = [START + timedelta(days=7 * w) for w in range(40)]
    # 300 steady pairs; 3 % of weeks break their record, by exponential amounts with mean log 0.2
    rows = [(w, float(rng.exponential(0.2)) if rng.random() < 0.03 else -1.0) for w in weeks for _ in range(300)]
    f = pl.DataFrame(rows, schema=["week_start", "log_ratio_to_year_max"], orient="row").with_columns(
        pl.lit(1.0).alias("year_presence"), pl.lit(10.0).alias("base"))
    bar = detect.spike_thresholds(f).filter(pl.col("week_start") == weeks[-1])["spike_bar"][0]
    # exponential tail: log(0.03 / 1e-5) * 0.2 = 1.6, i.e. about 5x the record
    assert 1.2 < bar < 2.1
    later = f.with_columns(pl.when(pl.col("week_start") == weeks[-1]).then(9.0).otherwise(pl.col("log_ratio_to_year_max"))
                           .alias("log_ratio_to_year_max"))
    assert detect.spike_thresholds(later).filter(pl.col("week_start") == weeks[-1])["spike_bar"][0] == bar


def test_a_product_at_its_end_of_life_is_not_a_drop():
    rows = _steady({w: 0.0 for w in range(40, 60)}) + _steady({}, customer="C2", weeks=40)
    orders = pl.DataFrame(rows, schema=["order_date", "customer_id", "product_id", "order_qty"], orient="row")
    grid = weekly_grid(orders, ["customer_id", "product_id"], START, START + timedelta(days=7 * 59))
    eol = pl.DataFrame({"product_id": ["P1"], "eol_date": [START + timedelta(days=7 * 40 - 1)]})
    assert detect.pair_rules(pair_features(grid), eol).filter(pl.col("rule_kind") == "drop").is_empty()
    assert detect.pair_rules(pair_features(grid)).filter(pl.col("rule_kind") == "drop").height == 2


def test_planted_spikes_break_the_record_and_customers_leaving_are_labelled():
    from dsop_jobs.demo_data.anomalies import DROP_WEEKS, SPIKE_OVER_MAX, plant_anomalies

    rng = np.random.default_rng(8)
    n_weeks = 120
    start = START
    rows = [(start + timedelta(days=7 * w), f"C{c}", f"P{c % 6}", float(rng.integers(50, 150)))
            for c in range(24) for w in range(n_weeks) if not (c == 23 and w >= 70)]
    orders = pl.DataFrame(rows, schema=["order_date", "customer_id", "product_id", "order_qty"], orient="row")
    inventory = pl.DataFrame({"snapshot_date": [start + timedelta(days=30 * m) for m in range(27)],
                              "product_id": ["RM1"] * 27, "on_hand_qty": [100.0] * 27})
    end = start + timedelta(days=7 * n_weeks - 1)
    out, _, truth = plant_anomalies(np.random.default_rng(1), start, end, orders, inventory, [("C23", "P5", 70.0)])
    weekly = weekly_grid(out, ["customer_id", "product_id"], start, end - timedelta(days=6))
    assert truth.filter(pl.col("kind") == "spike").height == 2 and truth.filter(pl.col("kind") == "drop").height == 3
    for t in truth.filter(pl.col("kind") == "spike").iter_rows(named=True):
        s = weekly.filter((pl.col("customer_id") == t["customer_id"]) & (pl.col("product_id") == t["product_id"]))
        record = s.filter(pl.col("week_start") < t["week_start"]).tail(52)["qty"].max()
        assert s.filter(pl.col("week_start") == t["week_start"])["qty"][0] >= SPIKE_OVER_MAX[0] * record * 0.999
    for t in truth.filter((pl.col("kind") == "drop") & (pl.col("source") == "planted")).iter_rows(named=True):
        s = weekly.filter((pl.col("customer_id") == t["customer_id"]) & (pl.col("product_id") == t["product_id"])
                          & (pl.col("week_start") >= t["week_start"]))
        assert s.head(DROP_WEEKS)["qty"].sum() == 0 and s["qty"][DROP_WEEKS] > 0
    left = truth.filter(pl.col("source") == "customer_left")
    assert left.select("customer_id", "week_start").rows() == [("C23", start + timedelta(days=7 * 70))]


def _lines_book(rng, factor_at: dict[int, float], weeks: int = 70, pairs: int = 40) -> pl.DataFrame:
    """Steady pairs of 1-8 order lines a week (4 in pair C0/P0's weeks with a factor), sizes e^N(0, 0.3) x 20,
    C0/P0's lines x factor in the given weeks: the count of lines makes the weekly totals swing, the sizes not."""
    rows = []
    for c in range(pairs):
        for w in range(weeks):
            f = factor_at.get(w, 1.0) if c == 0 else 1.0
            n = 4 if f != 1.0 else int(rng.integers(1, 9))
            rows += [(START + timedelta(days=7 * w + d % 5), f"C{c}", "P0" if c == 0 else f"P{c}",
                      round(20.0 * np.exp(rng.normal(0, 0.3)) * f, 1)) for d in range(n)]
    orders = _orders(rows)
    grid = weekly_grid(orders, ["customer_id", "product_id"], START, START + timedelta(days=7 * (weeks - 1)))
    return detect.pair_rules(pair_features(grid)).filter(pl.col("customer_id") == "C0")


def test_a_week_of_large_lines_is_a_spike_called_two_weeks_later():
    # four lines x4.5: the week's total is over twice the year's record week but under the totals' record bar
    # (the count of lines swings the weekly record), and all four lines beat the pair's record line of a year
    # (p = 4! / (n+4)...(n+1), n ~ 240: ~1e-8)
    f = _lines_book(np.random.default_rng(4), {60: 4.5})
    week = f.filter(pl.col("week_start") == START + timedelta(days=7 * 60))
    assert detect.SPIKE_FLOOR <= week["log_ratio_to_year_max"][0] < week["spike_bar"][0]
    assert f.filter(pl.col("rule_kind") == "spike").select("week_start", "event_week").rows() == [
        (START + timedelta(days=7 * (60 + detect.LINE_SPIKE_LAG)), START + timedelta(days=7 * 60))]


def test_large_lines_in_a_week_no_larger_than_the_record_are_not_a_spike():
    # four lines x4: every line beats the record line, but the week's total is ~1.5x the year's record week,
    # under the totals' floor of 2x: not more demand than the pair has placed (the old rule called it)
    f = _lines_book(np.random.default_rng(4), {60: 4.0})
    assert f.filter(pl.col("week_start") == START + timedelta(days=7 * 60))["line_record_log_p"][0] < np.log(detect.SPIKE_ALPHA / 2)
    assert f.filter(pl.col("rule_kind") == "spike").is_empty()


def test_a_pair_younger_than_half_a_year_has_no_record_to_break():
    # 20 weeks old, a week 10x its usual: its record is of 19 weeks, which breaks far more often than a year's
    young = [(START + timedelta(days=7 * w), "C1", "P1", 1000.0 if w == 49 else 100.0) for w in range(30, 60)]
    rows = young + _steady({}, customer="C2") + _steady({}, customer="C3")
    assert _scored(rows).filter(pl.col("rule_kind") == "spike").is_empty()
    older = [(START + timedelta(days=7 * w), "C1", "P1", 1000.0 if w == 59 else 100.0) for w in range(30, 60)]
    assert _scored(older + _steady({}, customer="C2") + _steady({}, customer="C3")) \
        .filter(pl.col("rule_kind") == "spike")["week_start"].to_list() == [START + timedelta(days=7 * 59)]


def test_the_first_week_of_a_higher_level_is_not_a_spike():
    found = _lines_book(np.random.default_rng(4), {w: 4.0 for w in range(60, 70)}).filter(pl.col("rule_kind") == "spike")
    assert found.is_empty()


def test_the_record_line_chance_is_the_exact_share_of_orderings():
    from math import comb

    f = pl.DataFrame({"j": [1, 2, 3, 0], "k": [5.0, 5.0, 3.0, 4.0], "n": [100.0, 100.0, 150.0, 10.0]})
    got = f.select(_log_p=features_log_p(pl.col("j"), pl.col("k"), pl.col("n")))["_log_p"].to_list()
    want = [np.log(comb(5, 1) / comb(105, 1)), np.log(comb(5, 2) / comb(105, 2)), np.log(1 / comb(153, 3)), 0.0]
    assert got == pytest.approx(want)


def test_a_lagged_spike_rests_on_the_forest_verdict_of_its_record_week():
    weeks = [START + timedelta(days=7 * w) for w in range(4)]
    lag = detect.LINE_SPIKE_LAG
    scored = pl.DataFrame({"customer_id": ["C1"] * 4, "product_id": ["P1"] * 4, "week_start": weeks,
                           "if_flag": [True, False, False, False], "if_score": [-0.1, 0.1, 0.1, 0.1],
                           "qty": [500.0, 50.0, 50.0, 50.0], "z": [9.0, 0.0, 0.0, 0.0],
                           "if_lag": [0] * lag + [lag] + [0] * (3 - lag)})
    out = detect.confirm_if(scored).sort("week_start")
    assert out["if_flag"].to_list() == [True] + [False] * (lag - 1) + [True] + [False] * (3 - lag)
    assert out["qty"][lag] == 500.0 and out["z"][lag] == 9.0


def test_a_kind_with_too_few_planted_is_not_judged():
    from dsop_assets.anomaly.assets import MIN_PLANTED, NOT_JUDGED, planted_verdicts

    score = {"spike": {"alerts": 1, "planted": 2, "precision": 1.0, "recall": 0.5},
             "drop": {"alerts": 20, "planted": MIN_PLANTED, "precision": 0.95, "recall": 0.7},
             "level_shift": {"alerts": 20, "planted": 20, "precision": 0.9, "recall": 0.9},
             "stock_mismatch": {"alerts": 0, "planted": 0, "precision": None, "recall": None}}
    assert planted_verdicts(score) == {"spike": NOT_JUDGED, "drop": "met", "level_shift": "missed"}
    # a kind judged on enough events still fails on its own misses
    score["drop"]["recall"] = 0.69
    assert planted_verdicts(score)["drop"] == "missed"


def test_a_drop_is_alerted_on_the_rule_alone_with_the_forest_score_beside_it():
    from dsop_assets.anomaly.assets import order_alerts_from

    rng = np.random.default_rng(3)
    weeks = 110
    rows = [(START + timedelta(days=7 * w), c, p, float(rng.integers(80, 120))) for c in ("C1", "C2", "C3")
            for p in ("P1", "P2") for w in range(weeks) if not (c == "C1" and p == "P1" and 90 <= w < 98)]
    orders = _orders(rows)
    no_forecast = pl.DataFrame(schema={"product_id": pl.String, "week_start": pl.Date, "_p50": pl.Float64,
                                       "_band": pl.Float64})
    alerts, scored = order_alerts_from(orders, no_forecast, START + timedelta(days=7 * 80),
                                       START + timedelta(days=7 * weeks))
    drops = alerts.filter(pl.col("kind") == "drop")
    assert drops.select("customer_id", "product_id", "event_week", "method").rows() == [
        ("C1", "P1", START + timedelta(days=7 * 90), "rule")]
    assert drops["if_score"].is_not_null().all()
