"""A python-websockets client for spec/interop/python.spec.ts.

Usage: /usr/bin/python3 python_client.py URL SCENARIO

Scenarios:
  echo          send text and binary messages (short, 126 bytes, 65536 bytes) and check each
                comes back unchanged and with its type; ping and wait for the pong; then close
                with 1000 and a reason.
  server-close  ask the server to close ("close me") and report the code and reason it sent.

Prints one JSON object on stdout. Written for Debian's python3-websockets 10.4 (asyncio API;
websockets.sync only exists from 11.0 on) and works with later versions too.
"""

import asyncio
import json
import sys

import websockets

TIMEOUT = 15  # seconds for any single step


def text_of_bytes(n):
    """A str of exactly n UTF-8 bytes mixing 1- to 4-byte characters."""
    pieces = ["a", "\u00e9", "\u20ac", "\U0001d11e", " ", "Z"]
    out, length, i = [], 0, 0
    while True:
        piece = pieces[i % len(pieces)]
        size = len(piece.encode("utf-8"))
        if length + size > n:
            break
        out.append(piece)
        length += size
        i += 1
    return "".join(out) + "x" * (n - length)


def binary_of_bytes(n):
    return bytes((i * 31 + 0x80) & 0xFF for i in range(n))


async def step(awaitable):
    return await asyncio.wait_for(awaitable, TIMEOUT)


def kind(value):
    return "text" if isinstance(value, str) else "binary"


def size(value):
    return len(value.encode("utf-8")) if isinstance(value, str) else len(value)


async def echo(url):
    result = {"version": websockets.__version__, "messages": []}
    async with websockets.connect(url, max_size=None, ping_interval=None, close_timeout=TIMEOUT) as ws:
        cases = [
            ("text", "h\u00e9llo from python"),
            ("binary", binary_of_bytes(256)),
            ("text-126", text_of_bytes(126)),
            ("binary-126", binary_of_bytes(126)),
            ("text-65536", text_of_bytes(65536)),
            ("binary-65536", binary_of_bytes(65536)),
        ]
        for name, sent in cases:
            await step(ws.send(sent))
            received = await step(ws.recv())
            result["messages"].append({
                "name": name,
                "sent_type": kind(sent),
                "received_type": kind(received),
                "sent_length": size(sent),
                "received_length": size(received),
                "equal": received == sent,
                "sample": received[:40] if isinstance(received, str) else received[:20].hex(),
            })
        # The waiter resolves only on a pong whose payload matches this ping's.
        waiter = await step(ws.ping(b"python ping"))
        await step(waiter)
        result["pong"] = True
        await step(ws.close(1000, "python says bye"))
        # What the server answered with (its close frame).
        result["close_code"] = ws.close_code
        result["close_reason"] = ws.close_reason
    return result


async def server_close(url):
    result = {"version": websockets.__version__}
    async with websockets.connect(url, ping_interval=None, close_timeout=TIMEOUT) as ws:
        await step(ws.send("close me"))
        try:
            while True:
                await step(ws.recv())
        except websockets.exceptions.ConnectionClosedOK:
            result["closed_ok"] = True
        except websockets.exceptions.ConnectionClosedError:
            result["closed_ok"] = False
        await step(ws.wait_closed())
        result["close_code"] = ws.close_code
        result["close_reason"] = ws.close_reason
    return result


SCENARIOS = {"echo": echo, "server-close": server_close}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in SCENARIOS:
        print("usage: python_client.py URL " + "|".join(SCENARIOS), file=sys.stderr)
        return 2
    result = asyncio.run(SCENARIOS[sys.argv[2]](sys.argv[1]))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
