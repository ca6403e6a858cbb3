"""The command line: ``main`` (argument parsing and wiring), ``connections``, ``backtest``,
``headless``. Every command calls the services; none holds application logic of its own."""
