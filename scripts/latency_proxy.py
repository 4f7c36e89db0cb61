#!/usr/bin/env python3
"""A TCP forwarder that adds network latency: what a client in front of it sees is a registry
RTT_MS milliseconds away, as registries on the internet are (this machine's kernel has no
netem). Each chunk is passed on RTT_MS/2 after it arrived, in order, in both directions; what
a client sends in its connection's first RTT_MS waits for that to pass, as for the TCP
handshake a real network would have cost (the local kernel completes it at once). Used by `RTT_MS=… bash
scripts/bench-verify.sh`.

Usage: latency_proxy.py LISTEN_PORT UPSTREAM_HOST:PORT RTT_MS
(LISTEN_PORT 0: a free one; prints "ready PORT" once listening)
"""
import asyncio
import sys
import time

listen_port, upstream, rtt_ms = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
up_host, up_port = upstream.rsplit(":", 1)
ONE_WAY = rtt_ms / 2000.0
RTT = rtt_ms / 1000.0


async def pump(reader, writer, not_before):
    """Read chunks as they come; a second task writes each when its delay is over (and not
    before `not_before` + the one-way delay)."""
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    pass
                return
            writer.write(data)
            try:
                await writer.drain()
            except OSError:
                return

    task = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(1 << 16)
            due = max(time.monotonic(), not_before) + ONE_WAY
            await queue.put((due, data or None))
            if not data:
                break
    except OSError:
        await queue.put((time.monotonic(), None))
    await task


async def handle(client_reader, client_writer):
    connected = time.monotonic() + RTT
    try:
        up_reader, up_writer = await asyncio.open_connection(up_host, int(up_port))
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(
        pump(client_reader, up_writer, connected),
        pump(up_reader, client_writer, 0.0),
        return_exceptions=True,
    )
    for w in (up_writer, client_writer):
        w.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    print("ready", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
