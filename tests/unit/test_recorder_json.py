"""The recorder's meta encoder writes exactly what ``json.dumps(meta, default=str)`` writes."""
import json
import math
import random

from cts_desktop.store.recorder import _to_json


def test_flat_numbers_match_json_dumps():
    rng = random.Random(7)
    for _ in range(2000):
        meta = {"fast": rng.uniform(0, 1e6), "slow": rng.random() * 10 ** rng.randint(-12, 12),
                "n": rng.randint(-10**12, 10**12), "tiny": 5e-324, "neg": -0.0, "whole": 46382.0}
        assert _to_json(meta) == json.dumps(meta, default=str)


def test_everything_else_goes_through_json():
    metas = [{}, {"regime": "bull", "x": 1.5}, {"flag": True, "x": 1}, {"nan": math.nan}, {"inf": math.inf},
             {"é ünïcode\n\"q\"": 2.0}, {1: 2.0}, {"nested": {"a": [1, 2.5]}}, {"none": None},
             {"obj": object.__name__}, {"set": {1}}]
    for meta in metas:
        assert _to_json(meta) == json.dumps(meta, default=str)
