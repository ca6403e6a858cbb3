"""What the optimise window shows, computed by the services: suggested ranges inside the declared
bounds, the NAME=SPEC texts a form gives (checked by parse_space), the heatmap's best value per
cell, and a study's best applied to a connection's strategy (refused while its engine runs)."""
import pytest

from cts_desktop.engine.strategies.base import ParamError
from cts_desktop.services import connections
from cts_desktop.services.backtests import BacktestInputError
from cts_desktop.services.connection_rules import RuleError
from cts_desktop.services.research_space import parse_space
from cts_desktop.services.research_view import RangeRow, form_state, heatmap, objectives, space_specs, suggestions
from cts_desktop.store.settings import BUILTIN_PAPER_NAME, SettingsStore
from cts_desktop.store.studies import TrialRow


def test_objectives_have_labels_and_directions():
    names = [o[0] for o in objectives()]
    assert names[0] == "sharpe" and "max_drawdown" in names
    assert dict((o[0], o[2]) for o in objectives())["max_drawdown"] == "minimize"


def test_suggested_ranges_parse_and_stay_in_bounds():
    rows = {r.name: r for r in suggestions("ma_cross")}
    assert rows["fast"] == RangeRow("fast", "number", "5", "20", "3")
    assert rows["ma_type"].kind == "list" and rows["allow_short"].choices == "false,true"
    varied = [RangeRow(r.name, r.kind, r.low, r.high, r.step, r.choices, vary=True) for r in rows.values()]
    space = parse_space("ma_cross", space_specs(varied, {}))  # every suggestion is accepted as is
    assert [d.name for d in space.dims] == list(rows)
    assert space.grid_size() > 1


def test_space_specs_fix_the_unticked_and_name_the_empty():
    rows = [RangeRow("fast", "number", "4", "8", "4", vary=True), RangeRow("slow", "number", "20", "40", "20"),
            RangeRow("allow_short", "list", choices="false,true")]
    assert space_specs(rows, {"slow": 30, "allow_short": True}) == ["fast=4:8:4", "slow=30", "allow_short=true"]
    with pytest.raises(BacktestInputError) as e:
        space_specs([RangeRow("fast", "number", "", "8", "", vary=True)], {})
    assert e.value.field == "param fast" and "min and a max" in str(e.value)


def test_heatmap_keeps_the_best_value_per_cell_and_skips_infeasible():
    t = [TrialRow(0, {"a": 1, "b": "x", "c": 1}, "ok", 0.5), TrialRow(1, {"a": 1, "b": "x", "c": 2}, "ok", 0.9),
         TrialRow(2, {"a": 2, "b": "x", "c": 1}, "infeasible", None, "too few"),
         TrialRow(3, {"a": 2, "b": "y", "c": 1}, "ok", -0.2)]
    hm = heatmap(t, "a", "b")
    assert hm.xs == [1, 2] and hm.ys == ["x", "y"]
    assert hm.cells == [[0.9, None], [None, -0.2]] and hm.best == 0.9
    assert heatmap(t, "a", "b", "minimize").cells == [[0.5, None], [None, -0.2]]


def test_apply_strategy_to_a_connection(tmp_path):
    settings = SettingsStore(tmp_path).load()
    new = connections.apply_strategy(settings, BUILTIN_PAPER_NAME, "ma_cross", {"fast": 8, "slow": 40})
    again = SettingsStore(tmp_path).load().connections[BUILTIN_PAPER_NAME]
    assert again.strategy_params["fast"] == 8 and again.strategy_params == new.strategy_params
    with pytest.raises(RuleError, match="stop the engine"):
        connections.apply_strategy(settings, BUILTIN_PAPER_NAME, "ma_cross", {"fast": 9}, "running")
    with pytest.raises(ParamError):
        connections.apply_strategy(settings, BUILTIN_PAPER_NAME, "ma_cross", {"fast": 50, "slow": 40})
    assert SettingsStore(tmp_path).load().connections[BUILTIN_PAPER_NAME].strategy_params["fast"] == 8


def test_form_state_reads_a_stored_space_back_into_the_form_rows():
    specs = ["fast=4:8:4", "slow=20:40", "ma_type=sma,ema", "allow_short=false", "size=0.25", "gone=3"]
    state = form_state("ma_cross", specs)
    rows = {r.name: r for r in state.rows}
    assert [r.name for r in state.rows] == [r.name for r in suggestions("ma_cross")]
    assert (rows["fast"].vary, rows["fast"].low, rows["fast"].high, rows["fast"].step) == (True, "4", "8", "4")
    assert (rows["slow"].vary, rows["slow"].step) == (True, "")
    assert (rows["ma_type"].vary, rows["ma_type"].choices) == (True, "sma,ema")
    assert not rows["take_profit"].vary
    # fixed values typed as the strategy declares them ("false" is False, not a true string)
    assert state.fixed == {"allow_short": False, "size": 0.25}
    # and the form's rows give the same space again
    assert sorted(space_specs(state.rows, state.fixed)) == sorted(s for s in specs if not s.startswith("gone"))
