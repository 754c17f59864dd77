"""SynthFashion output is pinned: two small trees must hash exactly as recorded.

synthfashion_sha256.json holds, per configuration, the sha256 of every file the generator writes.
Any change to the order of random draws or to a floating-point expression of the geometry,
scene or rasteriser shows up here as a differing image or list file.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fashion_core.data.synthfashion import writer as S

RECORDED = json.loads((Path(__file__).with_name("synthfashion_sha256.json")).read_text(encoding="ascii"))
CONFIGS = {
    "hard": dict(n_train=40, n_val=10, n_test=10, size=96, seed=3,
                 knobs=S.SynthKnobs(occlusion_rate=0.6, truncation_rate=0.5)),
    "cluttered": dict(n_train=30, n_val=8, n_test=8, size=128, seed=11,
                      knobs=S.SynthKnobs(clutter=1.0, pose_range=1.0, texture_contrast=1.0, scale_range=(0.3, 1.0))),
}


def tree_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_generated_tree_matches_recorded_hashes(tmp_path, name):
    config = CONFIGS[name]
    root = tmp_path / name
    S.generate(root, config["n_train"], config["n_val"], config["n_test"], size=config["size"],
               seed=config["seed"], knobs=config["knobs"], workers=1, progress=False)
    actual, expected = tree_hashes(root), RECORDED[name]
    assert sorted(actual) == sorted(expected), (
        f"{name}: file lists differ; missing {sorted(set(expected) - set(actual))[:5]}, "
        f"unexpected {sorted(set(actual) - set(expected))[:5]}")
    differing = [path for path in sorted(expected) if actual[path] != expected[path]]
    assert not differing, f"{name}: {len(differing)} files differ, first {differing[0]}"
