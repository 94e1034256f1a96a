"""Customer features, segments, churn labels and recommendations: plain functions on small frames."""

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from dsop_assets.customer import churn, recommend, segments
from dsop_assets.customer.features import customer_features


def _orders(n_customers: int = 24, months: int = 30, seed: int = 0) -> pl.DataFrame:
    """Three kinds of customer: big and steady, small and steady, and ones that stop after month 18."""
    rng = np.random.default_rng(seed)
    rows = []
    start = date(2023, 1, 2)
    for c in range(n_customers):
        kind = c % 3
        for week in range(months * 52 // 12):
            if kind == 2 and week > 78:
                break
            if rng.random() < (0.9 if kind == 0 else 0.4):
                product = f"P{rng.integers(0, 6 if kind == 0 else 2)}"
                qty = float(rng.integers(50, 100) if kind == 0 else rng.integers(1, 10))
                rows.append((start + timedelta(days=7 * week), f"C{c:02d}", product, qty, qty * 1000.0))
    return pl.DataFrame(rows, schema=["order_date", "customer_id", "product_id", "order_qty", "order_amount_krw"],
                        orient="row")


def test_features_ignore_orders_after_the_month():
    orders = _orders()
    month = date(2024, 3, 1)
    before = customer_features(orders.filter(pl.col("order_date") <= date(2024, 3, 31)), [month])
    after = customer_features(orders, [month])
    assert before.equals(after)
    assert before["recency_days"].min() >= 0 and before["top_product_share"].max() <= 1.0


def test_segments_separate_big_from_small_and_name_them():
    feats = customer_features(_orders(), [date(2024, 3, 1)])
    segmented, info = segments.segment_month(feats)
    assert 2 <= info["k"] <= 8 and info["silhouettes"][info["k"]] == max(info["silhouettes"].values())
    names = segments.name_segments(segmented)
    assert names["segment_name"].n_unique() == names.height and names["strategy"].null_count() == 0
    big = segmented.filter(pl.col("customer_id").is_in(["C00", "C03", "C06"]))["segment"].unique()
    assert big.len() == 1  # the steady big buyers stay together


def test_relabelled_clusters_count_as_unchanged():
    feats = customer_features(_orders(), [date(2024, 3, 1)])
    segmented, info = segments.segment_month(feats)
    permuted = segmented.with_columns((info["k"] - 1 - pl.col("segment")).alias("segment"))
    mapping = segments.align_labels(info, feats, permuted["segment"].to_numpy())
    assert segments.stability(segmented, permuted, mapping)["changed_share"] == 0.0


def test_churn_labels_and_backtest_beat_nothing_less_than_chance():
    orders = _orders()
    months = [date(2023, 12, 1) + timedelta(days=31 * i) for i in range(14)]
    months = sorted({m.replace(day=1) for m in months})
    feats = customer_features(orders, months)
    labelled = churn.label_churn(feats, orders, months[-1])
    stopped = labelled.filter((pl.col("month_start") == date(2024, 6, 1)) & pl.col("customer_id").is_in(["C02", "C05"]))
    assert stopped["churned"].to_list() == [1, 1]  # their last orders are in July 2024 at the latest
    assert labelled.filter(pl.col("month_start") == months[-1])["churned"].null_count() > 0  # future unknown


def test_recommendations_exclude_bought_and_knn_finds_co_bought():
    # customers 0..9 buy A and B; customers 10..19 buy C and D; customer 20 bought A only
    rows = [(date(2024, 1, 1), f"C{c}", p, 1.0) for c in range(10) for p in ("A", "B")]
    rows += [(date(2024, 1, 1), f"C{c}", p, 1.0) for c in range(10, 20) for p in ("C", "D")]
    rows += [(date(2024, 1, 1), "C20", "A", 1.0)]
    orders = pl.DataFrame(rows, schema=["order_date", "customer_id", "product_id", "order_qty"], orient="row")
    recs = recommend.recommend(orders, date(2024, 1, 31), date(2024, 1, 1))
    mine = recs.filter(pl.col("customer_id") == "C20").sort("rank")
    assert "A" not in mine["product_id"].to_list() and mine["product_id"][0] == "B"


def _rhythm_rows(rng, month, n=400) -> list[dict]:
    """Customers with their own order rates (order days per 30 days): a steady customer's chance of no order in
    3 months is e^-(rate x 3); a tenth have left, silent since a random day."""
    rows = []
    for i in range(n):
        rate = float(np.exp(rng.uniform(np.log(0.3), np.log(20.0))))
        left = rng.random() < 0.1
        recency = float(rng.integers(0, 240)) if left else float(rng.exponential(30.0 / rate))
        churned = 1 if left else int(rng.random() < np.exp(-rate * 3))
        rows.append(dict(month_start=month, customer_id=f"C{i}", recency_days=recency, frequency=rate * 12,
                         monetary_krw=1e6, volatility=0.5, breadth=1.0, growth=0.0, top_product_share=1.0,
                         order_rate=rate, silence_orders=recency * rate / 30.0, frequency_trend=1.0, churned=churned))
    return rows


def test_the_churn_model_judges_a_silence_against_the_customers_own_rhythm():
    rng = np.random.default_rng(7)
    months = [date(2022 + i // 12, i % 12 + 1, 1) for i in range(30)]
    labelled = pl.DataFrame([r for m in months for r in _rhythm_rows(rng, m)]).with_columns(pl.col("churned").cast(pl.Int8))
    probs, method = churn.fit_predict(labelled, months[-1])
    assert method in ("rhythm_logistic", "hist_gradient_boosting")
    # a weekly customer silent for six weeks is at risk; one who orders every two months is not, yet
    pair = pl.DataFrame([dict(month_start=months[-1], customer_id=c, recency_days=42.0, frequency=r * 12, monetary_krw=1e6,
                              volatility=0.5, breadth=1.0, growth=0.0, top_product_share=1.0, order_rate=r,
                              silence_orders=42.0 * r / 30.0, frequency_trend=1.0, churned=None)
                         for c, r in (("weekly", 4.0), ("bimonthly", 0.5))])
    train = labelled.filter(pl.col("month_start") <= months[-4])
    model = churn.MODELS["rhythm_logistic"][0]().fit(churn._rhythm_matrix(train), train["churned"].to_numpy())
    weekly, bimonthly = model.predict_proba(churn._rhythm_matrix(pair))[:, 1]
    assert weekly > bimonthly
    # and it ranks this month's churners better than recency does
    from sklearn.metrics import roc_auc_score
    now = labelled.filter(pl.col("month_start") == months[-1])
    truth = now["churned"].to_numpy()
    assert roc_auc_score(truth, probs) > roc_auc_score(truth, now["recency_days"].to_numpy()) + 0.02


def test_features_give_each_customer_its_own_rhythm():
    orders = _orders()
    feats = customer_features(orders, [date(2024, 3, 1)])
    assert {"order_rate", "silence_orders", "frequency_trend"} <= set(feats.columns)
    row = feats.row(0, named=True)
    assert row["silence_orders"] == pytest.approx(row["recency_days"] * row["order_rate"] / 30.0)


def test_adoption_ranks_a_product_still_being_taken_up_above_a_popular_settled_one():
    # OLD: ten customers since 2022, nobody new since. L0..L5 launched every 75 days: each gains a new buyer
    # every month for its first six months. NEW launched a month before the ranking date, one buyer so far.
    rows = [(date(2022, 1, 3) + timedelta(days=30 * m), f"C{c}", "OLD") for c in range(10) for m in range(36)]
    for k in range(6):
        launch = date(2023, 1, 2) + timedelta(days=75 * k)
        rows += [(launch + timedelta(days=30 * j), f"C{20 + j}", f"L{k}") for j in range(6)]
    rows += [(date(2024, 11, 4), "C20", "NEW"), (date(2022, 1, 3), "C30", "OTHER")]
    orders = pl.DataFrame(rows, schema=["order_date", "customer_id", "product_id"], orient="row")
    as_of = date(2024, 12, 1)
    rates = recommend.adoption_rates(orders, as_of, ["L0", "NEW", "OLD", "OTHER"])
    assert rates[1] > 2 * max(rates[2], rates[3])  # a month-old product outranks the settled ones
    recs = recommend.recommend(orders, as_of, date(2024, 12, 1))
    mine = recs.filter(pl.col("customer_id") == "C30").sort("rank")
    assert mine["product_id"][0] == "NEW" and set(mine["method"]) == {recommend.SERVED}
    # no new buyer in the quarters before: item-KNN ranks alone
    assert recommend.adoption_rates(orders, date(2022, 3, 1), ["OLD"]) is None


def test_poisson_fit_reaches_scikit_learns_optimum():
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(3)
    x = np.column_stack([np.eye(4)[rng.integers(0, 4, 500)], rng.normal(size=500)])
    y = rng.poisson(np.exp(x @ np.array([0.5, -1.0, 0.0, 1.0, 0.3]) - 0.5)).astype(float)
    ours = recommend.poisson_fit(x, y, 1e-3)
    theirs = PoissonRegressor(alpha=1e-3, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(x, y)
    assert ours == pytest.approx(np.r_[theirs.coef_, theirs.intercept_], abs=1e-6)


def test_the_method_served_is_the_one_that_found_more_new_pairs():
    assert recommend.choose_method({}) == recommend.SERVED
    tie = {"customers_hit_adoption": 3, "customers_hit_item_knn": 3, "customers_hit_popularity": 1}
    assert recommend.choose_method(tie) == recommend.SERVED
    assert recommend.choose_method({**tie, "customers_hit_item_knn": 5}) == "item_knn"


def test_co_purchase_history_serves_item_knn():
    # Four clusters of 12 customers, each cluster with its own 6 products, all on sale from the start; each
    # month a few customers take up another product of their own cluster. New pairs follow co-purchase, not
    # adoption of young products, so the leak-free evaluation must pick item-KNN and serve it.
    rng = np.random.default_rng(3)
    rows, owned = [], {}
    for c in range(48):
        cluster = c // 12
        products = [f"P{cluster}{k}" for k in range(6)]
        owned[c] = set(rng.choice(products, 2, replace=False))
        rows += [(date(2023, 1, 5), f"C{c}", p) for p in owned[c]]
    for m in range(1, 30):
        day = date(2023 + (m // 12), m % 12 + 1, 5)
        for c in rng.choice(48, 4, replace=False):
            left = sorted({f"P{c // 12}{k}" for k in range(6)} - owned[c])
            if left:
                owned[c].add(left[0] if len(left) == 1 else rng.choice(left))
            rows += [(day, f"C{c}", p) for p in owned[c]]
    orders = pl.DataFrame(rows, schema=["order_date", "customer_id", "product_id"], orient="row")
    pooled = recommend.evaluate_pooled(orders, date(2025, 5, 1))
    assert pooled["customers_hit_item_knn"] > pooled["customers_hit_adoption"]
    method = recommend.choose_method(pooled)
    recs = recommend.recommend(orders, date(2025, 5, 31), date(2025, 5, 1), method)
    assert method == "item_knn" and set(recs["method"]) == {"item_knn"}
    mine = recs.filter(pl.col("customer_id") == "C0")["product_id"].to_list()
    assert all(p.startswith("P0") for p in mine[:6 - len(owned[0])])


def test_pooled_evaluations_share_their_months():
    rows = [(date(2024, m, 3), f"C{c}", f"P{(c + m) % 5}") for m in range(1, 13) for c in range(8)]
    orders = pl.DataFrame(rows, schema=["order_date", "customer_id", "product_id"], orient="row")
    memo: dict = {}
    first = recommend.evaluate_pooled(orders, date(2024, 11, 1), months=6, memo=memo)
    assert set(memo) == {date(2024, m, 1) for m in range(6, 12)}
    second = recommend.evaluate_pooled(orders, date(2024, 12, 1), months=6, memo=memo)
    assert len(memo) == 7  # one new month evaluated, five reused
    assert first == recommend.evaluate_pooled(orders, date(2024, 11, 1), months=6)
    assert second == recommend.evaluate_pooled(orders, date(2024, 12, 1), months=6)
