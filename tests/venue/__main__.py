"""Run the local venue: ``python -m tests.venue --port 8765 [--key K --secret S]``.

Point a connection at it with base URL ``http://127.0.0.1:8765``. A demo account is created
(key/secret printed) with 10,000 USDT, 1 BTC and 10 ETH; ``--tick SECONDS`` moves the recorded
price paths one candle on every SECONDS.
"""
from __future__ import annotations

import argparse
import asyncio

from .server import VenueServer
from .state import VenueState


async def _main(args: argparse.Namespace) -> None:
    state = VenueState()
    state.add_account(args.key, args.secret, {"USDT": 10_000, "BTC": 1, "ETH": 10},
                      permissions=args.permissions.split(","))
    server = VenueServer(state, host=args.host, port=args.port)
    url = await server.start()
    print(f"local Binance-spot venue on {url}  key={args.key} secret={args.secret}  (Ctrl+C stops)", flush=True)
    try:
        while True:
            await asyncio.sleep(args.tick or 3600)
            if args.tick:
                state.advance()
    finally:
        await server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.venue", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--key", default="venueDemoKey0001")
    ap.add_argument("--secret", default="venueDemoSecret0001")
    ap.add_argument("--permissions", default="read,trade", help="comma list of read,trade,withdraw,margin,futures")
    ap.add_argument("--tick", type=float, default=0.0, help="advance the price paths one candle every TICK seconds")
    try:
        asyncio.run(_main(ap.parse_args()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
