"""A python-websockets peer for spec/interop/deflate-python.spec.ts, compression on.

Usage:
  /usr/bin/python3 deflate_websockets.py client URL [CONFIG]
  /usr/bin/python3 deflate_websockets.py server [CONFIG]

CONFIG is a JSON object of ClientPerMessageDeflateFactory / ServerPerMessageDeflateFactory
arguments (server_no_context_takeover, client_no_context_takeover, server_max_window_bits,
client_max_window_bits). Absent or {}: the library's own default, compression="deflate".

client: runs the exchange of deflate_common.py against an echo server and prints one JSON object:
  offered / agreed (the Sec-WebSocket-Extensions it sent and got back), echo, burst; or error.
server: listens on 127.0.0.1 on a free port, prints {"event": "listening", "port": N}, echoes
  every message, and prints one JSON line per connection when it closes: offered / agreed, the
  messages received (kind, size, sha256), the close code and reason. A negotiation that raises
  prints {"event": "negotiation-failed", "error": ...}. Stops when stdin is closed.
Written for Debian's python3-websockets 10.4 (asyncio API).
"""

import asyncio
import sys

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
    enable_server_permessage_deflate,
)

from deflate_common import (
    BURST_BINARY_SEED, BURST_SIZE, BURST_TEXT_SEED, PING_PAYLOAD, TIMEOUT, describe, echo_cases,
    error_text, payload, print_json, run, stdin_closed, stop_watching_stdin,
)

LIBRARY = "websockets " + websockets.__version__


async def step(awaitable):
    return await asyncio.wait_for(awaitable, TIMEOUT)


async def client(url, config):
    result = {"library": LIBRARY}
    options = {"compression": "deflate"} if not config else {
        "compression": None, "extensions": [ClientPerMessageDeflateFactory(**config)]}
    try:
        ws = await step(websockets.connect(url, max_size=None, ping_interval=None, close_timeout=TIMEOUT, **options))
    except Exception as exc:  # the handshake failed: report how
        result["error"] = error_text(exc)
        return result
    result["offered"] = ws.request_headers.get("Sec-WebSocket-Extensions")
    result["agreed"] = ws.response_headers.get("Sec-WebSocket-Extensions")
    result["extensions"] = [repr(e) for e in ws.extensions]
    phase = "echo"
    try:
        result["echo"] = []
        for kind, size, seed in echo_cases():
            data = payload(kind, size, seed)
            await step(ws.send(data))
            back = await step(ws.recv())
            result["echo"].append({"sent": describe(data), "received": describe(back), "equal": back == data})

        phase = "burst"
        text = payload("text", BURST_SIZE, BURST_TEXT_SEED)
        binary = payload("binary", BURST_SIZE, BURST_BINARY_SEED)
        await step(ws.send(text))
        pong = await step(ws.ping(PING_PAYLOAD))
        await step(ws.send(binary))
        await step(ws.close(1000, "burst done"))
        # Messages that arrived before the server's close are still queued.
        received = []
        while True:
            try:
                received.append(await step(ws.recv()))
            except websockets.exceptions.ConnectionClosed:
                break
        result["burst"] = {
            "received": [describe(m) for m in received],
            "equal": [a == b for a, b in zip(received, [text, binary])],
            "pong": pong.done() and not pong.cancelled(),
            "close_code": ws.close_code,
            "close_reason": ws.close_reason,
        }
    except Exception as exc:
        result["error"] = f"{phase}: {error_text(exc)}"
        result["close_code"] = ws.close_code
    finally:
        await ws.close()
    return result


def server_factory(config):
    factory = enable_server_permessage_deflate(None)[0] if not config else ServerPerMessageDeflateFactory(**config)
    negotiate = factory.process_request_params

    def reporting(params, accepted):
        try:
            return negotiate(params, accepted)
        except Exception as exc:
            print_json({"event": "negotiation-failed", "error": error_text(exc)})
            raise

    factory.process_request_params = reporting
    return factory


async def handler(ws, path=None):
    info = {
        "event": "closed",
        "library": LIBRARY,
        "offered": ws.request_headers.get("Sec-WebSocket-Extensions"),
        "agreed": ws.response_headers.get("Sec-WebSocket-Extensions"),
        "events": [],
    }
    try:
        async for message in ws:
            info["events"].append(describe(message))
            try:
                await ws.send(message)
            except websockets.exceptions.ConnectionClosed:
                # The client's close came while this echo was being written (a slow echo of a
                # large message): the messages it sent before its close are still queued here and
                # must be recorded, so read on until the iteration ends.
                pass
    except websockets.exceptions.ConnectionClosed:
        pass
    await ws.wait_closed()
    info["close_code"] = ws.close_code
    info["close_reason"] = ws.close_reason
    print_json(info)


async def server(config):
    loop = asyncio.get_running_loop()
    closed = stdin_closed(loop)
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None, ping_interval=None, compression=None,
                                extensions=[server_factory(config)]) as running:
        print_json({"event": "listening", "port": next(iter(running.sockets)).getsockname()[1], "library": LIBRARY})
        await closed
    stop_watching_stdin(loop)


def main():
    return run("deflate_websockets.py", client, server)


if __name__ == "__main__":
    sys.exit(main())
