"""A WHEP viewer that joins, says so, and then waits to be killed (never leaves by itself).

``python -m tests.web.vanishing_viewer URL ROOM TOKEN``: the test kills it with SIGKILL, as a
crashed laptop or a pulled cable would end a student's player, without DELETE or DTLS close.
"""

from __future__ import annotations

import asyncio
import sys

from streaming.ice import set_ice_addresses
from tests.web.whep_client import WhepClient


async def main(url: str, room: str, token: str) -> None:
    set_ice_addresses(["127.0.0.1"])
    client = WhepClient(url, room, token)
    response = await client.join()
    if response.status_code != 201:
        print(f"refused {response.status_code} {response.text}", flush=True)
        return
    frames, _ = await client.frames(want=5, timeout=20)
    print(f"receiving {len(frames)} {client.location}", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
