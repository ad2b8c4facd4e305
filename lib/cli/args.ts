/**
 * Command-line parsing for `wsframe`: argv in, a typed {@link Command} out. Pure (no I/O, no
 * process state), so every rule is unit-tested with argument vectors; main.ts acts on the result.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PAYLOAD, type DecoderRole, isToken, parseWebSocketUrl, WebSocketUsageError,
} from '../index';
import { subprotocolProblem } from '../handshake/headers';
import { errorDetail } from './format';

export type CommandName = 'connect' | 'listen' | 'inspect';

export const COMMAND_NAMES: readonly CommandName[] = ['connect', 'listen', 'inspect'];

/** How received binary messages are written to stdout. */
export type BinaryOutput = 'preview' | 'hex' | 'raw';

export interface ConnectArgs {
  url: string;
  protocols: string[];
  /** Extra request headers, repeated names joined with ", " (RFC 9110 §5.3). */
  headers: Record<string, string>;
  origin: string | undefined;
  compress: boolean;
  /** stdin is sent as binary messages (each read, up to 64 KiB) instead of one text message per line. */
  binary: boolean;
  output: BinaryOutput;
  /** Do not close when stdin ends: keep printing until the server closes. */
  keepOpen: boolean;
  insecure: boolean;
  /** Path of a PEM file with the CA certificate(s) to trust for wss:. */
  ca: string | undefined;
  /** true: always; false: never (--quiet); undefined: when stderr is a TTY and stdin is not. */
  progress: boolean | undefined;
  quiet: boolean;
}

export interface ListenArgs {
  port: number;
  host: string;
  path: string | undefined;
  /** Print what arrives instead of echoing it. */
  print: boolean;
  compress: boolean;
  protocols: string[];
  output: BinaryOutput;
  quiet: boolean;
}

export interface InspectArgs {
  /** A file path, or '-' for stdin. */
  file: string;
  hex: boolean;
  role: DecoderRole;
  maxPayload: number;
  maxMessage: number;
  allowNonMinimal: boolean;
  deflate: boolean;
  framesOnly: boolean;
  previewBytes: number;
}

export type Command =
  | { kind: 'help'; topic: CommandName | undefined }
  | { kind: 'version' }
  | { kind: 'connect'; args: ConnectArgs }
  | { kind: 'listen'; args: ListenArgs }
  | { kind: 'inspect'; args: InspectArgs }
  | { kind: 'usage-error'; message: string; topic: CommandName | undefined };

/** Default host `listen` binds: loopback, so a test server is never exposed by accident. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1';
/** Default payload preview of `inspect`, in bytes. */
export const DEFAULT_PREVIEW_BYTES = 64;

const MAX_PORT = 65535;

/** A usage problem found while reading one command's arguments; caught in parseCommandLine. */
function problem(detail: string): never {
  throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', detail);
}

/** Options `connect` and `listen` share: subprotocols, compression, and how messages are shown. */
const sharedOptions = {
  protocol: { type: 'string', short: 'p', multiple: true },
  compress: { type: 'boolean' },
  hex: { type: 'boolean' },
  raw: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

const connectOptions = {
  ...sharedOptions,
  header: { type: 'string', short: 'H', multiple: true },
  origin: { type: 'string', short: 'o' },
  binary: { type: 'boolean', short: 'b' },
  'keep-open': { type: 'boolean' },
  insecure: { type: 'boolean', short: 'k' },
  ca: { type: 'string' },
  progress: { type: 'boolean' },
} as const;

const listenOptions = {
  ...sharedOptions,
  host: { type: 'string' },
  path: { type: 'string' },
  print: { type: 'boolean' },
} as const;

const inspectOptions = {
  hex: { type: 'boolean' },
  role: { type: 'string' },
  'max-payload': { type: 'string' },
  'max-message': { type: 'string' },
  'allow-non-minimal': { type: 'boolean' },
  deflate: { type: 'boolean' },
  'frames-only': { type: 'boolean' },
  preview: { type: 'string' },
} as const;

/** True when argv asks for help before any `--` terminator. */
function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help') return true;
  }
  return false;
}

/** node:util parseArgs, its errors turned into usage problems with its own clear messages. */
function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    return problem(err instanceof Error ? err.message : String(err));
  }
}

function integer(name: string, text: string, min: number, max: number): number {
  // Digits only: Number('') is 0, Number('1e3') is 1000, Number('0x10') is 16; none is meant here.
  if (!/^\d+$/.test(text)) problem(`${name} must be a whole number, not ${JSON.stringify(text)}`);
  const value = Number(text);
  if (value < min || value > max) problem(`${name} must be from ${min} to ${max}, not ${text}`);
  return value;
}

function protocolsOf(values: readonly string[] | undefined): string[] {
  const protocols = values ?? [];
  const trouble = subprotocolProblem(protocols);
  if (trouble !== undefined) problem(trouble);
  return [...protocols];
}

/**
 * Parses `Name: value` header arguments (curl's -H syntax). Repeated names are joined with ", ",
 * which is what a repeated field means in HTTP (RFC 9110 §5.3).
 */
export function parseHeaderArguments(values: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  const spelled = new Map<string, string>();
  for (const value of values) {
    const colon = value.indexOf(':');
    if (colon <= 0) problem(`header ${JSON.stringify(value)} must look like 'Name: value'`);
    const name = value.slice(0, colon).trim();
    const field = value.slice(colon + 1).trim();
    if (!isToken(name)) problem(`header name ${JSON.stringify(name)} is not a token`);
    // RFC 9110 §5.5: no CR, LF or NUL in a field value (they would split or end the head).
    if (/[\r\n\0]/.test(field)) problem(`header ${name} has a line break or NUL in its value`);
    const key = name.toLowerCase();
    const existing = spelled.get(key);
    if (existing === undefined) {
      spelled.set(key, name);
      headers[name] = field;
    } else {
      headers[existing] = `${headers[existing]}, ${field}`;
    }
  }
  return headers;
}

function binaryOutput(hex: boolean | undefined, raw: boolean | undefined): BinaryOutput {
  if (hex === true && raw === true) problem('choose one of --hex and --raw');
  return hex === true ? 'hex' : raw === true ? 'raw' : 'preview';
}

function single(positionals: readonly string[], what: string): string {
  if (positionals.length === 0) problem(`missing ${what}`);
  if (positionals.length > 1) problem(`unexpected argument ${JSON.stringify(positionals[1])}`);
  return positionals[0];
}

function parseConnect(argv: string[]): ConnectArgs {
  const { values, positionals } = parse({ args: argv, options: connectOptions, allowPositionals: true, strict: true });
  const url = single(positionals, '<url>');
  // Throws WebSocketUsageError for anything but a ws:, wss:, http: or https: URL without a fragment.
  parseWebSocketUrl(url);
  if (values.quiet === true && values.progress === true) problem('choose one of --quiet and --progress');
  return {
    url,
    protocols: protocolsOf(values.protocol),
    headers: parseHeaderArguments(values.header ?? []),
    origin: values.origin,
    compress: values.compress === true,
    binary: values.binary === true,
    output: binaryOutput(values.hex, values.raw),
    keepOpen: values['keep-open'] === true,
    insecure: values.insecure === true,
    ca: values.ca,
    progress: values.progress === true ? true : values.quiet === true ? false : undefined,
    quiet: values.quiet === true,
  };
}

function parseListen(argv: string[]): ListenArgs {
  const { values, positionals } = parse({ args: argv, options: listenOptions, allowPositionals: true, strict: true });
  const port = integer('<port>', single(positionals, '<port>'), 0, MAX_PORT);
  const path = values.path;
  if (path !== undefined && !path.startsWith('/')) problem(`--path must start with "/", not ${JSON.stringify(path)}`);
  if (values.host === '') problem('--host must not be empty');
  return {
    port,
    host: values.host ?? DEFAULT_LISTEN_HOST,
    path,
    print: values.print === true,
    compress: values.compress === true,
    protocols: protocolsOf(values.protocol),
    output: binaryOutput(values.hex, values.raw),
    quiet: values.quiet === true,
  };
}

function parseInspect(argv: string[]): InspectArgs {
  const { values, positionals } = parse({ args: argv, options: inspectOptions, allowPositionals: true, strict: true });
  if (positionals.length > 1) problem(`unexpected argument ${JSON.stringify(positionals[1])}`);
  const role = values.role ?? 'any';
  if (role !== 'any' && role !== 'server' && role !== 'client') {
    problem(`--role must be any, server or client, not ${JSON.stringify(role)}`);
  }
  return {
    file: positionals[0] ?? '-',
    hex: values.hex === true,
    role,
    maxPayload: values['max-payload'] === undefined
      ? DEFAULT_MAX_PAYLOAD
      : integer('--max-payload', values['max-payload'], 0, Number.MAX_SAFE_INTEGER),
    maxMessage: values['max-message'] === undefined
      ? DEFAULT_MAX_MESSAGE_SIZE
      : integer('--max-message', values['max-message'], 0, Number.MAX_SAFE_INTEGER),
    allowNonMinimal: values['allow-non-minimal'] === true,
    deflate: values.deflate === true,
    framesOnly: values['frames-only'] === true,
    previewBytes: values.preview === undefined
      ? DEFAULT_PREVIEW_BYTES
      : integer('--preview', values.preview, 0, Number.MAX_SAFE_INTEGER),
  };
}

function isCommandName(value: string): value is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(value);
}

/**
 * Reads the arguments after `wsframe` (process.argv.slice(2)). Never throws: problems come back
 * as a `usage-error` command naming the subcommand whose help to point at.
 */
export function parseCommandLine(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: 'usage-error', message: 'missing command', topic: undefined };
  if (first === '-h' || first === '--help' || first === 'help') {
    const topic = rest[0];
    return { kind: 'help', topic: topic !== undefined && isCommandName(topic) ? topic : undefined };
  }
  if (first === '-V' || first === '--version') return { kind: 'version' };
  if (!isCommandName(first)) {
    return { kind: 'usage-error', message: `unknown command ${JSON.stringify(first)}`, topic: undefined };
  }
  if (wantsHelp(rest)) return { kind: 'help', topic: first };
  try {
    switch (first) {
      case 'connect':
        return { kind: 'connect', args: parseConnect(rest) };
      case 'listen':
        return { kind: 'listen', args: parseListen(rest) };
      case 'inspect':
        return { kind: 'inspect', args: parseInspect(rest) };
    }
  } catch (err) {
    if (err instanceof WebSocketUsageError) return { kind: 'usage-error', message: errorDetail(err), topic: first };
    throw err;
  }
}
