"""Shared pieces of the Python peers of the permessage-deflate interop specs
(spec/interop/deflate-*.spec.ts): the payloads, the exchange a client runs, and how results
are printed. spec/interop/deflate-helpers.ts builds the same payloads in TypeScript, byte for byte.

The exchange a client runs against an echo server:
  1. echo: text and binary messages of 200 B, 16 KiB and 1 MiB of repetitive JSON, each sent and
     its echo awaited and compared;
  2. burst: a 1 MiB text message, a ping, a 1 MiB binary message and a close (1000), sent back to
     back without waiting; then everything that comes back is collected: both echoes, the pong,
     the server's close, in the order they arrive.
Results are one JSON object on stdout: sizes and SHA-256 digests rather than megabytes of data.
"""

import asyncio
import hashlib
import json
import sys

SIZES = [200, 16 * 1024, 1024 * 1024]
BURST_SIZE = 1024 * 1024
BURST_TEXT_SEED = 101
BURST_BINARY_SEED = 202
PING_PAYLOAD = b"mid-burst"
TIMEOUT = 20  # seconds for any single step


def record(i):
    return '{"seq":%d,"user":"user-%d","text":"message %d of the stream","tags":["a","b"],"ok":%s}' % (
        i, i % 7, i, "true" if i % 2 == 0 else "false")


def json_text(size, seed):
    """Exactly `size` bytes of ASCII: a JSON array of records, cut at `size`."""
    parts = ["["]
    length = 1
    i = 0
    while length < size:
        piece = ("," if i else "") + record(seed + i)
        parts.append(piece)
        length += len(piece)
        i += 1
    return "".join(parts)[:size]


def json_binary(size, seed):
    """The same bytes with 0xff every 997 bytes: never valid UTF-8, so text/binary mix-ups show."""
    data = bytearray(json_text(size, seed).encode("ascii"))
    for j in range(0, size, 997):
        data[j] = 0xFF
    return bytes(data)


def payload(kind, size, seed):
    return json_text(size, seed) if kind == "text" else json_binary(size, seed)


def echo_cases():
    """(kind, size, seed) of the echo phase, in order."""
    cases = []
    for size in SIZES:
        cases.append(("text", size, size))
        cases.append(("binary", size, size + 1))
    return cases


def as_bytes(data):
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def kind_of(data):
    return "text" if isinstance(data, str) else "binary"


def digest(data):
    return hashlib.sha256(as_bytes(data)).hexdigest()


def describe(data):
    return {"kind": kind_of(data), "size": len(as_bytes(data)), "sha256": digest(data)}


ERROR_TEXT_LIMIT = 300


def error_text(exc):
    """An exception as one short line (with its cause): some carry whole messages in their text."""
    cause = exc.__cause__ or exc.__context__
    text = f"{type(exc).__name__}: {exc}"
    if cause is not None:
        text += f" (from {type(cause).__name__}: {cause})"
    return text if len(text) <= ERROR_TEXT_LIMIT else text[:ERROR_TEXT_LIMIT] + "..."


def print_json(value):
    print(json.dumps(value), flush=True)


def config_from_argv(position):
    """The JSON configuration given as argument `position` ('{}' when absent)."""
    return json.loads(sys.argv[position]) if len(sys.argv) > position else {}


def stdin_closed(loop):
    """A future that completes when stdin reaches its end: the spec closes our stdin to stop a
    server. Call stop_watching_stdin(loop) once it did."""
    closed = loop.create_future()

    def on_stdin():
        if not sys.stdin.buffer.read1(65536) and not closed.done():
            closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    return closed


def stop_watching_stdin(loop):
    loop.remove_reader(sys.stdin.fileno())


def run(script, client, server):
    """The command line every peer takes: `client URL [CONFIG]` or `server [CONFIG]`."""
    if len(sys.argv) >= 3 and sys.argv[1] == "client":
        print_json(asyncio.run(client(sys.argv[2], config_from_argv(3))))
        return 0
    if len(sys.argv) >= 2 and sys.argv[1] == "server":
        asyncio.run(server(config_from_argv(2)))
        return 0
    print(f"usage: {script} client URL [CONFIG] | server [CONFIG]", file=sys.stderr)
    return 2
