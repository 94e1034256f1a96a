"""Items (finished goods, in-house sub-assemblies, raw materials), lines and the multi-level BOM."""

from __future__ import annotations

import numpy as np

from .catalog import FG_GROUPS, RAW_KINDS, REF_FX, SUB_KINDS

GROUP_WEIGHT = (1.5, 1.0, 1.2, 1.0, 0.8, 1.0, 0.8, 0.8, 0.7)
PREFIX = ("SL", "PC", "PR", "QR", "ST", "TS", "WC", "AP", "SE")


def _sig(x, digits=4):
    """Round to a few significant digits so written BOM quantities are the ones simulated."""
    x = np.asarray(x, dtype=float)
    mag = np.floor(np.log10(np.maximum(np.abs(x), 1e-12)))
    return np.round(x / 10**mag, digits - 1) * 10**mag


def _assign(rng, kinds: list[str], n: int, weights=None) -> np.ndarray:
    """Every kind at least once, the rest drawn; so small scales still cover every recipe."""
    k = len(kinds)
    p = None if weights is None else np.asarray(weights) / np.sum(weights)
    rest = rng.choice(k, max(0, n - k), p=p)
    return np.concatenate([np.arange(min(k, n)), rest]).astype(int)


def build_items(rng: np.random.Generator, n_fg: int, n_mat: int, n_lines: int, sup: dict, weeks: tuple[int, int]) -> dict:
    groups = list(FG_GROUPS)[: min(len(FG_GROUPS), max(3, n_fg // 4))]
    fg_group = _assign(rng, groups, n_fg, GROUP_WEIGHT[: len(groups)])
    subs_needed = sorted({FG_GROUPS[g][7] for g in groups if FG_GROUPS[g][7]})
    raws_needed = sorted({k for g in groups for k in FG_GROUPS[g][8]} | {k for s in subs_needed for k in SUB_KINDS[s][2]})
    n_sub = max(len(subs_needed), round(0.1 * n_mat))
    n_raw = max(len(raws_needed), n_mat - n_sub)
    sub_kind = _assign(rng, subs_needed, n_sub)
    raw_kind = _assign(rng, raws_needed, n_raw)
    n = n_fg + n_sub + n_raw
    it = {k: np.empty(n, dtype=object) for k in ("product_id", "name_en", "name_ko", "group_en", "group_ko", "unit", "currency")}
    num = {k: np.zeros(n) for k in ("cost_krw", "cost", "price", "hours", "setup_cost", "ordering_cost", "holding", "pack",
                                    "packs_per_order", "beta", "usd", "copper", "lead_lo", "lead_hi")}
    it.update(num)
    it["type"] = np.array(["finished_good"] * n_fg + ["material"] * (n_sub + n_raw), dtype=object)
    it["line"] = np.full(n, -1)
    it["supplier"] = np.full(n, -1)
    it["supplier2"] = np.full(n, -1)
    it["group_idx"] = np.full(n, -1)
    it["launch_w"] = np.zeros(n, dtype=int)
    it["eol_w"] = np.full(n, 10**6, dtype=int)

    # raw materials
    ns = len(sup["supplier_id"])
    r0 = n_fg + n_sub
    for j in range(n_raw):
        i, kind = r0 + j, raws_needed[raw_kind[j]]
        ko, unit, (lo, hi), cu = RAW_KINDS[kind]
        s = int(rng.integers(ns))
        cur = sup["currency"][s]
        same = np.flatnonzero((sup["currency"] == cur) & (np.arange(ns) != s))
        it["supplier"][i] = s
        it["supplier2"][i] = int(rng.choice(same)) if len(same) and rng.random() < 0.2 else -1
        it["product_id"][i] = f"RM{30001 + j}"
        it["name_en"][i], it["name_ko"][i] = f"{kind} R{j + 1:04d}", f"{ko} R{j + 1:04d}"
        it["group_en"][i], it["group_ko"][i] = f"Raw: {kind}", f"원자재: {ko}"
        it["unit"][i], it["currency"][i], it["copper"][i] = unit, cur, cu
        it["cost_krw"][i] = _sig(rng.uniform(lo, hi), 3)
        it["ordering_cost"][i] = round(rng.uniform(30e3, 150e3), -3)
    by_raw = {k: r0 + np.flatnonzero(raw_kind == ri) for ri, k in enumerate(raws_needed)}
    bom: list[tuple[int, int, float, float]] = []

    def components(parent: int, recipe: dict) -> float:
        total = 0.0
        for kind, (lo, hi) in recipe.items():
            picks = rng.choice(by_raw[kind], 1 + (rng.random() < 0.25 and len(by_raw[kind]) > 1), replace=False)
            for c in picks:
                q = float(_sig(rng.uniform(lo, hi) / len(picks)))
                scrap = round(float(rng.uniform(0, 0.04)), 3)
                bom.append((parent, int(c), q, scrap))
                total += q * it["cost_krw"][c] / (1 - scrap)
        return total

    # lines: each line serves one group; groups beyond the line count share lines
    line_group = [groups[i % len(groups)] for i in range(n_lines)]
    lines_of = {g: [li for li, lg in enumerate(line_group) if lg == g] or [groups.index(g) % n_lines] for g in groups}
    # sub-assemblies, made in-house on their group's line
    sub_group = {FG_GROUPS[g][7]: g for g in groups if FG_GROUPS[g][7]}
    for j in range(n_sub):
        i, kind = n_fg + j, subs_needed[sub_kind[j]]
        ko, unit, recipe = SUB_KINDS[kind]
        g = sub_group[kind]
        it["product_id"][i] = f"SA{20001 + j}"
        it["name_en"][i], it["name_ko"][i] = f"{kind} A{j + 1:03d}", f"{ko} A{j + 1:03d}"
        it["group_en"][i], it["group_ko"][i] = f"Sub-assembly: {kind}", f"반제품: {ko}"
        it["unit"][i], it["currency"][i] = unit, "KRW"
        it["line"][i] = int(rng.choice(lines_of[g]))
        it["hours"][i] = FG_GROUPS[g][6] * rng.uniform(0.3, 0.6)
        it["setup_cost"][i] = round(rng.uniform(80e3, 400e3), -3)
        it["cost_krw"][i] = components(i, recipe) * rng.uniform(1.15, 1.4)
    by_sub = {k: n_fg + np.flatnonzero(sub_kind == si) for si, k in enumerate(subs_needed)}

    for i in range(n_fg):
        gi = fg_group[i]
        g = groups[gi]
        ko, unit, pack, ppo, beta, usd, hours, sub, recipe, lead = FG_GROUPS[g]
        cost = components(i, recipe)
        if sub:
            c = int(rng.choice(by_sub[sub]))
            q = float(_sig(rng.uniform(0.25, 0.4))) if unit == "L" else 1.0
            bom.append((i, c, q, round(float(rng.uniform(0, 0.02)), 3)))
            cost += q * it["cost_krw"][c]
        it["product_id"][i] = f"FG{10001 + i}"
        it["name_en"][i], it["name_ko"][i] = f"{g} {PREFIX[gi]}-{101 + i}", f"{ko} {PREFIX[gi]}-{101 + i}"
        it["group_en"][i], it["group_ko"][i], it["unit"][i] = g, ko, unit
        it["group_idx"][i], it["pack"][i], it["beta"][i] = gi, pack, beta * rng.uniform(0.7, 1.3)
        it["packs_per_order"][i] = ppo * np.exp(rng.normal(0, 0.4))
        it["lead_lo"][i], it["lead_hi"][i] = lead
        it["usd"][i] = rng.random() < usd
        it["currency"][i] = "USD" if it["usd"][i] else "KRW"
        it["line"][i] = int(rng.choice(lines_of[g]))
        it["hours"][i] = hours * rng.uniform(0.7, 1.4)
        it["setup_cost"][i] = round(rng.uniform(100e3, 800e3), -3)
        it["cost_krw"][i] = cost * rng.uniform(1.25, 1.6)
        it["price"][i] = it["cost_krw"][i] * rng.uniform(1.2, 1.8)

    it["holding"] = np.round(rng.uniform(0.18, 0.32, n), 2)
    fx = np.array([REF_FX[c] for c in it["currency"]])
    it["cost"] = np.where(it["currency"] == "KRW", np.round(it["cost_krw"]), np.round(it["cost_krw"] / fx, 2))
    it["price"] = np.where(it["currency"] == "KRW", np.round(it["price"]), np.round(it["price"] / fx, 2))
    _lifecycle(rng, it, n_fg, weeks)
    b = np.array(bom, dtype=float)
    it["bom"] = {"parent": b[:, 0].astype(int), "comp": b[:, 1].astype(int), "qty": b[:, 2], "scrap": b[:, 3]}
    it["n_fg"], it["n_sub"], it["n_raw"] = n_fg, n_sub, n_raw
    it["lines"] = {"group_en": line_group, "group_ko": [FG_GROUPS[g][0] for g in line_group]}
    return it


def _lifecycle(rng, it: dict, n_fg: int, weeks: tuple[int, int]) -> None:
    """A share of products launch or reach end of life inside the history (sim week indices)."""
    first, last = weeks
    order = rng.permutation(n_fg)
    n_launch, n_eol = max(1, round(0.15 * n_fg)), max(1, round(0.1 * n_fg))
    it["launch_w"][:n_fg] = -rng.integers(52, 400, n_fg)
    for i in order[:n_launch]:
        it["launch_w"][i] = rng.integers(first + 8, last - 20)
    for i in order[n_launch : n_launch + n_eol]:
        it["eol_w"][i] = rng.integers(first + 30, last - 6)
