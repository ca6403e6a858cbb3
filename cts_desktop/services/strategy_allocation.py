"""What the sizes of a connection's strategies mean for its account: a hint and warnings (that never
block) per strategy and for all of them together, under the connection's risk limits. No Qt: the
Connections tab shows these texts next to the strategy forms.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.4g} %"


def _symbols(n: int) -> str:
    return f"{n} symbol{'' if n == 1 else 's'}"


def strategy_allocation(size: Optional[float], symbols: List[str], risk: Dict[str, Any]) -> Tuple[str, List[str]]:
    """The hint and the warnings for one strategy: ``size`` (fraction of equity per entry, None
    when the strategy has none) on each of ``symbols``, under the ``risk`` limits."""
    if size is None:
        return "This strategy sizes its own entries.", []
    n = len(symbols)
    text = f"Each entry uses {_pct(size)} of equity" + (
        f"; with {_symbols(n)} up to {_pct(size * n)} in use." if n else ".")
    warnings = []
    max_fraction = float(risk.get("max_position_fraction", 1.0))
    if size > max_fraction + 1e-12:
        warnings.append(f"{_pct(size)} is above the risk limit Max position size ({_pct(max_fraction)}): "
                        "every entry will be refused.")
    if size * n > 1 + 1e-12:
        warnings.append(f"Up to {_pct(size * n)} of equity: once the cash is in use, further entries are "
                        "refused for insufficient funds.")
    return text, warnings


def total_allocation(strategies: List[Tuple[str, Optional[float], List[str]]],
                     risk: Dict[str, Any]) -> Tuple[str, List[str]]:
    """The hint and the warnings for all the strategies of a connection together:
    ``(title, size, symbols)`` each. Positions are per symbol (one-way, no adding to a position),
    so a symbol traded by several strategies holds at most the largest of their sizes."""
    per_symbol: Dict[str, float] = {}
    traders: Dict[str, List[str]] = {}
    for title, size, symbols in strategies:
        for s in symbols:
            per_symbol[s] = max(per_symbol.get(s, 0.0), size or 0.0)
            traders.setdefault(s, []).append(title)
    total = sum(per_symbol.values())
    parts = ", ".join(f"{s} {_pct(v)}" for s, v in per_symbol.items())
    text = (f"All strategies together: up to {_pct(total)} of equity in use" + (f" ({parts})." if parts else "."))
    shared = [s for s, t in traders.items() if len(t) > 1]
    if shared:
        text += (f" {', '.join(shared)} {'is' if len(shared) == 1 else 'are'} traded by more than one strategy: "
                 "they share one position per symbol.")
    warnings = []
    if total > 1 + 1e-12:
        warnings.append(f"Together up to {_pct(total)} of equity: when every strategy is in a position at once, "
                        "later entries are refused for insufficient funds.")
    max_open = int(risk.get("max_open_positions", 0) or 0)
    if max_open and len(per_symbol) > max_open:
        warnings.append(f"{_symbols(len(per_symbol))} can be in a position at once, but the risk limit Max open "
                        f"positions is {max_open}: entries beyond it are refused.")
    return text, warnings
