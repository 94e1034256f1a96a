from dsop_jobs.tools.forecast_ablation import dropped

COLUMNS = ["lag_1", "ext_sox_g1m", "ext_sox_g3m", "ext_pmi", "ext_pmi_g3m", "ext_usdkrw", "ext_usdkrw_g1m"]


def test_variants_drop_exactly_their_external_columns():
    assert dropped(COLUMNS, "all") == []
    assert dropped(COLUMNS, "none") == COLUMNS[1:]
    assert dropped(COLUMNS, "pmi") == ["ext_pmi", "ext_pmi_g3m"]
    assert dropped(COLUMNS, "sox,usdkrw") == ["ext_sox_g1m", "ext_sox_g3m", "ext_usdkrw", "ext_usdkrw_g1m"]
