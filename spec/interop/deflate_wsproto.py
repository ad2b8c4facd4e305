"""A wsproto peer for spec/interop/deflate-python.spec.ts, compression on.

Usage:
  /usr/bin/python3 deflate_wsproto.py client URL [CONFIG]
  /usr/bin/python3 deflate_wsproto.py server [CONFIG]

CONFIG is a JSON object of wsproto.extensions.PerMessageDeflate arguments (client_no_context_takeover,
client_max_window_bits, server_no_context_takeover, server_max_window_bits); {} is its default.
wsproto is sans-I/O: this file moves its bytes over asyncio streams. Output as in
deflate_websockets.py; wsproto reports pings, so the server's event list includes them.
Written for Debian's python3-wsproto 1.2.
"""

import asyncio
import sys
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection, BytesMessage, CloseConnection, Ping, Pong, RejectConnection, Request, TextMessage,
)
from wsproto.extensions import PerMessageDeflate

from deflate_common import (
    BURST_BINARY_SEED, BURST_SIZE, BURST_TEXT_SEED, PING_PAYLOAD, TIMEOUT, describe, echo_cases,
    error_text, payload, print_json, run, stdin_closed, stop_watching_stdin,
)

try:
    from importlib.metadata import version
    LIBRARY = "wsproto " + version("wsproto")
except Exception:  # metadata missing: the name is enough
    LIBRARY = "wsproto"


def header(head, name):
    """The value of header `name` in a raw HTTP head, or None."""
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return None


async def handshake_events(reader, conn):
    """Reads until wsproto has the handshake's events: (the HTTP head, the events), or None when
    the peer closes first."""
    head = b""
    while True:
        data = await asyncio.wait_for(reader.read(65536), TIMEOUT)
        if not data:
            return None
        if b"\r\n\r\n" not in head:
            head += data
        conn.receive_data(data)
        events = list(conn.events())
        if events:
            return head.split(b"\r\n\r\n")[0], events


class Peer:
    """One connection: wsproto plus a socket, with messages put back together from their pieces."""

    def __init__(self, conn, reader, writer):
        self.conn = conn
        self.reader = reader
        self.writer = writer
        self.pending = []
        self.partial = None

    def send(self, event):
        self.writer.write(self.conn.send(event))

    async def events(self):
        """The next events, whole messages only; a lost connection is a close with 1006."""
        while True:
            data = await asyncio.wait_for(self.reader.read(65536), TIMEOUT)
            self.conn.receive_data(data or None)
            out = []
            for event in self.conn.events():
                if isinstance(event, (TextMessage, BytesMessage)):
                    empty = "" if isinstance(event, TextMessage) else b""
                    self.partial = (self.partial if self.partial is not None else empty) + event.data
                    if event.message_finished:
                        out.append(self.partial)
                        self.partial = None
                else:
                    out.append(event)
            if out:
                return out

    async def next(self):
        while not self.pending:
            self.pending.extend(await self.events())
        return self.pending.pop(0)


def message_event(data):
    return TextMessage(data=data) if isinstance(data, str) else BytesMessage(data=data)


async def client(url, config):
    result = {"library": LIBRARY}
    target = urlsplit(url)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(target.hostname, target.port), TIMEOUT)
    conn = WSConnection(ConnectionType.CLIENT)
    peer = Peer(conn, reader, writer)
    try:
        request = conn.send(Request(host=f"{target.hostname}:{target.port}", target=target.path or "/",
                                    extensions=[PerMessageDeflate(**config)]))
        result["offered"] = header(request, b"sec-websocket-extensions")
        writer.write(request)
        handshake = await handshake_events(reader, conn)
        if handshake is None:
            raise ConnectionError("closed during the handshake")
        head, events = handshake
        result["agreed"] = header(head, b"sec-websocket-extensions")
        if not isinstance(events[0], AcceptConnection):
            result["error"] = f"handshake: {type(events[0]).__name__}"
            return result
        result["extensions"] = [repr(e) for e in events[0].extensions]
        peer.pending.extend(events[1:])
    except Exception as exc:  # wsproto raises from the response it cannot take
        result["error"] = f"handshake: {error_text(exc)}"
        writer.close()
        return result

    phase = "echo"
    try:
        result["echo"] = []
        for kind, size, seed in echo_cases():
            data = payload(kind, size, seed)
            peer.send(message_event(data))
            back = await peer.next()
            result["echo"].append({"sent": describe(data), "received": describe(back), "equal": back == data})

        phase = "burst"
        text = payload("text", BURST_SIZE, BURST_TEXT_SEED)
        binary = payload("binary", BURST_SIZE, BURST_BINARY_SEED)
        peer.send(message_event(text))
        peer.send(Ping(payload=PING_PAYLOAD))
        peer.send(message_event(binary))
        peer.send(CloseConnection(code=1000, reason="burst done"))
        order, received, pong, close = [], [], False, None
        while close is None:
            event = await peer.next()
            if isinstance(event, (str, bytes)):
                received.append(event)
                order.append(f"{describe(event)['kind']} {describe(event)['size']}")
            elif isinstance(event, Pong):
                pong = event.payload == PING_PAYLOAD
                order.append("pong")
            elif isinstance(event, Ping):
                peer.send(event.response())
            elif isinstance(event, CloseConnection):
                close = event
                order.append(f"close {event.code}")
        result["burst"] = {
            "received": [describe(m) for m in received],
            "equal": [a == b for a, b in zip(received, [text, binary])],
            "order": order,
            "pong": pong,
            "close_code": close.code,
            "close_reason": close.reason or "",
        }
    except Exception as exc:
        result["error"] = f"{phase}: {error_text(exc)}"
    finally:
        writer.close()
    return result


async def serve_connection(reader, writer, config):
    info = {"event": "closed", "library": LIBRARY, "events": []}
    conn = WSConnection(ConnectionType.SERVER)
    peer = Peer(conn, reader, writer)
    try:
        handshake = await handshake_events(reader, conn)
        if handshake is None:
            return
        head, events = handshake
        info["offered"] = header(head, b"sec-websocket-extensions")
        if not isinstance(events[0], Request):
            info["error"] = f"handshake: {type(events[0]).__name__}"
            return
        response = conn.send(AcceptConnection(extensions=[PerMessageDeflate(**config)]))
        info["agreed"] = header(response.split(b"\r\n\r\n")[0], b"sec-websocket-extensions")
        writer.write(response)
        peer.pending.extend(events[1:])
        while True:
            event = await peer.next()
            if isinstance(event, (str, bytes)):
                info["events"].append(describe(event))
                # Once the client's close has been read (wsproto reads ahead), nothing more is sent
                # but the closing reply.
                if conn.state == ConnectionState.OPEN:
                    peer.send(message_event(event))
            elif isinstance(event, Ping):
                info["events"].append({"kind": "ping", "size": len(event.payload)})
                if conn.state == ConnectionState.OPEN:
                    peer.send(event.response())
            elif isinstance(event, CloseConnection):
                info["close_code"] = event.code
                info["close_reason"] = event.reason or ""
                if event.code != 1006:
                    peer.send(event.response())
                break
    except Exception as exc:
        info["error"] = f"{error_text(exc)}"
    finally:
        print_json(info)
        writer.close()


async def server(config):
    loop = asyncio.get_running_loop()
    closed = stdin_closed(loop)
    running = await asyncio.start_server(lambda r, w: serve_connection(r, w, config), "127.0.0.1", 0)
    print_json({"event": "listening", "port": running.sockets[0].getsockname()[1], "library": LIBRARY})
    await closed
    stop_watching_stdin(loop)
    running.close()


def main():
    return run("deflate_wsproto.py", client, server)


if __name__ == "__main__":
    sys.exit(main())
