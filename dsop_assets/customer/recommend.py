"""Top-10 products each customer does not buy yet: a product adoption model, checked against item-based nearest
neighbours and popularity.

Interactions are a customer x product matrix of order lines weighted by age (half-life
``HALF_LIFE_DAYS``), so a pair that stopped long ago counts less than one active now.

- ``adoption`` (served): the number of new buyers each product will gain over the next quarter, from a Poisson
  regression on the product's age since its first order (bands), its new buyers over the last quarter and its
  buyers in all, fitted on the ``ADOPTION_QUARTERS`` quarters before the ranking date (features as of each
  quarter's start, label = new buyers inside it: no order after the ranking date is read). A customer's
  products are ranked by that rate; item-KNN breaks ties (and ranks alone where the quarters before hold no
  new buyer to learn from). New pairs come mostly from products still being taken up (a launch's customers
  start over months) and seldom from who buys what else: on generated histories, whose customers pick their
  products independently, it finds five to twelve times the new pairs item-KNN finds.
- ``item_knn``: item-item cosine over the customer vectors, kept to each product's ``NEIGHBOURS`` nearest; a
  customer's score for a product is the summed similarity to what they buy.
- ``popularity``: how many customers ever bought each product.

Evaluation (leak-free): as of month M, each customer's *new* products of the last quarter (first
bought in M-2..M) are hidden; every method ranks from the orders before M-2 only. hit-rate@10 = share
of customers with a new product who get at least one in their top 10; recall@10 = hidden products
found / hidden products.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from dsop_assets.customer.features import add_months
from dsop_assets.ordered_sums import ordered_sum

TOP_N = 10
NEIGHBOURS = 30
HALF_LIFE_DAYS = 182.0
HIDDEN_MONTHS = 3
ADOPTION_QUARTERS = 8
QUARTER_DAYS = 91
AGE_BANDS_DAYS = (30, 61, 91, 182, 365, 730)
POISSON_ALPHA = 1e-3


def interactions(orders: pl.DataFrame, as_of: date) -> tuple[np.ndarray, list[str], list[str]]:
    """Age-weighted order-line counts (customers x products) from orders dated <= ``as_of``."""
    seen = orders.filter(pl.col("order_date") <= as_of)
    weights = seen.with_columns(
        (0.5 ** ((pl.lit(as_of) - pl.col("order_date")).dt.total_days() / HALF_LIFE_DAYS)).alias("w")
    # In a fixed order: item-KNN's ties (and adoption's tie-break) must not follow the thread split.
    ).group_by("customer_id", "product_id").agg(ordered_sum(pl.col("w")))
    customers = sorted(weights["customer_id"].unique())
    products = sorted(weights["product_id"].unique())
    matrix = np.zeros((len(customers), len(products)))
    ci = {c: i for i, c in enumerate(customers)}
    pi = {p: i for i, p in enumerate(products)}
    rows = [ci[c] for c in weights["customer_id"]]
    cols = [pi[p] for p in weights["product_id"]]
    matrix[rows, cols] = weights["w"].to_numpy()
    return matrix, customers, products


def knn_scores(matrix: np.ndarray) -> np.ndarray:
    from sklearn.metrics.pairwise import cosine_similarity

    x = np.log1p(matrix)
    sim = cosine_similarity(x.T)
    np.fill_diagonal(sim, 0.0)
    if sim.shape[0] > NEIGHBOURS:
        # keep each product's nearest neighbours only; ties broken by index for determinism
        cut = np.sort(sim, axis=1)[:, -NEIGHBOURS][:, None]
        sim = np.where(sim >= cut, sim, 0.0)
    return x @ sim.T


def _product_features(product: np.ndarray, days: np.ndarray, n: int, back: int) -> tuple[np.ndarray, np.ndarray]:
    """Per product, ``back`` days before the ranking date, from each pair's first order (``product`` index,
    ``days`` before the ranking date): one-hot band of days since the product's first order, log1p of its new
    buyers over the quarter to then and log1p of its buyers in all; and whether it had been ordered by then."""
    age = days - back
    oldest = np.full(n, -1)
    np.maximum.at(oldest, product, age)
    exists = oldest >= 0
    onehot = np.zeros((n, len(AGE_BANDS_DAYS) + 1))
    onehot[np.arange(n), np.searchsorted(AGE_BANDS_DAYS, np.maximum(oldest, 0), side="right")] = 1.0
    recent = np.bincount(product, weights=(age >= 0) & (age < QUARTER_DAYS), minlength=n)
    buyers = np.bincount(product, weights=age >= 0, minlength=n)
    return np.column_stack([onehot, np.log1p(recent), np.log1p(buyers)]), exists


def adoption_rates(orders: pl.DataFrame, as_of: date, products: list[str]) -> np.ndarray | None:
    """Expected new buyers of each product over the quarter after ``as_of`` from orders dated <= ``as_of``
    (see the module docstring); None when the quarters before hold no new buyer to learn from."""
    first = orders.filter(pl.col("order_date") <= as_of, pl.col("product_id").is_in(products)).group_by(
        "customer_id", "product_id").agg((pl.lit(as_of) - pl.col("order_date").min()).dt.total_days().alias("days"))
    index = {p: i for i, p in enumerate(products)}
    product = np.array([index[p] for p in first["product_id"]], dtype=int)
    days = first["days"].to_numpy()
    xs, ys = [], []
    for k in range(1, ADOPTION_QUARTERS + 1):
        back = QUARTER_DAYS * k
        x, exists = _product_features(product, days, len(products), back)
        new = np.bincount(product, weights=(days >= back - QUARTER_DAYS) & (days < back), minlength=len(products))
        xs.append(x[exists])
        ys.append(new[exists])
    y = np.concatenate(ys)
    if not y.sum():
        return None
    coef = poisson_fit(np.vstack(xs), y, POISSON_ALPHA)
    return np.exp(_with_intercept(_product_features(product, days, len(products), 0)[0]) @ coef)


def _with_intercept(x: np.ndarray) -> np.ndarray:
    return np.column_stack([x, np.ones(len(x))])


def poisson_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Coefficients (intercept last) of a log-link Poisson regression minimising mean(exp(eta) - y eta) +
    alpha / 2 |coef|^2 (intercept unpenalised): scikit-learn's ``PoissonRegressor`` objective, solved by
    damped Newton steps in numpy. scikit-learn's solvers run their loss in OpenMP threads, which on a busy
    2-core machine took 1-2 s a partition instead of milliseconds."""
    a = _with_intercept(x)
    penalty = np.full(a.shape[1], alpha)
    penalty[-1] = 0.0
    coef = np.zeros(a.shape[1])
    coef[-1] = np.log(max(y.mean(), 1e-12))

    def objective(c: np.ndarray) -> float:
        eta = a @ c
        return float(np.mean(np.exp(eta) - y * eta) + 0.5 * penalty @ c**2)

    current = objective(coef)
    for _ in range(100):
        mu = np.exp(a @ coef)
        grad = a.T @ (mu - y) / len(y) + penalty * coef
        hess = (a * mu[:, None]).T @ a / len(y) + np.diag(penalty)
        step = np.linalg.solve(hess + 1e-12 * np.eye(len(coef)), grad)
        size = 1.0
        while size > 1e-6:
            trial = coef - size * step
            value = objective(trial)
            if value <= current:
                break
            size /= 2
        else:
            break
        coef, improved, current = trial, current - value, value
        if improved < 1e-15 and np.max(np.abs(size * step)) < 1e-9:
            break
    return coef


def adoption_scores(matrix: np.ndarray, orders: pl.DataFrame, as_of: date, products: list[str]) -> np.ndarray:
    knn = knn_scores(matrix)
    tie = knn / np.maximum(knn.max(axis=1, keepdims=True), 1e-12)  # in [0, 1] per customer
    rates = adoption_rates(orders, as_of, products)
    if rates is None:
        return knn
    return rates[None, :] * (1.0 + 1e-3 * tie)


def popularity_scores(matrix: np.ndarray) -> np.ndarray:
    buyers = (matrix > 0).sum(0).astype(float)
    return np.broadcast_to(buyers, matrix.shape).copy()


def top_n(scores: np.ndarray, bought: np.ndarray, n: int = TOP_N) -> np.ndarray:
    """Indices of the n best not-yet-bought products per row (stable order on ties)."""
    masked = np.where(bought, -np.inf, scores)
    order = np.argsort(-masked, axis=1, kind="stable")[:, :n]
    return np.where(np.take_along_axis(masked, order, 1) > -np.inf, order, -1)


def choose_method(pooled: dict) -> str:
    """The method that reached the most customers' hidden new products in ``pooled`` (``evaluate_pooled``
    as of the ranking month: leak-free), the served default ``SERVED`` on ties or without evidence.

    Adoption wins where new pairs come from products being taken up (the generated histories); where
    customers buy what similar customers buy (co-purchase), item-KNN finds more and is served instead."""
    hits = {name: pooled.get(f"customers_hit_{name}", 0) for name in METHODS}
    best = max(hits.values())
    return SERVED if hits[SERVED] == best else next(n for n, h in hits.items() if h == best)


def recommend(orders: pl.DataFrame, as_of: date, month: date, method: str | None = None) -> pl.DataFrame:
    """``month_start, customer_id, rank, product_id, score, method`` for every customer seen by ``as_of``,
    ranked by ``method`` (default ``SERVED``)."""
    method = method or SERVED
    matrix, customers, products = interactions(orders, as_of)
    if matrix.size == 0:
        return pl.DataFrame(schema={"month_start": pl.Date, "customer_id": pl.String, "rank": pl.Int64,
                                    "product_id": pl.String, "score": pl.Float64, "method": pl.String})
    scores = METHODS[method](matrix, orders, as_of, products)
    picks = top_n(scores, matrix > 0)
    rows = []
    for i, cust in enumerate(customers):
        for rank, j in enumerate(picks[i], start=1):
            if j >= 0:
                rows.append((month, cust, rank, products[j], float(scores[i, j]), method))
    return pl.DataFrame(rows, schema={"month_start": pl.Date, "customer_id": pl.String, "rank": pl.Int64,
                                      "product_id": pl.String, "score": pl.Float64, "method": pl.String},
                        orient="row")


EVAL_MONTHS = 12


def evaluate_pooled(orders: pl.DataFrame, month: date, months: int = EVAL_MONTHS, memo: dict | None = None) -> dict:
    """``evaluate`` for each of the ``months`` months ending with ``month``, pooled (a quarter rarely holds
    more than a handful of new customer x product pairs, too few to judge on one month). ``memo`` keeps each
    month's ``evaluate`` for later calls on the same ``orders``: a range of partitions pools overlapping
    months, so a year's backfill evaluated each month twelve times."""
    totals: dict = {"customers_evaluated": 0, "hidden_products": 0, "months": months}
    memo = {} if memo is None else memo
    for back in range(months):
        one_month = add_months(month, -back)
        if one_month not in memo:
            memo[one_month] = evaluate(orders, one_month)
        one = memo[one_month]
        for key, value in one.items():
            if key.startswith(("customers_", "hidden_", "found_")):
                totals[key] = totals.get(key, 0) + value
    for name in METHODS:
        if totals["customers_evaluated"]:
            totals[f"hit_rate_at_10_{name}"] = round(totals[f"customers_hit_{name}"] / totals["customers_evaluated"], 4)
            totals[f"recall_at_10_{name}"] = round(totals[f"found_{name}"] / totals["hidden_products"], 4)
    return totals


def evaluate(orders: pl.DataFrame, month: date) -> dict:
    """hit-rate@10 and recall@10 of every method in ``METHODS`` on each customer's hidden new products, with
    the counts behind them (``customers_hit_<method>``, ``found_<method>``)."""
    hide_from = add_months(month, 1 - HIDDEN_MONTHS)
    cut = date.fromordinal(hide_from.toordinal() - 1)
    matrix, customers, products = interactions(orders, cut)
    end = date.fromordinal(add_months(month, 1).toordinal() - 1)
    later = orders.filter(pl.col("order_date").is_between(hide_from, end)).select("customer_id", "product_id").unique()
    ci = {c: i for i, c in enumerate(customers)}
    pi = {p: i for i, p in enumerate(products)}
    hidden: dict[int, set[int]] = {}
    for cust, prod in later.rows():
        if cust in ci and prod in pi and matrix[ci[cust], pi[prod]] == 0:
            hidden.setdefault(ci[cust], set()).add(pi[prod])
    result: dict = {"customers_evaluated": len(hidden), "hidden_products": sum(len(v) for v in hidden.values())}
    if not hidden:
        return result
    bought = matrix > 0
    for name, scorer in METHODS.items():
        picks = top_n(scorer(matrix, orders, cut, products), bought)
        hits = [len(hidden[i] & set(picks[i].tolist())) for i in sorted(hidden)]
        result[f"customers_hit_{name}"] = sum(h > 0 for h in hits)
        result[f"found_{name}"] = sum(hits)
        result[f"hit_rate_at_10_{name}"] = round(result[f"customers_hit_{name}"] / len(hits), 4)
        result[f"recall_at_10_{name}"] = round(sum(hits) / result["hidden_products"], 4)
    return result


# the served method first, then the baselines it is judged against
METHODS = {"adoption": adoption_scores,
           "item_knn": lambda matrix, *_: knn_scores(matrix),
           "popularity": lambda matrix, *_: popularity_scores(matrix)}
SERVED = next(iter(METHODS))
