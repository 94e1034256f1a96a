"""recommend_bench on a tiny generated history: the asset's pooled evaluation, with the counts behind each rate."""

from datetime import date

from dsop_assets.customer import recommend
from dsop_jobs.demo_data.generator import generate
from dsop_jobs.tools import recommend_bench


def test_bench_reports_every_method_with_consistent_counts(tmp_path, capsys):
    generate(tmp_path / "erp", scale="tiny", seed=11, end_date=date(2025, 6, 29))
    result = recommend_bench.bench(str(tmp_path / "erp"))
    assert result["as_of"] == date(2025, 5, 1)  # the last complete month
    assert result["months"] == recommend.EVAL_MONTHS and result["customers_evaluated"] > 0
    for name in recommend.METHODS:
        hit, found = result[f"customers_hit_{name}"], result[f"found_{name}"]
        assert 0 <= hit <= result["customers_evaluated"] and hit <= found <= result["hidden_products"]
        assert result[f"hit_rate_at_10_{name}"] == round(hit / result["customers_evaluated"], 4)
    recommend_bench.main(str(tmp_path / "erp"), "2025-05-01")
    line = capsys.readouterr().out
    assert all(f"{name} hit-rate@10" in line for name in recommend.METHODS)
