"""Monthly customer assets: segments, churn risk and product recommendations as of each month's end.

scikit-learn runs single-threaded (``threadpool_limits(1)``): on a shared, loaded machine its OpenMP
threads fight for the cores and a 5 s backtest took 100 s; one thread is also bit-for-bit repeatable.
"""


from datetime import date

import dagster as dg
import polars as pl
from threadpoolctl import threadpool_limits

from dsop_assets.analytics_evaluation import evaluation_spec, write_evaluation
from dsop_assets.customer import churn, recommend, segments
from dsop_assets.customer.features import FEATURES, RHYTHM_FEATURES, add_months, customer_features, month_end
from dsop_resources import WAREHOUSE_POOL
from dsop_assets.partitions import decision_monthly_partitions, months_in, window_dates
from dsop_resources import Warehouse, Window

GROUP = "customer"
SEGMENTS_PRESENT = "segments_present"
CHURN_BEATS_RECENCY = "churn_model_beats_recency"
RECOMMENDATIONS_PRESENT = "recommendations_for_every_customer"
SEGMENT_PROFILE = "customer_segment_profile"
PROFILES_COVER_SEGMENTS = "profiles_cover_every_segmented_customer"
CHURN_BACKTEST = "customer_churn_backtest"
BACKTEST_SCORES_VALID = "backtest_scores_are_probabilities"
HISTORY_MONTHS = churn.BACKTEST_MONTHS + 2 * churn.HORIZON_MONTHS + churn.MIN_TRAIN_MONTHS + 12


def read_orders(warehouse: Warehouse, since: date, until: date) -> pl.DataFrame:
    """Order lines in [since, until] with the KRW amount (the staging view converts at the order day's rate)."""
    return warehouse.query(
        "select order_date, customer_id, product_id, order_qty, coalesce(order_amount_krw, 0.0) as order_amount_krw "
        "from stg_daily_order where order_date between $since and $until", {"since": since, "until": until},
    ).with_columns(pl.col("order_date").cast(pl.Date))


def _markdown(frame: pl.DataFrame) -> str:
    cols = frame.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.rows():
        lines.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(lines)


def segment_one_month(warehouse: Warehouse, month: date) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    orders = read_orders(warehouse, add_months(month, -13), month_end(month))
    feats = customer_features(orders, [add_months(month, -1), month])
    now = feats.filter(pl.col("month_start") == month)
    if now.height < 3:
        raise dg.Failure(f"only {now.height} customers ordered in the 12 months to {month}: too few to segment")
    segmented, info = segments.segment_month(now)
    names = segments.name_segments(segmented)
    segmented = segmented.join(names, on="segment")
    before = feats.filter(pl.col("month_start") == add_months(month, -1))
    stable = {"customers_in_both": 0, "changed_share": None}
    if info["k"] > 1 and before.height > info["k"]:
        prev, _ = segments.segment_month(before, k=info["k"])
        mapping = segments.align_labels(info, before, prev["segment"].to_numpy())
        stable = segments.stability(segmented, prev, mapping)
    return segmented, segments.profiles(segmented), {"k": info["k"], "silhouettes": info["silhouettes"], **stable}


@dg.multi_asset(
    name="customer_segment",
    specs=[
        dg.AssetSpec("customer_segment", group_name=GROUP, deps=["stg_daily_order", "daily_order"],
                     kinds={"scikit-learn", "polars"}, metadata={"partition_expr": "month_start"},
                     description="K-means customer segments as of each month's end (RFM over 12 months, order-size "
                     "volatility, product breadth, growth, top-product share); k by silhouette over 2..8. Metadata: "
                     "the share of customers who changed segment since the previous month (labels aligned by the "
                     "Hungarian method on centroids)."),
        dg.AssetSpec(SEGMENT_PROFILE, group_name=GROUP, deps=["stg_daily_order", "daily_order"],
                     kinds={"scikit-learn", "polars"}, metadata={"partition_expr": "month_start"},
                     description="Per month and segment: size, share of customers and revenue, the median of "
                     "every feature, and the segment's named strategy."),
        evaluation_spec("customer_segment", GROUP),
    ],
    partitions_def=decision_monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    check_specs=[dg.AssetCheckSpec(SEGMENTS_PRESENT, asset="customer_segment",
                                   description="Every active customer has a named segment."),
                 dg.AssetCheckSpec(PROFILES_COVER_SEGMENTS, asset=SEGMENT_PROFILE,
                                   description="Per month, the profiles count every segmented customer once and "
                                   "their revenue shares sum to 1.")],
    description="Segments customers each month and writes the segments and their profiles.",
)
def customer_segment(context: dg.AssetExecutionContext, warehouse: Warehouse):
    with threadpool_limits(1):
        yield from _customer_segment(context, warehouse)


def _customer_segment(context: dg.AssetExecutionContext, warehouse: Warehouse):
    start, end = window_dates(context)
    rows, profiles, infos = [], [], {}
    for month in months_in(start, end):
        segmented, profile, info = segment_one_month(warehouse, month)
        rows.append(segmented)
        profiles.append(profile)
        infos[month] = info
    table = pl.concat(rows)
    written = warehouse.write("customer_segment", table, window=Window("month_start", start, end))
    profile = pl.concat(profiles)
    profiled = warehouse.write(SEGMENT_PROFILE, profile, window=Window("month_start", start, end))
    evaluation = [dict(asset="customer_segment", period_start=m, metric=name, method="kmeans", value=v)
                  for m, info in infos.items() for name, v in (("k", info["k"]), ("changed_share", info["changed_share"]))]
    yield write_evaluation(warehouse, "customer_segment", start, end, evaluation)
    last = max(infos)
    unnamed = table.filter(pl.col("segment_name").is_null()).height
    yield dg.MaterializeResult(
        asset_key="customer_segment",
        metadata={
            "dagster/row_count": written,
            "k_latest": infos[last]["k"],
            "silhouette_by_k_latest": {str(k): v for k, v in infos[last]["silhouettes"].items()},
            "changed_segment_share_latest": infos[last]["changed_share"],
            "changed_segment_share_by_month": {str(m): i["changed_share"] for m, i in infos.items()},
            "profile_latest": dg.MetadataValue.md(_markdown(profile.filter(pl.col("month_start") == last).select(
                "segment_name", "customers", "revenue_share", "median_monetary_krw", "median_recency_days",
                "median_frequency", "median_growth", "strategy"))),
        },
        check_results=[dg.AssetCheckResult(asset_key="customer_segment", check_name=SEGMENTS_PRESENT,
                                           passed=bool(written and not unnamed),
                                           metadata={"customers": written, "unnamed": unnamed})],
    )
    problems = profile_problems(table, profile)
    yield dg.MaterializeResult(
        asset_key=SEGMENT_PROFILE, metadata={"dagster/row_count": profiled},
        check_results=[dg.AssetCheckResult(asset_key=SEGMENT_PROFILE, check_name=PROFILES_COVER_SEGMENTS,
                                           passed=not problems, metadata={"problems": dg.MetadataValue.json(problems[:20])})],
    )


def profile_problems(segmented: pl.DataFrame, profile: pl.DataFrame) -> list[str]:
    """Months whose profiles do not count each segmented customer once, or whose revenue shares do not sum to 1."""
    counted = segmented.group_by("month_start").len("segmented")
    sums = profile.group_by("month_start").agg(pl.col("customers").sum(), pl.col("revenue_share").sum())
    joined = counted.join(sums, on="month_start", how="full", coalesce=True).sort("month_start")
    problems = []
    for month, n, customers, share in joined.select("month_start", "segmented", "customers", "revenue_share").rows():
        if n != customers:
            problems.append(f"{month}: {customers} customers in profiles, {n} segmented")
        elif share is not None and abs(share - 1.0) > 1e-6 and share != 0.0:
            problems.append(f"{month}: revenue shares sum to {share:.6f}")
    return problems


def top_products(orders: pl.DataFrame) -> pl.DataFrame:
    """Each customer's largest product by amount (the product an account review is filed under)."""
    return (orders.group_by("customer_id", "product_id").agg(pl.col("order_amount_krw").sum())
            .sort("order_amount_krw", "product_id", descending=[True, False])
            .unique("customer_id", keep="first").select("customer_id", pl.col("product_id").alias("top_product_id")))


@dg.multi_asset(
    name="customer_churn_risk",
    specs=[
        dg.AssetSpec("customer_churn_risk", group_name=GROUP, deps=["stg_daily_order", "daily_order"],
                     kinds={"scikit-learn", "polars"}, metadata={"partition_expr": "month_start"},
                     description=f"P(no order in the next {churn.HORIZON_MONTHS} months) per customer as of each "
                     f"month's end (a logistic regression on recency and the customer's own rhythm: its order rate "
                     f"and the orders its current silence has cost; gradient boosting on every feature, or recency "
                     f"alone, only where it ranked better on the model's own training labels; trained only on labels "
                     f"complete by then). Customers at >= {churn.THRESHOLD} get account_review = true (an action in "
                     "the weekly action queue)."),
        dg.AssetSpec(CHURN_BACKTEST, group_name=GROUP, deps=["stg_daily_order", "daily_order"],
                     kinds={"scikit-learn", "polars"}, metadata={"partition_expr": "month_start"},
                     description="Per partition month and backtest month: ROC-AUC and precision@top-10 % of the "
                     "shipped model and of recency alone, with the customers and churners scored."),
        evaluation_spec("customer_churn_risk", GROUP),
    ],
    partitions_def=decision_monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    check_specs=[dg.AssetCheckSpec(CHURN_BEATS_RECENCY, asset="customer_churn_risk",
                                   description="Backtest ROC-AUC (mean of the months) of the shipped model is at "
                                   "least the recency-only rule's."),
                 dg.AssetCheckSpec(BACKTEST_SCORES_VALID, asset=CHURN_BACKTEST,
                                   description="Every AUC and precision is in [0, 1], churners never exceed customers.")],
    description="Scores each month's churn risk and writes the scores and their backtest.",
)
def customer_churn_risk(context: dg.AssetExecutionContext, warehouse: Warehouse):
    with threadpool_limits(1):
        yield from _customer_churn_risk(context, warehouse)


def _customer_churn_risk(context: dg.AssetExecutionContext, warehouse: Warehouse):
    start, end = window_dates(context)
    months = months_in(start, end)
    first = add_months(months[0], -HISTORY_MONTHS)
    orders = read_orders(warehouse, add_months(first, -12), month_end(months[-1]))
    data_start = orders["order_date"].min()
    span = [m for m in (add_months(first, i) for i in range(HISTORY_MONTHS + len(months) + 1))
            if m <= months[-1] and data_start is not None and add_months(m, -11) >= data_start.replace(day=1)]
    feats = customer_features(orders, span)
    scores, backtests, summaries = [], [], {}
    for month in months:
        seen = orders.filter(pl.col("order_date") <= month_end(month))
        labelled = churn.label_churn(feats.filter(pl.col("month_start") <= month), seen, month)
        scores.append(churn.churn_scores(labelled, month, top_products(
            seen.filter(pl.col("order_date") >= add_months(month, -11)))))
        table, summary = churn.backtest(labelled, month)
        backtests.append(table.with_columns(pl.lit(month).alias("month_start")))
        summaries[month] = summary
    result = pl.concat(scores, how="vertical_relaxed")
    written = warehouse.write("customer_churn_risk", result, window=Window("month_start", start, end))
    backtest = pl.concat(backtests, how="diagonal_relaxed")
    backtested = warehouse.write(CHURN_BACKTEST, backtest, window=Window("month_start", start, end))
    yield write_evaluation(warehouse, "customer_churn_risk", start, end, [
        dict(asset="customer_churn_risk", period_start=m, metric=metric, method=method, value=s.get(f"{metric}_{method}"))
        for m, s in summaries.items() for metric in ("auc", "auc_pooled", "precision_top10")
        for method in ("model", "recency")])
    last = summaries[months[-1]]
    # ">=": where recency is the whole answer the logistic can reduce to it (same ranking), which is not a failure.
    # A month whose backtest has no churner and no stayer to rank (tiny data, a short history) cannot be
    # judged: it passes and says so, instead of reading as a model that lost.
    judged = last.get("auc_model") is not None and last.get("auc_recency") is not None
    beats = not judged or last["auc_model"] >= last["auc_recency"]
    yield dg.MaterializeResult(
        asset_key="customer_churn_risk",
        metadata={"dagster/row_count": written, "backtest_latest": last,
                  "account_reviews_latest": int(result.filter(pl.col("month_start") == months[-1])["account_review"].sum()),
                  "threshold": churn.THRESHOLD, "features": FEATURES + RHYTHM_FEATURES},
        check_results=[dg.AssetCheckResult(
            asset_key="customer_churn_risk", check_name=CHURN_BEATS_RECENCY, passed=bool(beats),
            severity=dg.AssetCheckSeverity.WARN,
            description=None if judged else "not judged: the latest month's backtest has no AUC to compare",
            metadata={"judged": judged, **{k: v for k, v in last.items() if v is not None}})],
    )
    problems = backtest_problems(backtest)
    yield dg.MaterializeResult(
        asset_key=CHURN_BACKTEST, metadata={"dagster/row_count": backtested},
        check_results=[dg.AssetCheckResult(asset_key=CHURN_BACKTEST, check_name=BACKTEST_SCORES_VALID,
                                           passed=not problems, metadata={"problems": dg.MetadataValue.json(problems[:20])})],
    )


def backtest_problems(backtest: pl.DataFrame) -> list[str]:
    """Backtest rows whose AUC or precision is outside [0, 1] or whose churners exceed its customers."""
    problems = []
    for col in [c for c in backtest.columns if c.startswith(("auc_", "precision_top10_"))]:
        bad = backtest.filter(~pl.col(col).is_between(0.0, 1.0))
        problems += [f"{r['month_start']} / {r['eval_month']}: {col} = {r[col]}" for r in bad.iter_rows(named=True)]
    if {"churned", "customers"} <= set(backtest.columns):
        bad = backtest.filter(pl.col("churned") > pl.col("customers"))
        problems += [f"{r['month_start']} / {r['eval_month']}: {r['churned']} churned of {r['customers']}"
                     for r in bad.iter_rows(named=True)]
    return problems


@dg.multi_asset(
    name="product_recommendation",
    specs=[
        dg.AssetSpec("product_recommendation", group_name=GROUP, deps=["daily_order"],
                     metadata={"partition_expr": "month_start"}, kinds={"scikit-learn", "polars"},
                     description=f"Top {recommend.TOP_N} products each customer does not buy yet, as of each month's end, "
                     "ranked by the method the month's own leak-free evaluation finds best (`method_served`): the new "
                     "buyers a Poisson adoption model, fitted on the 8 quarters before, expects each product to gain "
                     "next quarter (item-based nearest neighbours break ties), or item-based nearest neighbours alone "
                     "where customers buy what similar customers buy. Metadata: "
                     "hit-rate@10 and recall@10 on each customer's hidden new products of the last quarter, against "
                     "item-KNN and popularity, pooled over the last 12 months."),
        evaluation_spec("product_recommendation", GROUP),
    ],
    partitions_def=decision_monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    check_specs=[dg.AssetCheckSpec(RECOMMENDATIONS_PRESENT, asset="product_recommendation",
                                   description="Every customer with orders gets recommendations.")],
)
def product_recommendation(context: dg.AssetExecutionContext, warehouse: Warehouse):
    with threadpool_limits(1):
        yield from _product_recommendation(context, warehouse)


def _product_recommendation(context: dg.AssetExecutionContext, warehouse: Warehouse):
    start, end = window_dates(context)
    months = months_in(start, end)
    orders = warehouse.query("select order_date, customer_id, product_id from daily_order where order_date <= $d",
                             {"d": month_end(months[-1])}).with_columns(pl.col("order_date").cast(pl.Date))
    recs, evals, evaluated_months = [], {}, {}
    for month in months:
        evals[month] = recommend.evaluate_pooled(orders, month, memo=evaluated_months)
        recs.append(recommend.recommend(orders, month_end(month), month, recommend.choose_method(evals[month])))
    table = pl.concat(recs)
    written = warehouse.write("product_recommendation", table, window=Window("month_start", start, end))
    evaluated = write_evaluation(warehouse, "product_recommendation", start, end, [
        dict(asset="product_recommendation", period_start=m, metric=metric, method=method,
             value=e.get(f"{metric}_{method}"))
        for m, e in evals.items() for metric in ("hit_rate_at_10", "recall_at_10") for method in recommend.METHODS])
    customers = orders.filter(pl.col("order_date") <= month_end(months[-1]))["customer_id"].n_unique()
    served = table.filter(pl.col("month_start") == months[-1])["customer_id"].n_unique()
    yield dg.MaterializeResult(
        asset_key="product_recommendation",
        metadata={"dagster/row_count": written, "evaluation_latest": evals[months[-1]],
                  "method_served": recommend.choose_method(evals[months[-1]])},
        check_results=[dg.AssetCheckResult(asset_key="product_recommendation", check_name=RECOMMENDATIONS_PRESENT,
                                           passed=served == customers,
                                           severity=dg.AssetCheckSeverity.WARN,
                                           metadata={"customers": customers, "with_recommendations": served})],
    )
    yield evaluated


customer_assets = [customer_segment, customer_churn_risk, product_recommendation]
