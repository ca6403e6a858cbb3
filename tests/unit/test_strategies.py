"""The built-in strategies, driven with the real recorded candles the app ships in resources/data."""
from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path

import pytest

from cts_desktop.core.models import BUY, LONG, SELL, SHORT, Position
from cts_desktop.core.unlocks import CalendarError, UnlockEvent, load_unlock_calendar, parse_time
from cts_desktop.engine.strategies import REGISTRY, ParamError
from cts_desktop.engine.strategies.regime import REGIMES, RegimeTrend, parse_regimes
from cts_desktop.engine.strategies.rsi import RSIMeanReversion
from cts_desktop.engine.strategies.token_unlock import TokenUnlockFrontRun, timing_factor, unlock_confidence
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CALENDAR = ROOT / "resources" / "calendars" / "example_unlocks.csv"
BITTREX = {"ETH/BTC": "BITTREX_ETH-BTC_5m_2018-01.csv", "LTC/BTC": "BITTREX_LTC-BTC_5m_2018-01.csv",
           "ADA/BTC": "BITTREX_ADA-BTC_5m_2018-01.csv"}
H = 3_600_000


@lru_cache(maxsize=None)
def candles(name: str):
    """The shipped recorded candles of ``resources/data/<name>``; a missing file fails the test."""
    path = DATA / name
    if not path.is_file():
        pytest.fail(f"{name} is not shipped in {DATA}: these tests need the app's recorded candles "
                    "(see resources/data/README.md)")
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        assert next(rows) == ["timestamp", "open", "high", "low", "close", "volume"]
        return tuple((int(t), float(o), float(h), float(lo), float(c), float(v)) for t, o, h, lo, c, v in rows)


class Ctx:
    """The smallest StrategyContext: positions by symbol, an equity figure, a short switch.

    ``apply`` plays the engine's part crudely: an entry opens a position at the candle's close,
    an exit closes it, so that exit rules get exercised.
    """

    def __init__(self, can_short: bool = False, equity: float = 10_000.0):
        self.positions: dict = {}
        self._equity = equity
        self._can_short = can_short
        self.signals: list = []

    def position(self, symbol):
        return self.positions.get(symbol)

    def equity(self):
        return self._equity

    def can_short(self, symbol):
        return self._can_short

    def apply(self, symbol, candle, signals):
        for s in signals or ():
            self.signals.append(s)
            if s.intent == "exit":
                self.positions.pop(symbol, None)
            else:
                self.positions[symbol] = Position(len(self.signals), symbol, LONG if s.side == BUY else SHORT,
                                                  candle[0], amount=1.0, entry_price=candle[4], strategy=s.strategy)


def run(strategy, streams, ctx=None, apply=True):
    """Feed ``{symbol: candles}`` interleaved by time; returns the context (``ctx.signals``)."""
    ctx = ctx or Ctx()
    strategy.on_start(ctx, list(streams))
    merged = sorted(((c, s) for s, cs in streams.items() for c in cs), key=lambda x: (x[0][0], x[1]))
    for c, s in merged:
        out = strategy.on_candle(ctx, s, c)
        if out is not None:
            assert isinstance(out, list) and out, "signals come as a non-empty list or None"
            if apply:
                ctx.apply(s, c, out)
            else:
                ctx.signals.extend(out)
    strategy.on_stop(ctx)
    return ctx


def test_registry_has_the_new_strategies():
    assert REGISTRY["rsi"] is RSIMeanReversion
    assert REGISTRY["regime"] is RegimeTrend
    assert REGISTRY["token_unlock"] is TokenUnlockFrontRun


# ------------------------------------------------------------------------------ RSI
def wilder_rsi(closes, n):
    """Reference RSI, written out the long way."""
    out = [None] * len(closes)
    gains = [max(closes[i] - closes[i - 1], 0.0) for i in range(1, len(closes))]
    losses = [max(closes[i - 1] - closes[i], 0.0) for i in range(1, len(closes))]
    ag = sum(gains[:n]) / n
    al = sum(losses[:n]) / n
    for i in range(n, len(closes)):
        if i > n:
            ag = (ag * (n - 1) + gains[i - 1]) / n
            al = (al * (n - 1) + losses[i - 1]) / n
        out[i] = 100.0 if al == 0 and ag > 0 else 50.0 if al == 0 else 100 - 100 / (1 + ag / al)
    return out


def test_rsi_values_match_a_reference_and_entries_are_crosses():
    cs = candles("BITTREX_ETH-BTC_5m_2018-01.csv")
    ctx = run(RSIMeanReversion(), {"ETH/BTC": cs}, apply=False)
    ref = wilder_rsi([c[4] for c in cs], 14)
    by_ts = {c[0]: i for i, c in enumerate(cs)}
    entries = [s for s in ctx.signals if s.intent == "entry"]
    assert len(entries) > 10
    for s in ctx.signals:
        i = by_ts[s.timestamp]
        assert s.meta["rsi"] == pytest.approx(ref[i], rel=1e-9)
        assert s.meta["prev_rsi"] == pytest.approx(ref[i - 1], rel=1e-9)
        assert s.strategy == "rsi" and s.symbol == "ETH/BTC"
    for s in entries:
        assert s.side == BUY  # shorts are off by default
        assert s.meta["prev_rsi"] < 30 <= s.meta["rsi"]
        assert s.size == 0.2 and s.stop_loss == pytest.approx(0.02) and s.take_profit == pytest.approx(0.04)


def test_rsi_exits_longs_at_overbought_and_midline():
    cs = candles("FTX_BTC-PERP_1m_2022-01.csv")[:8000]
    for exit_at, level in (("overbought", 70.0), ("midline", 50.0)):
        ctx = run(RSIMeanReversion({"exit_at": exit_at, "timeframe": "1m"}), {"BTC/USD:USD": cs})
        exits = [s for s in ctx.signals if s.intent == "exit"]
        assert exits, exit_at
        for s in exits:
            assert s.side == SELL and s.meta["prev_rsi"] < level <= s.meta["rsi"]
        # entries and exits alternate: never two entries in a row
        kinds = [s.intent for s in ctx.signals]
        assert all(a != b for a, b in zip(kinds, kinds[1:]))


def test_rsi_shorts_only_where_allowed():
    cs = candles("FTX_BTC-PERP_1m_2022-01.csv")[:8000]
    no = run(RSIMeanReversion({"allow_short": True}), {"X": cs}, Ctx(can_short=False))
    assert not [s for s in no.signals if s.intent == "entry" and s.side == SELL]
    yes = run(RSIMeanReversion({"allow_short": True}), {"X": cs}, Ctx(can_short=True))
    shorts = [s for s in yes.signals if s.intent == "entry" and s.side == SELL]
    assert shorts and all(s.meta["prev_rsi"] > 70 >= s.meta["rsi"] for s in shorts)
    covers = [s for s in yes.signals if s.intent == "exit" and s.side == BUY]
    assert covers


@pytest.mark.parametrize("params, field", [
    ({"oversold": 70, "overbought": 30}, "overbought"),
    ({"period": "fourteen"}, "period"),
    ({"period": 1}, "period"),
    ({"size": 0}, "size"),
    ({"exit_at": "midline", "oversold": 55, "overbought": 80}, "exit_at"),
    ({"exit_at": "never"}, "exit_at"),
    ({"stop_loss": -1}, "stop_loss"),
    ({"colour": "red"}, "colour"),
])
def test_rsi_bad_params_name_the_field(params, field):
    with pytest.raises(ParamError) as e:
        RSIMeanReversion(params)
    assert e.value.field == field and field in str(e.value)


# ------------------------------------------------------------------------------ regime
def test_regime_classifies_every_candle_and_signals_carry_it():
    cs = candles("FTX_BTC-PERP_1m_2022-01.csv")
    strat = RegimeTrend({"allow_short": True, "timeframe": "1m"})
    ctx = Ctx(can_short=True)
    strat.on_start(ctx, ["BTC/USD:USD"])
    seen = set()
    assert strat.regime_of("BTC/USD:USD") == ("ranging", 0.0)  # nothing seen yet
    for i, c in enumerate(cs):
        out = strat.on_candle(ctx, "BTC/USD:USD", c)
        regime, conf = strat.regime_of("BTC/USD:USD")
        assert regime in REGIMES and (i == 0 or 0.5 <= conf <= 1.0)
        seen.add(regime)
        if out:
            for s in out:
                assert s.meta["regime"] == regime and s.meta["confidence"] == s.confidence == conf
                if s.intent == "entry":
                    assert regime == "trending" and conf >= 0.6
                    assert (s.side == BUY) == (s.meta["fast"] > s.meta["slow"])
                    assert s.stop_loss == pytest.approx(0.02) and s.take_profit == pytest.approx(0.06)
            ctx.apply("BTC/USD:USD", c, out)
    assert seen == set(REGIMES)
    entries = [s for s in ctx.signals if s.intent == "entry"]
    exits = [s for s in ctx.signals if s.intent == "exit"]
    assert entries and exits and {s.side for s in entries} == {BUY, SELL}
    for s in exits:
        assert s.meta["regime"] != "trending" or s.reason == "trend flipped"


def test_regime_respects_allowed_regimes_and_threshold():
    cs = candles("BITTREX_ETH-BTC_5m_2018-01.csv")
    ctx = run(RegimeTrend({"regimes": "mean-reverting, ranging", "min_confidence": 0.8}), {"ETH/BTC": cs})
    entries = [s for s in ctx.signals if s.intent == "entry"]
    assert entries
    assert all(s.meta["regime"] in ("mean-reverting", "ranging") and s.confidence >= 0.8 for s in entries)
    assert all(s.side == BUY for s in entries)  # no shorts unless allowed
    nothing = run(RegimeTrend({"min_confidence": 1.0, "trend_er": 1.0}), {"ETH/BTC": cs})
    assert not nothing.signals


def test_regime_exit_confirm_damps_boundary_flicker():
    cs = candles("FTX_BTC-PERP_1m_2022-01.csv")[:20000]
    quick = run(RegimeTrend({"timeframe": "1m"}), {"X": cs}).signals
    calm = run(RegimeTrend({"timeframe": "1m", "exit_confirm": 10}), {"X": cs}).signals
    assert 0 < len(calm) < len(quick)


def test_regime_straight_line_is_a_certain_trend():
    # A price rising by the same step every candle: efficiency ratio 1, no autocorrelation.
    t0 = candles("BITTREX_ETH-BTC_5m_2018-01.csv")[0][0]
    line = [(t0 + i * 300_000, 100.0 + i, 100.5 + i, 99.5 + i, 100.0 + i, 1.0) for i in range(300)]
    strat = RegimeTrend()
    ctx = run(strat, {"L": line})
    assert strat.regime_of("L") == ("trending", 1.0)
    assert len(ctx.signals) == 1 and ctx.signals[0].side == BUY and ctx.signals[0].confidence == 1.0


def test_parse_regimes():
    assert parse_regimes(" Trending, mean_reverting ,trending") == ("trending", "mean-reverting")
    s = RegimeTrend({"regimes": "volatile,TRENDING"})
    assert s.p["regimes"] == "volatile,trending"


@pytest.mark.parametrize("params, field", [
    ({"regimes": "trending,sideways"}, "regimes"),
    ({"regimes": " , "}, "regimes"),
    ({"min_confidence": 1.5}, "min_confidence"),
    ({"fast": 60, "slow": 50}, "slow"),
    ({"vol_fast": 100, "vol_slow": 100}, "vol_slow"),
    ({"trend_er": 0}, "trend_er"),
    ({"timeframe": "7m"}, "timeframe"),
    ({"exit_confirm": 0}, "exit_confirm"),
])
def test_regime_bad_params_name_the_field(params, field):
    with pytest.raises(ParamError) as e:
        RegimeTrend(params)
    assert e.value.field == field


# ------------------------------------------------------------------------------ unlock calendar
def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_example_calendar_loads_and_fits_the_bittrex_data():
    events = load_unlock_calendar(EXAMPLE_CALENDAR, known_symbols=set(BITTREX))
    assert len(events) == 5 and [e.time for e in events] == sorted(e.time for e in events)
    first = min(c[0] for name in BITTREX.values() for c in candles(name)[:1])
    last = max(candles(name)[-1][0] for name in BITTREX.values())
    for e in events:
        assert isinstance(e, UnlockEvent) and e.unlock_pct > 0
        assert first + 8 * 24 * H <= e.time and e.time + 48 * H <= last  # 7 days of history, exit inside


def test_calendar_csv_and_json_and_time_formats(tmp_path):
    csv_path = write(tmp_path, "c.csv", "symbol,unlock_pct,token,time,source\n"
                                         "OP/USDT,7.5,Optimism,2030-05-31T00:00:00Z,x\n"
                                         "ARB/USDT,2.0 %,Arbitrum,1900000000000,y\n\n"
                                         "APT/USDT,3,Aptos,2030-01-02T03:04:05+02:00,z\n")
    ev = load_unlock_calendar(csv_path, known_symbols={"OP/USDT", "ARB/USDT", "APT/USDT"}, now_ms=1_700_000_000_000)
    assert [e.symbol for e in ev] == ["APT/USDT", "ARB/USDT", "OP/USDT"]  # by time
    assert ev[1].time == 1_900_000_000_000 and ev[1].unlock_pct == 2.0 and ev[1].row == 3
    assert ev[0].time == parse_time("2030-01-02T01:04:05Z") and ev[0].row == 5
    js = write(tmp_path, "c.json", json.dumps({"events": [
        {"token": "Optimism", "symbol": "OP/USDT", "time": "2030-05-31T00:00:00Z", "unlock_pct": 7.5},
        {"token": "Sui", "symbol": "SUI/USDT", "time": 1_900_000_000_000, "unlock_pct": 4}]}))
    assert [e.token for e in load_unlock_calendar(js)] == ["Sui", "Optimism"]


def test_calendar_errors_name_rows_and_fields_and_import_nothing(tmp_path):
    path = write(tmp_path, "bad.csv", "token,symbol,time,unlock_pct\n"
                                      "Good,OP/USDT,2030-05-31T00:00:00Z,7.5\n"
                                      "Typo,OPP/USDT,2030-06-01T00:00:00Z,3\n"
                                      "Old,OP/USDT,2020-01-01T00:00:00Z,3\n"
                                      "NaN,OP/USDT,2030-07-01T00:00:00Z,lots\n"
                                      "Dup,OP/USDT,2030-05-31T00:00:00Z,1\n"
                                      "Secs,OP/USDT,1900000000,1\n"
                                      "When,OP/USDT,next tuesday,1\n"
                                      ",OP,2030-08-01T00:00:00Z,-2\n")
    with pytest.raises(CalendarError) as e:
        load_unlock_calendar(path, known_symbols={"OP/USDT"}, now_ms=parse_time("2024-01-01T00:00:00Z"))
    msg = str(e.value)
    problems = e.value.problems
    assert "row 3, symbol: unknown symbol 'OPP/USDT'" in problems
    assert any(p.startswith("row 4, time:") and "past" in p for p in problems)
    assert any(p.startswith("row 5, unlock_pct:") and "'lots'" in p for p in problems)
    assert any(p.startswith("row 6:") and "duplicates row 2" in p for p in problems)
    assert any(p.startswith("row 7, time:") and "seconds" in p for p in problems)
    assert any(p.startswith("row 8, time:") for p in problems)
    assert "row 9, token: empty" in problems and any(p.startswith("row 9, symbol:") for p in problems)
    assert any(p.startswith("row 9, unlock_pct:") and "> 0" in p for p in problems)
    assert path in msg and "row 2" not in [p[:5] for p in problems]


def test_calendar_file_level_errors(tmp_path):
    for text, needle in (("token,symbol,when,pct\nA,B/C,1,2\n", "missing columns time, unlock_pct"),
                         ("", "empty"),
                         ("[{\"token\": \"A\"}]", "row 1: missing fields symbol, time, unlock_pct")):
        ext = ".json" if text.startswith("[") else ".csv"
        with pytest.raises(CalendarError) as e:
            load_unlock_calendar(write(tmp_path, "x" + ext, text))
        assert needle in str(e.value)
    with pytest.raises(CalendarError, match="file not found"):
        load_unlock_calendar(str(tmp_path / "nope.csv"))
    with pytest.raises(CalendarError, match="JSON"):
        load_unlock_calendar(write(tmp_path, "y.json", "{not json"))


# ------------------------------------------------------------------------------ token unlock strategy
def bittrex():
    return {s: candles(f) for s, f in BITTREX.items()}


def test_timing_factor_and_confidence():
    assert timing_factor(24.0) == 1.0 and timing_factor(23.0) == 0.5 and timing_factor(25.5) == pytest.approx(0.25)
    assert timing_factor(26.0) == 0.0 and timing_factor(30.0) == 0.0
    assert unlock_confidence(10.0, 1.0) == pytest.approx(0.5 + 0.15 + 0.2)
    assert unlock_confidence(40.0, 1.0) == 1.0


def test_token_unlock_trades_the_example_calendar():
    strat = TokenUnlockFrontRun({"calendar": "resources/calendars/example_unlocks.csv", "quote_usd": 11_000})
    ctx = run(strat, bittrex())
    events = {(e.symbol, e.time): e for e in load_unlock_calendar(EXAMPLE_CALENDAR)}
    entries = [s for s in ctx.signals if s.intent == "entry"]
    exits = [s for s in ctx.signals if s.intent == "exit"]
    traded = {(s.symbol, s.meta["unlock_time"]) for s in entries}
    assert traded == {k for k, e in events.items() if e.unlock_pct > 5}  # the 3 % one is skipped
    for s in entries:
        e = events[(s.symbol, s.meta["unlock_time"])]
        close_time = s.timestamp + 300_000
        assert s.side == BUY and s.strategy == "token_unlock"
        assert 22 * H <= e.time - close_time <= 26 * H
        assert s.meta["hours_before"] == pytest.approx((e.time - close_time) / H)
        assert s.confidence == pytest.approx(min(1.0, 0.5 + e.unlock_pct / 20 * 0.3 + 0.2 * timing_factor(s.meta["hours_before"])))
        assert s.meta["volume_24h_usd"] > 1e6 and s.meta["change_7d"] > -0.2
        assert s.stop_loss == pytest.approx(0.03) and s.take_profit == pytest.approx(0.05)
        assert s.meta["exit_at"] == e.time + 48 * H
    assert len(exits) == len(entries)
    for s in exits:
        assert s.side == SELL and s.timestamp + 300_000 == s.meta["exit_at"]


def test_token_unlock_volume_and_trend_filters():
    cal = "resources/calendars/example_unlocks.csv"
    # quote_usd 1: BTC volume read as USD is far below 1 M
    assert not run(TokenUnlockFrontRun({"calendar": cal}), bittrex()).signals
    assert not run(TokenUnlockFrontRun({"calendar": cal, "quote_usd": 11_000, "min_change_7d": 50}), bittrex()).signals
    few = run(TokenUnlockFrontRun({"calendar": cal, "quote_usd": 11_000, "min_unlock_pct": 10}), bittrex()).signals
    assert {s.meta["token"] for s in few} == {"LTC", "ADA"} and all(s.meta["unlock_pct"] > 10 for s in few)


def test_token_unlock_no_exit_after_a_stop_and_quote_volume(tmp_path):
    cs = candles("BITTREX_ETH-BTC_5m_2018-01.csv")
    cal = write(tmp_path, "c.csv", "token,symbol,time,unlock_pct\nETH,ETH/BTC,2018-01-20T12:00:00Z,7.5\n")
    strat = TokenUnlockFrontRun({"calendar": cal, "volume_unit": "quote", "min_volume_usd": 10_000})
    ctx = Ctx()
    strat.on_start(ctx, ["ETH/BTC"])
    out = []
    for c in cs:
        sigs = strat.on_candle(ctx, "ETH/BTC", c)
        if sigs:
            out += sigs
            ctx.apply("ETH/BTC", c, sigs)
            ctx.positions.clear()  # stopped out straight away
    assert [s.intent for s in out] == ["entry"]
    # with volume_unit=quote the raw ETH volume column is summed as if it were USD: ~70k a day
    assert 10_000 < out[0].meta["volume_24h_usd"] < 1_000_000


def test_token_unlock_bad_calendar_names_the_row(tmp_path):
    cal = write(tmp_path, "c.csv", "token,symbol,time,unlock_pct\nETH,ETH/BTC,2018-01-20T12:00:00Z,seven\n")
    with pytest.raises(ParamError) as e:
        TokenUnlockFrontRun({"calendar": cal})
    assert e.value.field == "calendar" and "row 2, unlock_pct" in str(e.value)
    assert isinstance(e.value.__cause__, CalendarError)


@pytest.mark.parametrize("params, field", [
    ({"window_hours": 30}, "window_hours"),
    ({"min_volume_usd": "a lot"}, "min_volume_usd"),
    ({"volume_unit": "usd"}, "volume_unit"),
    ({"quote_usd": 0}, "quote_usd"),
    ({"calendar": "/nonexistent/unlocks.csv"}, "calendar"),
])
def test_token_unlock_bad_params_name_the_field(params, field):
    with pytest.raises(ParamError) as e:
        TokenUnlockFrontRun(params)
    assert e.value.field == field


def test_token_unlock_without_calendar_is_silent():
    assert not run(TokenUnlockFrontRun(), {"BTC/USD:USD": candles("FTX_BTC-PERP_1m_2022-01.csv")[:2000]}).signals
