"""How live trades become rows of Koinly's "universal" CSV import layout.

Columns (:data:`TAX_COLUMNS`), as Koinly documents its universal template: ``Date`` (UTC,
``YYYY-MM-DD HH:MM UTC``), ``Sent Amount``, ``Sent Currency``, ``Received Amount``, ``Received
Currency``, ``Fee Amount``, ``Fee Currency``, ``Net Worth Amount``, ``Net Worth Currency``,
``Label``, ``Description``, ``TxHash``.

* **Spot (and margin) fills**: one row per fill. A buy of ``BTC/USDT`` sends the quote (``cost =
  amount * price`` USDT) and receives the base (``amount`` BTC); a sell sends the base and
  receives the quote. The fee goes in the fee columns, in the currency the exchange charged
  (the quote when the fill does not say). Net worth is left empty (Koinly prices it); no label
  (a plain trade); ``TxHash`` is the exchange's trade id.
* **Derivatives** (perpetual swaps and futures: a ccxt symbol with a settle currency such as
  ``BTC/USDT:USDT``, or a run on a ``swap``/``future`` market): their fills are not purchases of
  the coin, so they are not exported as trades. As Koinly describes for futures, only the
  outcome is: one row per **closed** position, its net realized P&L (gross realized P&L minus
  fees) as a deposit of the settle currency when positive (``Received``) or a withdrawal when
  negative (``Sent``), labelled ``realized gain``; the description gives the gross P&L and the
  fees. Positions still open have realized nothing and give no row.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, List, Tuple

TAX_COLUMNS = ("Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency", "Fee Amount",
               "Fee Currency", "Net Worth Amount", "Net Worth Currency", "Label", "Description", "TxHash")
REALIZED_LABEL = "realized gain"
DERIVATIVE_MARKETS = ("swap", "future", "futures", "option")


def koinly_date(ms: int) -> str:
    """``ms`` (ms since the epoch) as Koinly's date: ``YYYY-MM-DD HH:MM UTC``."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def split_symbol(symbol: str) -> Tuple[str, str, str]:
    """``(base, quote, settle)`` of a ccxt symbol: ``"BTC/USDT"`` -> ``("BTC", "USDT", "")``,
    ``"BTC/USDT:USDT"`` -> ``("BTC", "USDT", "USDT")``; a symbol without ``/`` (``"BTC-PERP"``)
    gives ``(symbol, "", "")``."""
    pair, _sep, settle = symbol.partition(":")
    base, _slash, quote = pair.partition("/")
    return base, quote, settle.split("-")[0]


def is_derivative(symbol: str, market_type: str = "") -> bool:
    """True for a perpetual/future (a settle currency in the symbol, or the run's market type)."""
    return ":" in symbol or market_type in DERIVATIVE_MARKETS


def spot_row(fill: Any, connection: str) -> List[Any]:
    """The Koinly row of one spot fill (a ``FillRec``: symbol, side, amount base, price quote,
    cost quote, fee, fee_currency, timestamp ms, fill_id, client_order_id, run_id)."""
    base, quote, _settle = split_symbol(fill.symbol)
    cost = fill.cost if fill.cost else fill.amount * fill.price
    if fill.side == "buy":
        sent, sent_cur, received, received_cur = cost, quote, fill.amount, base
    else:
        sent, sent_cur, received, received_cur = fill.amount, base, cost, quote
    fee_currency = fill.fee_currency or quote
    return [koinly_date(fill.timestamp), sent, sent_cur, received, received_cur,
            fill.fee if fill.fee else "", fee_currency if fill.fee else "", "", "", "",
            f"CTS Desktop {connection}: {fill.side} {fill.amount} {fill.symbol} at {fill.price} "
            f"(run {fill.run_id}, order {fill.client_order_id})", fill.fill_id]


def derivative_row(position: Any, connection: str) -> List[Any]:
    """The Koinly row of one closed derivative position (a ``PositionRec``: symbol, side,
    realized_pnl and fees in the settle/quote currency, closed_at ms, run_id, position_id)."""
    _base, quote, settle = split_symbol(position.symbol)
    currency = settle or quote
    net = position.realized_pnl - position.fees
    sent, sent_cur, received, received_cur = ("", "", net, currency) if net >= 0 else (-net, currency, "", "")
    return [koinly_date(position.closed_at), sent, sent_cur, received, received_cur, "", "", "", "", REALIZED_LABEL,
            f"CTS Desktop {connection}: realized P&L of {position.side} {position.symbol} position "
            f"{position.position_id} (run {position.run_id}): gross {position.realized_pnl}, fees {position.fees}",
            f"cts-{connection}-run{position.run_id}-position{position.position_id}"]
