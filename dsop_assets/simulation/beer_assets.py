"""Beer-game assets: one static partition per demand autocorrelation rho, and the tier classifier over all of them."""

import dagster as dg
import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from dsop_assets.simulation import beer_game as bg
from dsop_assets.simulation import tier_model as tm
from dsop_resources import WAREHOUSE_POOL, Warehouse

GROUP = "beer_game"
TIER_TARGET = "tier_accuracy_at_least_0_99"
rho_partitions = dg.StaticPartitionsDefinition([f"{r:+.1f}" for r in bg.RHOS])


def rho_of(key: str) -> float:
    return float(key)


class BeerGameConfig(dg.Config):
    """Defaults are the published set-up; tests shrink it."""

    replications: int = bg.REPLICATIONS
    weeks: int = bg.WEEKS


def simulation_frame(rho: float, config: BeerGameConfig) -> tuple[pl.DataFrame, np.ndarray]:
    sim = bg.simulate(rho, reps=config.replications, weeks=config.weeks)
    reps, tiers, weeks = sim["order"].shape
    idx = np.indices((reps, tiers, weeks)).reshape(3, -1)
    frame = pl.DataFrame({
        "rho": np.full(idx.shape[1], rho), "replication": idx[0].astype(np.int32), "tier": idx[1].astype(np.int32),
        "tier_name": np.asarray(bg.TIERS)[idx[1]], "week": idx[2].astype(np.int32),
        "customer_demand": sim["demand"][idx[0], idx[2]],
        **{k: sim[k].ravel() for k in ("order", "shipment", "inventory", "backlog")},
    })
    return frame, bg.bullwhip(sim)


BULLWHIP = "beer_game_bullwhip"
BULLWHIP_CHECK = "one_finite_bullwhip_per_tier"
SHAPES = "order_shape_classification"
SHAPES_CHECK = "shares_sum_to_one"


@dg.multi_asset(
    name="beer_game_simulation",
    specs=[
        dg.AssetSpec("beer_game_simulation", group_name=GROUP, kinds={"numpy", "polars"},
                     metadata={"partition_expr": "rho"},
                     description=f"Beer game, 4 tiers, {bg.WEEKS} weeks x {bg.REPLICATIONS} replications per demand "
                     f"rho (AR(1)), shipping delay {bg.SHIP_DELAY} and order delay {bg.ORDER_DELAY} weeks, Sterman's "
                     f"anchor-and-adjust ordering (theta {bg.THETA}, alpha {bg.ALPHA}, beta {bg.BETA}, "
                     f"S* {bg.TARGET_STOCK}). Per tier and week: order, shipment, inventory, backlog."),
        dg.AssetSpec(BULLWHIP, group_name=GROUP, kinds={"numpy", "polars"}, metadata={"partition_expr": "rho"},
                     description="Bullwhip per demand rho and tier: the variance of the tier's orders over the "
                     "variance of customer demand, from the same simulation."),
    ],
    partitions_def=rho_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[dg.AssetCheckSpec(BULLWHIP_CHECK, asset=BULLWHIP,
                                   description="One finite, positive bullwhip per tier for every rho of the run.")],
    pool=WAREHOUSE_POOL,
    description="Simulates the beer game for each rho of the run and writes the weekly table and its bullwhip.",
)
def beer_game_simulation(context: dg.AssetExecutionContext, config: BeerGameConfig, warehouse: Warehouse):
    keys = context.partition_keys
    frames, whips = [], {}
    for key in keys:
        frame, whip = simulation_frame(rho_of(key), config)
        frames.append(frame)
        whips[key] = {t: round(float(w), 3) for t, w in zip(bg.TIERS, whip)}
    table = pl.concat(frames)
    warehouse.write("beer_game_simulation", table, keys={"rho": [rho_of(k) for k in keys]})
    bull = pl.DataFrame([{"rho": rho_of(k), "tier": t, "bullwhip": w} for k, v in whips.items() for t, w in v.items()])
    warehouse.write(BULLWHIP, bull, keys={"rho": [rho_of(k) for k in keys]})
    yield dg.MaterializeResult(asset_key="beer_game_simulation", metadata={"dagster/row_count": table.height})
    # Read back as stored, so the check sees what readers get.
    stored = warehouse.query(f"select rho, tier, bullwhip from {BULLWHIP} where rho in "
                             f"({', '.join(str(rho_of(k)) for k in keys)})")
    problems = bullwhip_problems(stored, [rho_of(k) for k in keys])
    yield dg.MaterializeResult(
        asset_key=BULLWHIP, metadata={"dagster/row_count": stored.height, "bullwhip_by_rho": whips},
        check_results=[dg.AssetCheckResult(asset_key=BULLWHIP, check_name=BULLWHIP_CHECK, passed=not problems,
                                           metadata={"problems": dg.MetadataValue.json(problems[:20])})])


def bullwhip_problems(stored: pl.DataFrame, rhos: list[float]) -> list[str]:
    """What is wrong with the stored bullwhip of ``rhos``: a (rho, tier) missing or twice, or not finite > 0."""
    problems = []
    counts = {(r, t): n for r, t, n in stored.group_by("rho", "tier").len().rows()}
    for rho in rhos:
        for tier in bg.TIERS:
            if counts.get((rho, tier), 0) != 1:
                problems.append(f"rho {rho:+.1f} {tier}: {counts.get((rho, tier), 0)} rows")
    bad = stored.filter(~pl.col("bullwhip").is_finite() | (pl.col("bullwhip") <= 0))
    problems += [f"rho {r:+.1f} {t}: bullwhip {b}" for r, t, b in bad.rows()]
    return problems


def _series(table: pl.DataFrame, column: str) -> dict[float, np.ndarray]:
    out = {}
    for (rho,), part in table.sort("rho", "replication", "tier", "week").group_by("rho", maintain_order=True):
        reps, tiers, weeks = part["replication"].n_unique(), part["tier"].n_unique(), part["week"].n_unique()
        out[float(rho)] = part[column].to_numpy().reshape(reps, tiers, weeks)
    return out


def order_shapes(warehouse: Warehouse, model) -> pl.DataFrame:
    """Exploratory: which tier's order pattern each demo customer's and supplier's weekly order series resembles."""
    customers = warehouse.query(
        "select customer_id as entity_id, cast(date_trunc('week', order_date) as date) as week_start, "
        "sum(order_qty) as qty from daily_order group by 1, 2")
    suppliers = warehouse.query(
        "select supplier_id as entity_id, cast(date_trunc('week', order_date) as date) as week_start, "
        "sum(order_qty) as qty from purchase_order group by 1, 2")
    rows = []
    for kind, frame in (("customer", customers), ("supplier", suppliers)):
        if frame.is_empty():
            continue
        weeks = pl.DataFrame({"week_start": pl.date_range(frame["week_start"].min(), frame["week_start"].max(),
                                                          "1w", eager=True)})
        for (entity,), part in frame.sort("entity_id").group_by("entity_id", maintain_order=True):
            series = weeks.join(part, on="week_start", how="left")["qty"].fill_null(0.0).to_numpy()
            if len(series) < tm.SHAPE_WINDOW or series.std() == 0:
                continue
            starts = range(0, len(series) - tm.SHAPE_WINDOW + 1, tm.STRIDE)
            x = np.stack([series[a:a + tm.SHAPE_WINDOW] for a in starts])
            votes = np.bincount(model.predict(tm.window_features(x, scale_free=True)), minlength=len(bg.TIERS))
            share = votes / votes.sum()
            rows.append(dict(entity_type=kind, entity_id=entity, windows=int(votes.sum()),
                             resembles=bg.TIERS[int(np.argmax(votes))], agreement=float(share.max()),
                             **{f"share_{t}": float(s) for t, s in zip(bg.TIERS, share)}))
    schema = {"entity_type": pl.String, "entity_id": pl.String, "windows": pl.Int64, "resembles": pl.String,
              "agreement": pl.Float64, **{f"share_{t}": pl.Float64 for t in bg.TIERS}}
    return pl.DataFrame(rows, schema=schema)


_ALL_RHOS = dg.AssetDep("beer_game_simulation", partition_mapping=dg.AllPartitionMapping())


@dg.multi_asset(
    name="tier_classifier",
    specs=[
        dg.AssetSpec("tier_classifier", group_name=GROUP, deps=[_ALL_RHOS], kinds={"scikit-learn", "lightgbm"},
                     metadata={"dsop/table": "tier_classifier_accuracy"},
                     description=f"Predicts a beer-game member's tier from a {tm.WINDOW}-week window of its net "
                     f"inventory (stride {tm.STRIDE}; train/test split by replication, 70/30). Baseline: scikit-learn "
                     "MLP on the raw window; models: LightGBM on window features, and random 1-D convolution kernels "
                     "under a logistic regression. Table tier_classifier_accuracy: held-out accuracy overall and per "
                     "rho."),
        dg.AssetSpec(SHAPES, group_name=GROUP, deps=[_ALL_RHOS, "daily_order", "purchase_order"],
                     kinds={"lightgbm", "polars"},
                     description="EXPLORATORY: which tier's ordering pattern each demo customer's and supplier's weekly "
                     "order series most resembles (a classifier trained on scale-free beer-game order windows); dsop's "
                     "customers are not beer-game tiers, so read it as a shape description, not a fact."),
    ],
    check_specs=[dg.AssetCheckSpec(TIER_TARGET, asset="tier_classifier",
                                   description="Held-out accuracy of the better model >= 0.99."),
                 dg.AssetCheckSpec(SHAPES_CHECK, asset=SHAPES,
                                   description="One row per entity; its tier shares sum to 1 and the agreement is "
                                   "the largest share.")],
    pool=WAREHOUSE_POOL,
    description="Fits the tier classifiers on the beer-game simulation, then describes the demo's order series "
    "with an order-shape classifier.",
)
def tier_classifier(context: dg.AssetExecutionContext, warehouse: Warehouse):
    with threadpool_limits(1):
        yield from _tier_classifier(context, warehouse)


def shape_problems(shapes: pl.DataFrame) -> list[str]:
    """Rows of order_shape_classification that break its contract (see the check's description)."""
    shares = [f"share_{t}" for t in bg.TIERS]
    twice = shapes.filter(pl.struct("entity_type", "entity_id").is_duplicated())
    off = shapes.with_columns(total=pl.sum_horizontal(shares), top=pl.max_horizontal(shares)).filter(
        ((pl.col("total") - 1).abs() > 1e-9) | ((pl.col("agreement") - pl.col("top")).abs() > 1e-9))
    return ([f"{k} {e}: twice" for k, e in twice.select("entity_type", "entity_id").unique().rows()]
            + [f"{k} {e}: shares or agreement off" for k, e in off.select("entity_type", "entity_id").rows()])


def _tier_classifier(context: dg.AssetExecutionContext, warehouse: Warehouse):
    table = warehouse.query("select rho, replication, tier, week, inventory, backlog, \"order\" from beer_game_simulation")
    if table.is_empty():
        raise dg.Failure("beer_game_simulation is empty: materialise its partitions first")
    table = table.with_columns((pl.col("inventory") - pl.col("backlog")).alias("net_inventory"))
    ds = tm.dataset(_series(table, "net_inventory"))
    train, test = ds["train"], ~ds["train"]
    mlp = tm.fit_mlp(ds["x"][train], ds["tier"][train])
    features = tm.tier_features(ds["x"])
    lgbm = tm.fit_lgbm(features[train], ds["tier"][train])
    conv = tm.fit_conv(ds["x"][train], ds["tier"][train])
    preds = {"mlp_raw_window": mlp.predict(ds["x"][test]), "lightgbm_window_features": lgbm.predict(features[test]),
             "conv1d_random_kernels": conv.predict(ds["x"][test])}
    truth, rho = ds["tier"][test], ds["rho"][test]
    rows = []
    for model, p in preds.items():
        rows.append(dict(model=model, rho=None, accuracy=float((p == truth).mean()), n_test=int(len(truth)),
                         n_train=int(train.sum())))
        for r in sorted(set(rho.tolist())):
            k = rho == r
            rows.append(dict(model=model, rho=float(r), accuracy=float((p[k] == truth[k]).mean()), n_test=int(k.sum()),
                             n_train=int(train.sum())))
    accuracy = pl.DataFrame(rows, schema={"model": pl.String, "rho": pl.Float64, "accuracy": pl.Float64,
                                          "n_test": pl.Int64, "n_train": pl.Int64})
    warehouse.write("tier_classifier_accuracy", accuracy)
    orders = tm.dataset(_series(table, "order"), tm.SHAPE_WINDOW)
    shape_model = tm.fit_lgbm(tm.window_features(orders["x"], scale_free=True), orders["tier"])
    shapes = order_shapes(warehouse, shape_model)
    warehouse.write(SHAPES, shapes)
    best = accuracy.filter(pl.col("rho").is_null()).sort("accuracy", descending=True).row(0, named=True)
    yield dg.MaterializeResult(
        asset_key="tier_classifier",
        metadata={"dagster/row_count": accuracy.height, "accuracy_overall": {
            r["model"]: round(r["accuracy"], 4) for r in accuracy.filter(pl.col("rho").is_null()).iter_rows(named=True)},
            "accuracy_by_rho": {f"{r['model']} rho={r['rho']:+.1f}": round(r["accuracy"], 4)
                                for r in accuracy.filter(pl.col("rho").is_not_null()).iter_rows(named=True)},
            "window_weeks": tm.WINDOW},
        check_results=[dg.AssetCheckResult(asset_key="tier_classifier", check_name=TIER_TARGET,
                                           passed=best["accuracy"] >= 0.99, severity=dg.AssetCheckSeverity.WARN,
                                           metadata={"best_model": best["model"], "accuracy": best["accuracy"]})],
    )
    stored = warehouse.read_table(SHAPES)
    problems = shape_problems(stored) if stored.height else []
    yield dg.MaterializeResult(
        asset_key=SHAPES,
        metadata={"dagster/row_count": stored.height,
                  "resembles": dict(stored.group_by("resembles").len().sort("resembles").rows()) if stored.height else {}},
        check_results=[dg.AssetCheckResult(asset_key=SHAPES, check_name=SHAPES_CHECK, passed=not problems,
                                           metadata={"problems": dg.MetadataValue.json(problems[:20])})])


beer_game_assets = [beer_game_simulation, tier_classifier]
