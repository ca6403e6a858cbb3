"""The search space: NAME=SPEC parsing, grid order, seeded random points, and the messages for
bad input (each names the parameter)."""
import pytest

from cts_desktop.services.backtests import BacktestInputError
from cts_desktop.services.research_space import parse_space


def test_grid_in_declaration_order_with_fixed_values():
    s = parse_space("ma_cross", ["fast=5:15:5", "ma_type=sma,ema", "size=0.5"])
    assert s.fixed == {"size": 0.5}
    assert s.grid_size() == 6
    assert s.grid() == [{"fast": f, "ma_type": m} for f in (5, 10, 15) for m in ("sma", "ema")]


def test_float_range_with_step_and_random_points_are_seeded():
    s = parse_space("ma_cross", ["stop_loss=0:1:0.25", "fast=2:9"])
    assert s.dims[0].grid() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert s.dims[1].grid() == list(range(2, 10))
    assert s.random(20, 1) == s.random(20, 1) != s.random(20, 2)
    assert all(p["stop_loss"] in (0.0, 0.25, 0.5, 0.75, 1.0) and 2 <= p["fast"] <= 9 for p in s.random(50, 4))


@pytest.mark.parametrize("spec, message", [
    ("fast=50:5", "param fast: min 50 > max 5"),
    ("nope=1:2", "param nope: unknown parameter of ma_cross"),
    ("fast=0:5", "param fast: must be >= 1"),
    ("slow=20:30:0", "param slow: the step must be > 0"),
    ("slow=20:30:1.5", "param slow: the step must be a whole number"),
    ("ma_type=,", "param ma_type: the list ',' gives no values"),
    ("ma_type=sma,wma", "param ma_type: must be one of sma, ema"),
    ("fast", "space: expected NAME=SPEC"),
])
def test_bad_specs_name_the_parameter(spec, message):
    with pytest.raises(BacktestInputError) as e:
        parse_space("ma_cross", [spec, "slow=40:60:10"])
    assert str(e.value).startswith(message)


def test_a_grid_needs_a_step_and_something_must_vary():
    with pytest.raises(BacktestInputError, match="param size: a grid needs a step"):
        parse_space("ma_cross", ["size=0.1:0.5"]).grid()
    assert parse_space("ma_cross", ["size=0.1:0.5"]).random(3, 0)  # random search is fine without one
    with pytest.raises(BacktestInputError, match="space: nothing varies"):
        parse_space("ma_cross", ["fast=5"])
    with pytest.raises(KeyError, match="unknown strategy"):
        parse_space("nope", ["fast=5:6"])


def test_window_lengths_candle_arrays_and_chunks():
    from cts_desktop.services.research_data import DataSpec, from_array, slice_series, to_arrays
    from cts_desktop.services.research_exec import chunks
    from cts_desktop.services.walkforward import parse_span

    assert parse_span("14d", 60_000, "in_sample") == 14 * 86_400_000
    assert parse_span("36h", 60_000, "in_sample") == 36 * 3_600_000
    assert parse_span("500", 60_000, "in_sample") == 500 * 60_000  # candles
    for bad in ("0d", "1y", "-3", ""):
        with pytest.raises(BacktestInputError, match="^out_of_sample: expected a length"):
            parse_span(bad, 60_000, "out_of_sample")
    # candles survive the trip through the shared float64 arrays exactly, timestamps as int
    candles = [(1_640_995_200_000 + i * 60_000, 46000.5 + i, 46010.25, 45990.0, 46001.125, 0.1 * i) for i in range(5)]
    back = from_array(to_arrays({"BTC/USD": candles})["BTC/USD"])
    assert back == candles and all(type(c[0]) is int for c in back)
    assert slice_series({"BTC/USD": candles}, candles[1][0], candles[3][0]) == {"BTC/USD": candles[1:3]}
    assert slice_series({"BTC/USD": candles}, candles[4][0] + 1, None) == {}
    spec = DataSpec(dataset="x", symbols=("A/B",), start_ms=5)
    assert DataSpec.from_json(spec.to_json()) == spec
    items = [(i, {}) for i in range(100)]
    assert [len(c) for c in chunks(items, 2)] == [13] * 7 + [9]
    assert sum(chunks(items, 32), []) == items and max(len(c) for c in chunks(items, 1)) == 16
