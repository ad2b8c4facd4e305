"""An aiohttp peer for spec/interop/deflate-python.spec.ts, compression on.

Usage:
  /usr/bin/python3 deflate_aiohttp.py client URL [CONFIG]
  /usr/bin/python3 deflate_aiohttp.py server [CONFIG]

CONFIG (JSON): client {"compress": 9-15} (ws_connect's compress: the server window it asks for,
15 by default here; aiohttp's own default is 0, no compression); server {"compress": true|false}
(WebSocketResponse's compress, true by default). Both run with autoping off so pings and pongs
are seen (and answered by hand). Output as in deflate_websockets.py. Written for Debian's
python3-aiohttp 3.8.
"""

import asyncio
import sys

import aiohttp
from aiohttp import WSMsgType, web

from deflate_common import (
    BURST_BINARY_SEED, BURST_SIZE, BURST_TEXT_SEED, PING_PAYLOAD, TIMEOUT, describe, echo_cases,
    error_text, payload, print_json, run, stdin_closed, stop_watching_stdin,
)

LIBRARY = "aiohttp " + aiohttp.__version__


async def next_message(ws):
    """The next data message, answering pings; a close or an error ends with an exception."""
    while True:
        msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
        if msg.type == WSMsgType.PING:
            await ws.pong(msg.data)
            continue
        if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            return msg.data
        raise ConnectionError(f"{msg.type.name} {msg.data!r} {msg.extra!r}")


async def send(ws, data):
    if isinstance(data, str):
        await ws.send_str(data)
    else:
        await ws.send_bytes(data)


async def client(url, config):
    result = {"library": LIBRARY}
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(url, compress=config.get("compress", 15), autoping=False,
                                          max_msg_size=0, timeout=TIMEOUT)
        except Exception as exc:  # the handshake failed: report how
            result["error"] = f"handshake: {error_text(exc)}"
            return result
        # The request and response of the handshake (ClientWebSocketResponse keeps the response).
        response = getattr(ws, "_response", None)
        if response is not None:
            result["offered"] = response.request_info.headers.get("Sec-WebSocket-Extensions")
            result["agreed"] = response.headers.get("Sec-WebSocket-Extensions")
        result["compress"] = ws.compress
        phase = "echo"
        try:
            result["echo"] = []
            for kind, size, seed in echo_cases():
                data = payload(kind, size, seed)
                await send(ws, data)
                back = await next_message(ws)
                result["echo"].append({"sent": describe(data), "received": describe(back), "equal": back == data})

            phase = "burst"
            text = payload("text", BURST_SIZE, BURST_TEXT_SEED)
            binary = payload("binary", BURST_SIZE, BURST_BINARY_SEED)
            await send(ws, text)
            await ws.ping(PING_PAYLOAD)
            await send(ws, binary)
            # ws.close() would read (and drop) everything until the server's close: send the close
            # frame by hand and read on.
            await ws._writer.close(1000, "burst done")
            order, received, pong, close = [], [], False, None
            while close is None:
                msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    received.append(msg.data)
                    order.append(f"{describe(msg.data)['kind']} {describe(msg.data)['size']}")
                elif msg.type == WSMsgType.PONG:
                    pong = msg.data == PING_PAYLOAD
                    order.append("pong")
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                else:
                    close = msg
                    order.append(f"close {msg.data}")
            result["burst"] = {
                "received": [describe(m) for m in received],
                "equal": [a == b for a, b in zip(received, [text, binary])],
                "order": order,
                "pong": pong,
                "close_code": close.data if close.type == WSMsgType.CLOSE else None,
                "close_reason": close.extra if close.type == WSMsgType.CLOSE else f"{close.type.name}",
            }
        except Exception as exc:
            result["error"] = f"{phase}: {error_text(exc)}"
        finally:
            await ws.close()
    return result


def make_handler(config):
    async def handler(request):
        ws = web.WebSocketResponse(compress=config.get("compress", True), autoping=False, max_msg_size=0)
        info = {
            "event": "closed",
            "library": LIBRARY,
            "offered": request.headers.get("Sec-WebSocket-Extensions"),
            "events": [],
        }
        try:
            await ws.prepare(request)
            info["agreed"] = ws.headers.get("Sec-WebSocket-Extensions")
            info["compress"] = ws.compress
            while True:
                msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    info["events"].append(describe(msg.data))
                    await send(ws, msg.data)
                elif msg.type == WSMsgType.PING:
                    info["events"].append({"kind": "ping", "size": len(msg.data)})
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.CLOSE:
                    info["close_code"] = msg.data
                    info["close_reason"] = msg.extra or ""
                    await ws.close()
                    break
                elif msg.type != WSMsgType.PONG:
                    info["error"] = f"{msg.type.name} {msg.data!r}"[:300]
                    break
        except Exception as exc:
            info["error"] = f"{error_text(exc)}"
        print_json(info)
        return ws
    return handler


async def server(config):
    loop = asyncio.get_running_loop()
    closed = stdin_closed(loop)
    app = web.Application()
    app.router.add_get("/", make_handler(config))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print_json({"event": "listening", "port": port, "library": LIBRARY})
    await closed
    stop_watching_stdin(loop)
    await runner.cleanup()


def main():
    return run("deflate_aiohttp.py", client, server)


if __name__ == "__main__":
    sys.exit(main())
