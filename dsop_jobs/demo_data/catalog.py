"""Master data: finished goods, materials (raw and in-house sub-assemblies), customers, suppliers, BOM.

Costs are rolled up through the BOM so that a finished good's cost, its materials' costs and its
price (cost x 1.2-1.8) hang together; lot sizes and capacities are set later from simulated flows.
"""

from __future__ import annotations

import numpy as np

# group: ko name, unit, pack (units per order pack), packs per order, cycle beta, USD share, hours/unit,
# sub-assembly kind (or None), raw kinds with qty_per ranges, customer lead-time range in days
FG_GROUPS = {
    "CMP slurry": ("CMP 슬러리", "L", 20, 3.0, 1.0, 0.15, 0.004, "Slurry concentrate",
                   {"Abrasive": (0.1, 0.25), "Additive chemical": (0.01, 0.03), "Packaging drum": (0.05, 0.05)}, (7, 28)),
    "Probe card": ("프로브카드", "EA", 1, 0.3, 1.4, 0.3, 40.0, "Probe head assembly",
                   {"Printed circuit board": (1, 1), "Ceramic substrate": (1, 1), "Probe pin": (200, 800)}, (30, 60)),
    "Photoresist": ("포토레지스트", "L", 4, 2.0, 1.1, 0.1, 0.05, None,
                    {"Polymer resin": (0.1, 0.2), "Photoactive compound": (0.02, 0.04), "Solvent": (0.7, 0.85),
                     "Packaging bottle": (0.25, 0.25)}, (14, 45)),
    "Quartz ring": ("쿼츠링", "EA", 2, 1.5, 0.9, 0.2, 2.0, "Quartz blank", {"Quartz ingot": (0.5, 1.5)}, (14, 42)),
    "Sputtering target": ("스퍼터링 타겟", "EA", 1, 0.5, 1.0, 0.25, 6.0, "Backing plate assembly",
                          {"Metal ingot": (5, 30), "Bonding material": (0.1, 0.3)}, (21, 60)),
    "Test socket": ("테스트 소켓", "EA", 10, 3.0, 1.3, 0.35, 0.5, "Socket pin module",
                    {"Housing resin": (0.03, 0.08)}, (14, 45)),
    "Wet chemicals": ("습식 케미컬", "L", 200, 1.5, 0.7, 0.05, 0.001, None,
                      {"High-purity acid": (0.95, 1.0), "Packaging drum": (0.005, 0.005)}, (7, 21)),
    "ALD precursor": ("ALD 전구체", "KG", 5, 1.0, 1.1, 0.2, 0.2, None,
                      {"Precursor chemical": (1.05, 1.15), "Solvent": (0.1, 0.3), "Packaging canister": (0.2, 0.2)}, (14, 45)),
    "Silicon electrode": ("실리콘 전극", "EA", 2, 1.5, 0.9, 0.2, 3.0, None,
                          {"Silicon ingot": (2, 6), "Bonding material": (0.05, 0.1)}, (21, 56)),
}
# sub-assembly kind: ko name, unit, raw kinds with qty_per ranges
SUB_KINDS = {
    "Slurry concentrate": ("슬러리 원액", "L", {"Abrasive": (0.4, 0.6), "Additive chemical": (0.03, 0.06)}),
    "Probe head assembly": ("프로브 헤드 조립품", "EA", {"Probe pin": (1000, 4000), "Ceramic substrate": (1, 1)}),
    "Quartz blank": ("쿼츠 블랭크", "EA", {"Quartz ingot": (1.5, 3.0)}),
    "Backing plate assembly": ("백킹플레이트 조립품", "EA", {"Metal ingot": (2, 6), "Bonding material": (0.1, 0.2)}),
    "Socket pin module": ("소켓 핀 모듈", "EA", {"Pogo pin": (50, 300), "Housing resin": (0.01, 0.03)}),
}
# raw kind: ko name, unit, KRW cost range, copper sensitivity
RAW_KINDS = {
    "Abrasive": ("연마제", "KG", (30e3, 80e3), 0.0), "Additive chemical": ("첨가제", "KG", (100e3, 300e3), 0.0),
    "Packaging drum": ("포장 드럼", "EA", (15e3, 40e3), 0.0), "Printed circuit board": ("인쇄회로기판", "EA", (1.5e6, 4e6), 0.3),
    "Ceramic substrate": ("세라믹 기판", "EA", (1e6, 5e6), 0.0), "Probe pin": ("프로브 핀", "EA", (150, 600), 0.4),
    "Polymer resin": ("폴리머 레진", "KG", (200e3, 600e3), 0.0), "Photoactive compound": ("감광제", "KG", (1e6, 3e6), 0.0),
    "Solvent": ("용제", "L", (5e3, 12e3), 0.0), "Packaging bottle": ("포장 용기", "EA", (3e3, 8e3), 0.0),
    "Quartz ingot": ("쿼츠 잉곳", "KG", (100e3, 250e3), 0.0), "Metal ingot": ("금속 잉곳", "KG", (40e3, 400e3), 0.8),
    "Bonding material": ("본딩 소재", "KG", (150e3, 500e3), 0.5), "Housing resin": ("하우징 수지", "KG", (30e3, 90e3), 0.0),
    "Pogo pin": ("포고 핀", "EA", (200, 700), 0.5), "High-purity acid": ("고순도 산", "L", (1e3, 2.5e3), 0.0),
    "Precursor chemical": ("전구체 원료", "KG", (200e3, 600e3), 0.0), "Packaging canister": ("포장 캐니스터", "EA", (100e3, 300e3), 0.0),
    "Silicon ingot": ("실리콘 잉곳", "KG", (80e3, 200e3), 0.0),
}
REF_FX = {"KRW": 1.0, "USD": 1330.0, "JPY": 9.2, "EUR": 1450.0, "CNY": 185.0}
SUP_COUNTRY = (("KR", "KRW", 0.6), ("JP", "JPY", 0.22), ("US", "USD", 0.12), ("DE", "EUR", 0.06))
CUST_COUNTRY = (("KR", 0.55), ("TW", 0.12), ("CN", 0.12), ("US", 0.1), ("SG", 0.06), ("JP", 0.05))
SEGMENTS = ("memory fab", "foundry", "OSAT", "logic IDM", "display")
NAME_A = ("Hanbit", "Daesung", "Mirae", "Nuri", "Seohae", "Hyundo", "Samjin", "Kumho", "Dongbang", "Saebyeol",
          "Pacific", "Formosa", "Lion City", "Austin", "Shenzhen", "Kyushu", "Hwaseong", "Yongin", "Cheonan", "Giheung")
NAME_A_KO = ("한빛", "대성", "미래", "누리", "서해", "현도", "삼진", "금호", "동방", "새별",
             "퍼시픽", "포모사", "라이언시티", "오스틴", "선전", "규슈", "화성", "용인", "천안", "기흥")
NAME_B = ("Semiconductor", "Electronics", "Microdevices", "Foundry", "Tech", "Memory", "Materials", "Chemical")
NAME_B_KO = ("반도체", "전자", "마이크로", "파운드리", "테크", "메모리", "소재", "화학")


FOREIGN = np.arange(10, 16)  # NAME_A entries that read as non-Korean places
DOMESTIC = np.setdiff1d(np.arange(len(NAME_A)), FOREIGN)


def _names(rng, country: np.ndarray, ko: bool, extra: str) -> list[str]:
    a, b = (NAME_A_KO, NAME_B_KO) if ko else (NAME_A, NAME_B)
    n = len(country)
    ia = np.where(country == "KR", rng.choice(DOMESTIC, n), rng.choice(FOREIGN, n))
    ib = rng.integers(0, len(b), n)
    seen: dict[str, int] = {}
    out = []
    for i in range(n):
        base = f"{a[ia[i]]}{'' if ko else ' '}{b[ib[i]]}"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base} {extra}{seen[base]}")
    return out


def build_parties(rng: np.random.Generator, n_cust: int, n_sup: int) -> dict:
    """Customers (with Pareto weights) and suppliers (with lead-time behaviour)."""
    ccode = [c for c, _ in CUST_COUNTRY]
    cust_country = rng.choice(ccode, n_cust, p=[p for _, p in CUST_COUNTRY])
    weight = np.exp(rng.normal(0, 1.55, n_cust))
    seeds = rng.integers(0, 2**31, 2)
    cust = {
        "customer_id": [f"C{i + 1:04d}" for i in range(n_cust)],
        "name_en": _names(np.random.default_rng(seeds[0]), cust_country, False, "#"),
        "name_ko": _names(np.random.default_rng(seeds[0]), cust_country, True, "#"),
        "country": cust_country,
        "segment": rng.choice(SEGMENTS, n_cust, p=[0.35, 0.25, 0.2, 0.12, 0.08]),
        "weight": weight,
        "growth": rng.normal(0.04, 0.1, n_cust),
        "qe_push": rng.random(n_cust) < 0.4,
        "discount": np.clip(1.0 - 0.03 * np.log1p(weight) - rng.uniform(0, 0.05, n_cust), 0.82, 1.0),
    }
    sidx = rng.choice(len(SUP_COUNTRY), n_sup, p=[p for *_, p in SUP_COUNTRY])
    sidx[: min(n_sup, len(SUP_COUNTRY))] = np.arange(min(n_sup, len(SUP_COUNTRY)))
    sup_country = np.array([SUP_COUNTRY[i][0] for i in sidx])
    local = sup_country == "KR"
    median_lt = np.where(local, rng.uniform(10, 30, n_sup), rng.uniform(25, 60, n_sup))
    sigma = rng.uniform(0.15, 0.4, n_sup)
    on_time = rng.uniform(0.6, 0.95, n_sup)
    from statistics import NormalDist

    z = np.array([NormalDist().inv_cdf(p) for p in on_time])
    sup = {
        "supplier_id": [f"S{i + 1:03d}" for i in range(n_sup)],
        "name_en": [f"{n} Co." for n in _names(np.random.default_rng(seeds[1]), sup_country, False, "#")],
        "name_ko": [f"{n}(주)" for n in _names(np.random.default_rng(seeds[1]), sup_country, True, "#")],
        "country": sup_country,
        "currency": np.array([SUP_COUNTRY[i][1] for i in sidx]),
        "median_lt": median_lt,
        "sigma": sigma,
        "quoted_lt": np.round(median_lt * np.exp(sigma * z)),
    }
    return {"customers": cust, "suppliers": sup}
