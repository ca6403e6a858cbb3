"""The Market tab's data service against the local venue: reads go through the shared request
budget, and stop (the last answer kept, saying why) once the budget is half used, so display
reads never starve an engine."""
from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import pytest

from cts_desktop.exchange.errors import GatewayError
from cts_desktop.services import AppServices
from tests.venue.harness import connection_for


def test_display_reads_stop_when_the_budget_is_half_used(dirs, venue):
    app = AppServices(*dirs)
    app.save_connection(connection_for(venue, name="v", symbols=["BTC/USDT", "ETH/USDT"], rate_limit_per_second=500))
    md = app.market.data

    async def scenario():
        try:
            wl = await md.watchlist("v")
            assert [r.symbol for r in wl.rows] == ["BTC/USDT", "ETH/USDT"] and all(r.last for r in wl.rows)
            book = await md.order_book("v", "BTC/USDT")
            assert len(book.bids) == 15 and not book.note
            for _ in range(40):  # someone else on this IP spends the venue's 1,200 weight a minute (40 a call)
                try:
                    with urllib.request.urlopen(venue.base_url + "/api/v3/ticker/24hr", timeout=10) as r:  # noqa: S310
                        r.read()
                except urllib.error.HTTPError as err:
                    assert err.code == 429
                    break
            with pytest.raises(GatewayError):  # HTTP 429: the shared budget backs off
                await md.order_book("v", "ETH/USDT")
            before = len(venue.requests)
            skipped = await md.order_book("v", "LTC/BTC")
            assert skipped.note.startswith("Not read:") and "backing off" in skipped.note
            assert "the engine goes first" in skipped.note
            assert not skipped.bids and len(venue.requests) == before  # no request left
        finally:
            await app.market.close()

    asyncio.run(scenario())
    app.close()
