"""Built-in strategies and the registry the engine, the UI and the CLI look them up in."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Type

from .base import Param, ParamError, Strategy, StrategyContext, describe
from .ma_cross import MovingAverageCross

if TYPE_CHECKING:
    from ...store.settings import ConnectionConfig

REGISTRY: Dict[str, Type[Strategy]] = {}


def register(cls: Type[Strategy]) -> Type[Strategy]:
    """Add a strategy class to :data:`REGISTRY` under ``cls.name``."""
    REGISTRY[cls.name] = cls
    return cls


def get(name: str) -> Type[Strategy]:
    """The strategy class called ``name``; raises ``KeyError`` with the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def strategies_from_specs(specs: List[Dict[str, Any]]) -> List[Strategy]:
    """Strategy instances from ``[{"strategy": name, "params": {...}, "symbols": [...]}, ...]``, each
    with ``symbols`` (a set, or None for all); raises ``KeyError``/``ParamError`` naming the
    strategy and field."""
    out = []
    for spec in specs:
        inst = get(spec["strategy"])(dict(spec.get("params", {})))
        inst.symbols = set(spec["symbols"]) if spec.get("symbols") else None
        out.append(inst)
    return out


def build_strategies(conn: "ConnectionConfig") -> List[Strategy]:
    """The connection's strategy instances (see :func:`strategies_from_specs`)."""
    return strategies_from_specs(conn.strategy_specs())


register(MovingAverageCross)
from .rsi import RSIMeanReversion; register(RSIMeanReversion)  # noqa: E402,E702
from .regime import RegimeTrend; register(RegimeTrend)  # noqa: E402,E702
from .token_unlock import TokenUnlockFrontRun; register(TokenUnlockFrontRun)  # noqa: E402,E702

__all__ = ["Param", "ParamError", "Strategy", "StrategyContext", "describe", "REGISTRY", "register", "get",
           "strategies_from_specs", "build_strategies"]
