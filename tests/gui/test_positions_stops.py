"""The Positions tab says where each position's stops live: at the exchange, in the app, or
nowhere (no stops)."""
from __future__ import annotations

import os

from PySide6.QtCore import Qt

from cts_desktop.core.models import Position
from cts_desktop.ui.positions import PositionsTab


def test_the_open_positions_show_where_their_stops_live(qtbot, themed_app, tmp_path):
    tab = PositionsTab()
    qtbot.addWidget(tab)
    tab.resize(1280, 720)
    tab.show()
    tab.apply_positions([
        Position(id=1, symbol="BTC/USDT", side="long", opened_at=1_700_000_000_000, amount=0.02966,
                 entry_price=16805.8, max_amount=0.02966, stop_loss=16469.7, take_profit=17646.1, protection="exchange"),
        Position(id=2, symbol="ETH/USDT", side="long", opened_at=1_700_000_060_000, amount=0.5, entry_price=1200.0,
                 max_amount=0.5, stop_loss=1176.0, protection="app"),
        Position(id=3, symbol="LTC/BTC", side="long", opened_at=1_700_000_120_000, amount=3.0, entry_price=0.0021,
                 max_amount=3.0),
    ])
    model = tab.open_model
    col = next(i for i, c in enumerate(model.columns) if c.field == "protection")
    assert model.headerData(col, Qt.Orientation.Horizontal) == "Stops at"
    by_symbol = {model.record(r).symbol: model.index(r, col).data() for r in range(model.rowCount())}
    assert by_symbol == {"BTC/USDT": "exchange", "ETH/USDT": "app", "LTC/BTC": "–"}
    shots = os.environ.get("CTS_SHOTS") or str(tmp_path)
    assert tab.grab().save(os.path.join(shots, "positions_stops_at.png"))
