"""Runs side by side in single-threaded worker processes give exactly the numbers of the same runs in order."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fashion_core import experiments
from fashion_core.data import splits
from fashion_core.metrics import evaluation
from fashion_core.data.synthfashion.writer import generate
from fashion_core.engine.parallel import JobError, run_jobs


def _square_or_fail(value: int) -> int:
    if value == 3:
        raise ValueError("three is not allowed")
    return value * value


def _thread_count(_: int) -> int:
    return torch.get_num_threads()


def test_results_come_back_in_job_order():
    jobs = [((value,), {}) for value in (5, 1, 4, 2)]
    assert run_jobs(_square_or_fail, jobs, ["a", "b", "c", "d"], processes=2, progress=False) == [25, 1, 16, 4]


def test_workers_are_single_threaded():
    assert run_jobs(_thread_count, [((0,), {}), ((1,), {})], ["a", "b"], processes=2, progress=False) == [1, 1]
    # A lone job too: its numbers must not depend on whether it had company.
    assert run_jobs(_thread_count, [((0,), {})], ["a"], processes=2, progress=False) == [1]


def test_a_failing_job_is_named_with_its_error():
    jobs = [((value,), {}) for value in (1, 3, 2)]
    with pytest.raises(JobError, match=r"squares: seed 3 failed in its worker process: ValueError: three is not"):
        run_jobs(_square_or_fail, jobs, ["seed 1", "seed 3", "seed 2"], processes=2, progress=False,
                 description="squares")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="processes must be at least 1"):
        run_jobs(_square_or_fail, [], [], processes=0)
    with pytest.raises(ValueError, match="2 jobs but 1 names"):
        run_jobs(_square_or_fail, [((1,), {}), ((2,), {})], ["a"], processes=2)


@pytest.fixture(scope="module")
def tiny_deepfashion(tmp_path_factory):
    root = tmp_path_factory.mktemp("parallel") / "synthfashion"
    generate(root, n_train=12, n_val=4, n_test=6, size=64, seed=5, formats=("deepfashion_c",), workers=1,
             progress=False)
    return splits.load_deepfashion_c(root / "deepfashion_c", 32, cache_images=True)


def _train(data, processes: int) -> experiments.ExperimentResults:
    settings = experiments.Settings(profile="parallel", dataset_label="x", backbone="vgg_mini", width=0.0625,
                                    input_size=32, pretrained=False, weights_path="", epochs=2, batch_size=4,
                                    optimizer="adam", lr=1e-3, lr_gamma=0.9, seeds=(0, 1), progress_bars=False,
                                    train_processes=processes)
    return experiments.run_variants(experiments.variants("fashionnet", ["full"]), settings, data.train, data.test,
                                    data.annotations.attribute_types,
                                    num_categories=len(data.annotations.category_names),
                                    evaluate=evaluation.validation_metrics, val_set=data.val)


def test_two_processes_reproduce_the_single_threaded_sequential_runs(tiny_deepfashion, tmp_path, monkeypatch):
    """The workers' numbers equal those of the same runs trained one after another with one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path / "sequential"))
        sequential = _train(tiny_deepfashion, processes=1)
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setenv("FASHION_WORKBOOK_ROOT", str(tmp_path / "parallel"))
    parallel = _train(tiny_deepfashion, processes=2)
    assert [(run.variant.key, run.seed) for run in parallel.runs] == [("fashionnet", 0), ("fashionnet", 1)]
    assert json.dumps(parallel.per_seed().to_dict(), sort_keys=True) == \
        json.dumps(sequential.per_seed().to_dict(), sort_keys=True)
    for mine, theirs in zip(parallel.runs, sequential.runs):
        np.testing.assert_array_equal(mine.predictions.landmarks, theirs.predictions.landmarks)
        assert mine.history["loss"].tolist() == theirs.history["loss"].tolist()
    # The seeds differ from each other, so the comparison above is not between two copies of one run.
    assert parallel.runs[0].metrics["ne_avg"] != parallel.runs[1].metrics["ne_avg"]
