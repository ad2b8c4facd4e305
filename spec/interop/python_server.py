"""A python-websockets echo server for spec/interop/python.spec.ts.

Usage: /usr/bin/python3 python_server.py

Listens on 127.0.0.1 on a free port and prints JSON lines on stdout:
  {"event": "listening", "port": N}          once, when ready
  {"event": "closed", "code": C, "reason": R}  for each connection, with the close code and
                                               reason the client sent
Every message is echoed with its type, except the text "close me", which makes the server close
the connection with 4001 "python server bye". Stops when stdin is closed.
Written for Debian's python3-websockets 10.4 (asyncio API).
"""

import asyncio
import json
import sys

import websockets


def report(**fields):
    print(json.dumps(fields), flush=True)


async def handler(ws, path=None):
    try:
        async for message in ws:
            if message == "close me":
                await ws.close(4001, "python server bye")
                break
            await ws.send(message)
    except websockets.exceptions.ConnectionClosed:
        pass
    await ws.wait_closed()
    report(event="closed", code=ws.close_code, reason=ws.close_reason)


async def main():
    loop = asyncio.get_running_loop()
    stdin_closed = loop.create_future()

    def on_stdin():
        if not sys.stdin.buffer.read1(65536) and not stdin_closed.done():
            stdin_closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        report(event="listening", port=port)
        await stdin_closed
    loop.remove_reader(sys.stdin.fileno())


if __name__ == "__main__":
    asyncio.run(main())
