/**
 * `wsframe listen <port>`: a standalone WebSocketServer that echoes (or prints) what arrives, with
 * its lifecycle logged on stderr. The glue between the library's server and the process.
 */
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloseCode, type WebSocket, WebSocketServer } from '../index';
import type { ListenArgs } from './args';
import type { CommandIo } from './io';
import { ExitCode } from './exit';
import { formatAgreed, formatClose, formatMessage } from './format';

/** `host:port`, with an IPv6 address in brackets as URLs write it (RFC 3986 §3.2.2). */
export function hostPort(address: string | undefined, port: number | undefined): string {
  const host = address ?? '?';
  return `${host.includes(':') ? `[${host}]` : host}:${port ?? '?'}`;
}

/** The URL clients use to reach a server bound to `address`. */
export function listenUrl(address: AddressInfo, path: string | undefined): string {
  return `ws://${hostPort(address.address, address.port)}${path ?? '/'}`;
}

/** Runs `wsframe listen` until SIGINT or SIGTERM (exit 0) or a failure to listen (exit 2). */
export function runListen(args: ListenArgs, io: CommandIo): Promise<ExitCode> {
  return new Promise((resolve) => {
    const log = (text: string): void => { if (!args.quiet) io.stderr.write(`${text}\n`); };
    const server = new WebSocketServer({
      port: args.port,
      host: args.host,
      path: args.path,
      protocols: args.protocols.length > 0 ? args.protocols : undefined,
      perMessageDeflate: args.compress,
    });
    let listening = false;
    let stopping = false;

    server.on('error', (err: Error & { code?: string }) => {
      io.stderr.write(`wsframe listen: cannot listen on ${hostPort(args.host, args.port)}: ${err.message}\n`);
      if (!listening) resolve(ExitCode.ConnectFailed);
    });
    server.on('listening', () => {
      listening = true;
      // Always printed, even with --quiet: with port 0 it is the only way to learn the port.
      io.stderr.write(`listening on ${listenUrl(server.address() as AddressInfo, args.path)}\n`);
    });
    server.on('rejected', (err: Error & { code?: string; status?: number }, req: http.IncomingMessage) => {
      const peer = hostPort(req.socket.remoteAddress, req.socket.remotePort);
      log(`[${peer}] handshake refused: ${err.code ?? err.message}${err.status === undefined ? '' : ` (HTTP ${err.status})`}`);
    });
    server.on('connection', (ws: WebSocket, req: http.IncomingMessage) => {
      const peer = hostPort(req.socket.remoteAddress, req.socket.remotePort);
      log(`[${peer}] connected ${req.url ?? '/'} (${formatAgreed(ws)})`);
      ws.on('message', (data: string | Buffer, isBinary: boolean) => {
        if (args.print) {
          if (!io.stdout.write(formatMessage(data, isBinary, args.output, `[${peer}] `))) {
            ws.pause();
            io.stdout.once('drain', () => { ws.resume(); });
          }
        } else if (!ws.send(data, isBinary)) {
          // The peer reads its echoes slower than it sends: stop reading from it until it catches up.
          ws.pause();
          ws.once('drain', () => { ws.resume(); });
        }
      });
      ws.on('error', (err: Error & { code?: string; closeCode?: number }) => {
        log(`[${peer}] error: ${err.code ?? ''}${err.closeCode === undefined ? '' : ` (${err.closeCode})`}: ${err.message}`);
      });
      ws.on('close', (code: number, reason: string) => { log(`[${peer}] closed: ${formatClose(code, reason)}`); });
    });

    const stop = (): void => {
      if (stopping) {
        // A second signal: do not wait for peers that do not answer our close.
        resolve(ExitCode.Interrupted);
        return;
      }
      stopping = true;
      log(`closing ${server.clients.size} connection${server.clients.size === 1 ? '' : 's'} (signal again to stop at once)`);
      server.close(CloseCode.GoingAway).then(() => { resolve(ExitCode.Ok); }, () => { resolve(ExitCode.Ok); });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
