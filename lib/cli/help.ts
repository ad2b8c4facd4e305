/** The help texts of `wsframe` and its subcommands. */
import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT } from '../index';
import { type CommandName, DEFAULT_LISTEN_HOST, DEFAULT_PREVIEW_BYTES } from './args';
import { EXIT_CODE_HELP } from './exit';
import { EOF_PONG_TIMEOUT } from './connect';
import { BINARY_PREVIEW_BYTES } from './format';
import { PROGRESS_INTERVAL } from './progress';

const OUTPUT_HELP = `Received binary messages are printed as one line "[binary N bytes] <hex of the first
${BINARY_PREVIEW_BYTES} bytes>" by default; --hex prints the whole message in hex, --raw writes its bytes as
they are (no newline), e.g. to save a download. Text messages are printed as they are, one per line.`;

const MAIN = `wsframe: WebSocket client, echo server and frame inspector

Usage:
  wsframe connect <url> [options]     talk to a WebSocket server over stdin/stdout
  wsframe listen <port> [options]     run an echo (or --print) server
  wsframe inspect [file|-] [options]  decode a byte capture frame by frame
  wsframe <command> --help            options of one command
  wsframe --version

${EXIT_CODE_HELP}
`;

const CONNECT = `Usage: wsframe connect <url> [options]

Connects to a ws:// or wss:// URL. Each line read from stdin is sent as a text message; every
message received is written to stdout. Connection details, the close code and errors go to
stderr, so stdout holds only what the server sent.

When stdin ends, wsframe sends a ping and, once its pong is back (so the replies to everything
sent were printed first; at most ${EOF_PONG_TIMEOUT / 1000} s), closes with 1000 and waits for the server's close.
Ctrl-C closes the same way; a second Ctrl-C stops at once.

Options:
  -p, --protocol <name>   offer a subprotocol (repeatable, in order of preference)
  -H, --header 'Name: value'  add a request header (repeatable)
  -o, --origin <origin>   send an Origin header
      --compress          offer permessage-deflate (RFC 7692)
  -b, --binary            send stdin as binary messages, one per read (up to 64 KiB), unsplit
                          into lines: \`wsframe connect -b URL < file\`
      --hex               print received binary messages in full hex
      --raw               write received binary messages' bytes to stdout as they are
      --keep-open         do not close when stdin ends; wait for the server to close
  -k, --insecure          wss: accept any server certificate
      --ca <file>         wss: trust the CA certificate(s) in this PEM file
      --progress          print bytes sent/received on stderr every ${PROGRESS_INTERVAL / 1000} s (default: when
                          stderr is a terminal and stdin is not)
  -q, --quiet             print nothing on stderr but errors
  -h, --help

${OUTPUT_HELP}

The handshake must finish within ${DEFAULT_HANDSHAKE_TIMEOUT / 1000} s; the server's close must follow ours within
${DEFAULT_CLOSE_TIMEOUT / 1000} s. Messages up to 64 MiB are accepted.

${EXIT_CODE_HELP}
`;

const LISTEN = `Usage: wsframe listen <port> [options]

Runs a WebSocket server on <port> (0 picks a free one) and prints the URL it listens on to
stderr. By default it echoes every message back to its sender. Connections, closes and errors
are logged on stderr. Ctrl-C or SIGTERM closes every connection (1001) and exits.

Options:
      --host <address>    address to bind (default ${DEFAULT_LISTEN_HOST}; 0.0.0.0 for every interface)
      --path <path>       accept upgrades to this path only (others get 404)
      --print             print what arrives, as "[address:port] message", instead of echoing
  -p, --protocol <name>   a subprotocol the server speaks (repeatable, in order of preference)
      --compress          accept permessage-deflate (RFC 7692)
      --hex, --raw        how --print writes binary messages (see below)
  -q, --quiet             do not log connections on stderr
  -h, --help

${OUTPUT_HELP}
With --print (and without --raw) each line starts with the sender's address.

${EXIT_CODE_HELP}
`;

const INSPECT = `Usage: wsframe inspect [file|-] [options]

Decodes a capture of WebSocket bytes (one direction of a connection, from a file or stdin) and
prints one line per frame: offset, FIN, RSV bits, opcode, mask key, payload length and a preview
of the unmasked payload (text quoted, binary in hex, close frames as code and reason). A leading
HTTP head (the handshake) is skipped. Fragmented and compressed messages get a "message" line
once complete. The first protocol error is printed with its code, close code and byte offset,
with a hint; a capture that ends inside a frame is reported as truncated. Both exit with 4.

Options:
      --hex               the input is hex text: pairs of digits, any whitespace, optional 0x
      --role <role>       any (default): masked and unmasked frames are fine;
                          server: check as a server receiving them (client frames must be masked);
                          client: check as a client receiving them (server frames must not be)
      --max-payload <n>   largest frame payload accepted, in bytes (default 67108864, 64 MiB)
      --max-message <n>   largest message, inflated, in bytes (default 67108864, 64 MiB)
      --allow-non-minimal accept lengths not written in their shortest form
      --deflate           the frames use permessage-deflate: accept RSV1 and inflate messages
      --frames-only       check framing only, not message rules (fragment order, UTF-8 of
                          text, close codes)
      --preview <n>       payload bytes shown per frame (default ${DEFAULT_PREVIEW_BYTES})
  -h, --help

Example: printf '81 05 48 65 6c 6c 6f' | wsframe inspect --hex

${EXIT_CODE_HELP}
`;

/** The help text for `topic`, or the overview. */
export function helpText(topic: CommandName | undefined): string {
  switch (topic) {
    case 'connect':
      return CONNECT;
    case 'listen':
      return LISTEN;
    case 'inspect':
      return INSPECT;
    case undefined:
      return MAIN;
  }
}
