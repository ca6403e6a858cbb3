"""The strategy API.

A strategy declares its parameters (:class:`Param`) and the data it needs (timeframe, warm-up
length), then reacts to closed candles by returning :class:`~cts_desktop.core.models.Signal`
objects. It never talks to an exchange and never sees orders: the engine turns signals into
orders through the risk checks.

Life cycle, per engine run::

    strategy = StrategyClass(params)          # validated; raises ParamError
    strategy.on_start(ctx)                    # once, before the first candle
    signals = strategy.on_candle(ctx, symbol, candle)   # every closed candle, every symbol
    strategy.on_stop(ctx)

``ctx`` is a :class:`StrategyContext`: read-only access to the account and positions.
``on_candle`` is on the hot path of replays and backtests (100,000+ candles/s): keep it
incremental (running sums, no pandas, no lists rebuilt per candle).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Dict, Iterable, List, Optional, Protocol, Sequence, Set, Type

from ...core.models import Candle, Position, Signal


class ParamError(ValueError):
    """A strategy parameter is missing, of the wrong type, or out of range.

    ``field`` names the offending parameter; the message is meant for the user as it is.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    ``type`` is ``int``, ``float``, ``bool``, ``str`` or ``"choice"`` (then ``choices`` lists the
    allowed strings). ``minimum``/``maximum`` are inclusive unless ``exclusive_min`` is set.
    ``unit`` is shown next to the field (``"candles"``, ``"fraction of equity"``, ``"%"``).
    """

    name: str
    type: Any
    default: Any
    help: str = ""
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    exclusive_min: bool = False
    choices: Sequence[str] = ()
    unit: str = ""

    def coerce(self, value: Any) -> Any:
        """Convert ``value`` (possibly a string from a form or the command line) and check range.

        Raises :class:`ParamError`.
        """
        t = self.type
        try:
            if t is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in ("1", "true", "yes", "on"):
                        value = True
                    elif low in ("0", "false", "no", "off"):
                        value = False
                    else:
                        raise ValueError
                else:
                    value = bool(value)
            elif t is int:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                value = int(str(value).strip()) if isinstance(value, str) else int(value)
            elif t is float:
                value = float(value)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError
            elif t == "choice" or t is str:
                value = str(value)
        except (TypeError, ValueError):
            kind = {bool: "true or false", int: "a whole number", float: "a number"}.get(t, "text")
            raise ParamError(self.name, f"expected {kind}, got {value!r}") from None
        if self.choices and value not in self.choices:
            raise ParamError(self.name, f"must be one of {', '.join(self.choices)}, got {value!r}")
        if self.minimum is not None and t in (int, float):
            if value < self.minimum or (self.exclusive_min and value == self.minimum):
                op = ">" if self.exclusive_min else ">="
                raise ParamError(self.name, f"must be {op} {self.minimum:g}, got {value:g}")
        if self.maximum is not None and t in (int, float) and value > self.maximum:
            raise ParamError(self.name, f"must be <= {self.maximum:g}, got {value:g}")
        return value


class StrategyContext(Protocol):
    """What a strategy may read about the account while it runs."""

    def position(self, symbol: str) -> Optional[Position]:
        """The open position on ``symbol``, or None."""

    def equity(self) -> float:
        """Account equity in quote currency."""

    def can_short(self, symbol: str) -> bool:
        """True where the market allows short positions (perpetuals, margin)."""


class Strategy:
    """Base class. Subclasses set ``name``, ``title`` and ``params`` and override ``on_candle``.

    Validated parameter values are available as ``self.p[name]``. Override
    :meth:`validate` for rules that involve several parameters (raise :class:`ParamError`).
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[Sequence[Param]] = ()
    #: the symbols this instance trades (set by the engine from the connection), None for all
    symbols: Optional[Set[str]] = None

    def __init__(self, params: Optional[Dict[str, Any]] = None):
        self.p: Dict[str, Any] = self.resolve_params(params or {})
        self.validate(self.p)

    # -- declaration -----------------------------------------------------------------------
    @classmethod
    def resolve_params(cls, given: Dict[str, Any]) -> Dict[str, Any]:
        """Defaults overlaid with ``given``, each coerced and range-checked.

        Raises :class:`ParamError` for unknown names and bad values.
        """
        known = {p.name: p for p in cls.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ParamError(unknown[0], f"unknown parameter for {cls.name}; known: {', '.join(known)}")
        return {name: p.coerce(given.get(name, p.default)) for name, p in known.items()}

    def validate(self, p: Dict[str, Any]) -> None:
        """Cross-parameter checks; raise :class:`ParamError`."""

    @property
    def timeframe(self) -> str:
        """ccxt timeframe the strategy wants its candles in, or ``"auto"``: the data's own.
        Longer timeframes are built by the engine from the data's candles."""
        return self.p.get("timeframe", "auto")

    @property
    def warmup(self) -> int:
        """Candles needed before the first signal can be trusted."""
        return 0

    # -- life cycle ------------------------------------------------------------------------
    def on_start(self, ctx: StrategyContext, symbols: Iterable[str]) -> None:
        """Called once before the first candle with the symbols the strategy will see."""

    def on_candle(self, ctx: StrategyContext, symbol: str, candle: Candle) -> Optional[List[Signal]]:
        """React to one closed candle of ``symbol``; return signals or None."""
        raise NotImplementedError

    def on_stop(self, ctx: StrategyContext) -> None:
        """Called once when the run ends (also after an error)."""

    # -- what the chart can draw -----------------------------------------------------------
    def chart_lines(self, closes: Sequence[float]) -> List["ChartLine"]:
        """The strategy's indicators over ``closes`` (quote, oldest first, at the strategy's own
        timeframe), as the strategy computes them, for the candle chart: one value per close
        (None before the warm-up). Default: nothing to draw."""
        return []


@dataclass(frozen=True)
class ChartLine:
    """One indicator line of :meth:`Strategy.chart_lines`: ``name`` (the legend, e.g. ``SMA 10``),
    ``values`` (one per close, None where undefined), ``pane`` ``"price"`` (over the candles, in
    quote) or ``"lower"`` (a pane of its own under the volume, e.g. RSI 0..100), ``levels``
    (horizontal guides in that pane, e.g. the RSI's 30 and 70) and ``colour`` (a hex colour, or
    empty for the chart's choice)."""

    name: str
    values: Sequence[Optional[float]]
    pane: str = "price"
    levels: Sequence[float] = ()
    colour: str = ""


def describe(cls: Type[Strategy]) -> Dict[str, Any]:
    """A plain description of a strategy class for forms and ``--help`` output."""
    return {
        "name": cls.name,
        "title": cls.title,
        "description": cls.description,
        "params": [
            {
                "name": p.name,
                "type": p.type if isinstance(p.type, str) else p.type.__name__,
                "default": p.default,
                "minimum": p.minimum,
                "maximum": p.maximum,
                "choices": list(p.choices),
                "unit": p.unit,
                "help": p.help,
            }
            for p in cls.params
        ],
    }
