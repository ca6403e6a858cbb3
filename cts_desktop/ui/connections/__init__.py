"""Connections tab: the list of connections and the settings of the selected one.

Where things are:

* :mod:`.tab`: :class:`ConnectionsTab`, the list (Add / Duplicate / Delete) and the details;
  :mod:`.model`: the list's table model.
* :mod:`.details`: :class:`ConnectionDetails`, the panel: a stack of :class:`DetailsSection`
  boxes (:mod:`.base`), Save / Revert. Each section loads its fields from a
  :class:`~cts_desktop.store.settings.ConnectionConfig`, writes them into a copy on Save and
  reports a bad value as :class:`FieldError` (shown inline, next to the field, and nothing is
  saved). A new kind of connection adds a section with :meth:`ConnectionDetails.add_section`;
  ``applies_to`` hides sections that do not fit a connection.
* the sections: :mod:`.exchange_section` (any ccxt exchange, account type, testnet, API type, rate
  limits, base URL, symbols; :class:`ExchangeCatalog` loads ccxt's facts off the GUI thread),
  :mod:`.credentials` (password fields; stored values shown masked; the values go only to the OS
  keyring), :mod:`.conntest_panel` (Test Connection and its result; run by :mod:`.tester`),
  :mod:`.sections` (the recorded market of a paper replay, the risk limits),
  :mod:`.strategy_sections` (the main strategy with presets, the additional strategies).
* strategy forms: :mod:`.strategy_form` (:class:`StrategyForm`: the strategy, the symbols it
  trades in a :class:`SymbolsPicker`, its allocation hints) built on :mod:`.param_form`
  (:class:`ParamForm`, the app's one parameter form, which the backtest window uses too).
* :mod:`.dialogs`: Add connection, the live-trading confirmation; :mod:`.live`: the live switch.

The rules (required credentials, test invalidation, the live gate) and the operations (save with
the keyring, rename, duplicate, delete, the connection test) are
:mod:`cts_desktop.services.connection_rules`, :mod:`cts_desktop.services.connections` and
:mod:`cts_desktop.services.connection_tests`, shared with the CLI. The screens never import ccxt
or the exchange layer; ccxt is imported off the GUI thread on first need, never at start-up.
"""
from __future__ import annotations

from ...services.connection_rules import connection_symbols
from ...services.connection_tests import describe_rate_limits
from ...services.strategy_allocation import strategy_allocation, total_allocation
from .base import DetailsSection, FieldError
from .conntest_panel import TestSection
from .credentials import CredentialsSection
from .details import ConnectionDetails
from .dialogs import AddConnectionDialog, LiveConfirmDialog, exchange_combo, fill_exchange_combo
from .exchange_section import ExchangeCatalog, ExchangeSection
from .model import ConnectionsModel
from .param_form import ParamForm
from .sections import ReplaySection, RiskSection
from .strategy_form import StrategyForm, SymbolsPicker
from .strategy_sections import ExtraStrategiesSection, ExtraStrategy, StrategySection
from .tab import ConnectionsTab

__all__ = [
    "AddConnectionDialog", "ConnectionDetails", "ConnectionsModel", "ConnectionsTab", "CredentialsSection",
    "DetailsSection", "ExchangeCatalog", "ExchangeSection", "ExtraStrategiesSection", "ExtraStrategy", "FieldError",
    "LiveConfirmDialog", "ParamForm", "ReplaySection", "RiskSection", "StrategyForm", "StrategySection",
    "SymbolsPicker", "TestSection", "connection_symbols", "describe_rate_limits", "exchange_combo",
    "fill_exchange_combo", "strategy_allocation", "total_allocation",
]
