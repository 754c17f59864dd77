"""DAFE's tables: which headers are the paper's, which rows are the workbook's own, and the DeepFashion2 number."""
from __future__ import annotations

import pytest

from fashion_core import experiments
from fashion_core.experiments.variants import WORKBOOK_OWN_ROW
from fashion_core.reporting import tables
from fashion_core.reporting.reference import DEEPFASHION2_NOTE

# Rows whose method Chen et al.'s Tables 1-2 print ("Ours" and FashionNet[12]); every other row is the workbook's.
PAPER_PRINTED = {"full", "fashionnet"}


def _metrics_file(names: dict[str, str]) -> dict:
    """A dafe metrics file with every VARIANTS["dafe"] row on both benchmarks, recorded under `names`."""
    rows, benchmarks = {}, {}
    for benchmark, suffix in experiments.BENCHMARK_SUFFIXES.items():
        keys = []
        for row_key, variant in experiments.VARIANTS["dafe"].items():
            key = f"{variant.key}_{suffix}"
            rows[key] = {"name": names.get(row_key, variant.name), "model": variant.model,
                         "model_kwargs": variant.model_kwargs, "seeds": [0, 1],
                         "mean": {"ne_avg": 0.05}, "std": {"ne_avg": 0.001}}
            keys.append(key)
        benchmarks[benchmark] = {"rows": keys, "baselines": {"mean_shape": {"ne_avg": 0.12}}, "quality": []}
    return {"dataset_label": "SynthFashion", "profile": "smoke", "rows": rows, "benchmarks": benchmarks}


@pytest.mark.parametrize("benchmark", list(experiments.BENCHMARK_SUFFIXES))
def test_workbook_own_rows_are_labelled_in_the_table_header(benchmark):
    # Names recorded by an older run, without the label: the headers still carry it.
    old_names = {"no_sau": "DAFE without SAU", "no_cas": "DAFE without CAS", "fpn": "plain FPN decoder",
                 "liu2018": "Liu & Lu (landmark branch)", "fpm": "FPM (8 landmarks)"}
    table = tables.dafe_ne_table(_metrics_file(old_names), benchmark)
    reproduced = [header for header in table.columns if "[reproduced" in header]
    assert len(reproduced) == len(experiments.VARIANTS["dafe"])
    for row_key, variant in experiments.VARIANTS["dafe"].items():
        (header,) = [header for header in reproduced if header.startswith(f"{variant.name} [")]
        assert (WORKBOOK_OWN_ROW in header) == (row_key not in PAPER_PRINTED), header
    assert f"DAFE [paper · {benchmark}]" in table.columns and f"FashionNet [paper · {benchmark}]" in table.columns
    assert not any(WORKBOOK_OWN_ROW in header for header in table.columns if "[paper" in header)


def test_the_liu_lu_paper_column_names_its_readme():
    table = tables.dafe_ne_table(_metrics_file({}), "DeepFashion-C")
    (liu_lu,) = [header for header in table.columns if header.startswith("Liu & Lu 2018 [")]
    assert liu_lu == "Liu & Lu 2018 [Liu & Lu README · DeepFashion-C · not in the DAFE paper]"
    assert table.loc["Avg", liu_lu] == "0.0474"
    sources = tables.dafe_sources_table()
    assert set(sources["column"]) >= {liu_lu, "DAFE [paper · FLD]"}
    assert sources.set_index("column").loc[liu_lu, "source"].startswith("Liu & Lu 2018")


def test_unknown_row_keys_keep_their_recorded_name():
    assert tables.dafe_row_name("dafe_no_sau_fld", "x") == experiments.VARIANTS["dafe"]["no_sau"].name
    assert tables.dafe_row_name("dafe_fld", "x") == "DAFE"
    assert tables.dafe_row_name("something_else_fld", "recorded") == "recorded"


def test_deepfashion2_number_is_shown_with_its_note():
    frame = tables.dafe_deepfashion2_frame()
    assert frame.loc[0, "landmark AP"] == "54.9%"
    assert frame.loc[0, "note"] == DEEPFASHION2_NOTE and "DeepFashion2" in frame.loc[0, "column"]
