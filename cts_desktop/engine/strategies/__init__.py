"""Built-in strategies and the registry the engine, the UI and the CLI look them up in."""
from __future__ import annotations

from typing import Dict, Type

from .base import Param, ParamError, Strategy, StrategyContext, describe
from .ma_cross import MovingAverageCross

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


register(MovingAverageCross)
from .rsi import RSIMeanReversion; register(RSIMeanReversion)  # noqa: E402,E702
from .regime import RegimeTrend; register(RegimeTrend)  # noqa: E402,E702
from .token_unlock import TokenUnlockFrontRun; register(TokenUnlockFrontRun)  # noqa: E402,E702

__all__ = ["Param", "ParamError", "Strategy", "StrategyContext", "describe", "REGISTRY", "register", "get"]
