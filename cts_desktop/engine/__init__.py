"""The engines: strategies' signals turned into orders, fills and records, on the asyncio loop.

Where things live:

* :mod:`.lifecycle` -- the state machine and commands every engine shares (start, stop, pause).
* :mod:`.engine` -- the replay engine (paper trading over recorded candles).
* :mod:`.live` -- the exchange engine (paper or live on a ccxt exchange), composed of
  :mod:`.feeds` / :mod:`.feeds_ws` (market data), :mod:`.orders` / :mod:`.fees` (live orders),
  :mod:`.reconcile` (start-up reconciliation) and :mod:`.live_setup` (gateway, markets, balance).
* :mod:`.core` -- the synchronous trading core both engines and the backtest drive, with
  :mod:`.runners` (strategies and candle aggregation), :mod:`.exits` (stop-loss / take-profit),
  :mod:`.curve` (equity curve), :mod:`.journal` (records and events), :mod:`.recovery` (crash resume).
* :mod:`.backtest` -- the core in a tight loop over recorded candles.
* :mod:`.bus` -- the in-process event bus; :mod:`.strategies` -- the strategy API and registry.
"""
