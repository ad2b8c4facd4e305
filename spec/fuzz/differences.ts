/**
 * Every known way wsframe (server role) and ws 8 (its Receiver as a WebSocketServer configures it)
 * part on the same bytes, found by running the differential fuzzer, one rule each. A disagreement
 * that no rule explains fails the differential spec and is printed with its input.
 *
 * Each rule's predicate looks at the first frame where the two traces part (both parsers agreed on
 * everything before it) and checks the frame's own bytes, the message open before it and what
 * each side did there, so a rule explains only the disagreement it describes: a real bug that
 * happens to involve, say, a non-minimal length still shows. Each rule carries an example that
 * must still be explained by it (the spec checks), so a rule that stops happening is noticed.
 *
 * `npm run fuzz -- --table` prints this table as markdown for the README.
 */
import type { FuzzCase, Observation } from './parsers';
import { WS_SERVER_MAX_FRAGMENTS } from './parsers';
import {
  encodeFrames, manyFragments, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_TEXT, type OpenMessage, type WalkedFrame,
} from './wire';

/** The first point where the two traces part, with what the rules need to explain it. */
export interface Divergence {
  input: FuzzCase;
  /** The input cut into the frames its headers announce. */
  frames: WalkedFrame[];
  /** Index of the frame where the traces part (frames.length: after the last frame). */
  index: number;
  frame: WalkedFrame | undefined;
  /** The data message open before that frame, if any. */
  open: OpenMessage | undefined;
  /** What each side observed at that frame. */
  ours: Observation[];
  ws: Observation[];
  /** The whole traces. */
  oursTrace: Observation[];
  wsTrace: Observation[];
}

export interface Difference {
  /** Stable name, used in reports and the README. */
  id: string;
  description: string;
  /** The rule of RFC 6455 (or the reason) behind our behaviour. */
  rfc: string;
  /** What wsframe does. */
  ours: string;
  /** What ws 8 does. */
  ws: string;
  /** True when this rule explains the divergence. */
  predicate(d: Divergence): boolean;
  /** A case that shows the difference; the spec checks it is still explained by this rule. */
  example: FuzzCase;
}

// --- predicate helpers -------------------------------------------------------------------------

/** The only observation of `list`, when it is a rejection with this close code (and our code). */
function rejection(list: readonly Observation[], closeCode: number, code?: string): boolean {
  if (list.length !== 1) return false;
  const only = list[0];
  return only.kind === 'error' && only.closeCode === closeCode && (code === undefined || only.code === code);
}

function rejects(list: readonly Observation[]): boolean {
  return list.some((o) => o.kind === 'error');
}

/** Input ended inside this frame with no rejection. */
function pendingMidFrame(list: readonly Observation[]): boolean {
  return list.length === 1 && list[0].kind === 'end' && list[0].midFrame;
}

function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

function isData(opcode: number): boolean {
  return opcode === OP_CONTINUATION || opcode === OP_TEXT || opcode === OP_BINARY;
}

/** RFC 6455 §5.4: a continuation with no message open, or a new message inside an open one. */
function breaksSequence(frame: WalkedFrame, open: OpenMessage | undefined): boolean {
  return (frame.opcode === OP_CONTINUATION && open === undefined) ||
    ((frame.opcode === OP_TEXT || frame.opcode === OP_BINARY) && open !== undefined);
}

/** True when `bytes` could still begin valid UTF-8 (checked with the platform's own decoder). */
function isUtf8Prefix(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

// --- examples ----------------------------------------------------------------------------------

/** Examples use the masking key 00000000, so their payload bytes read as plain bytes. */
function example(hex: string, maxPayload = 64 * 1024 * 1024): FuzzCase {
  return { bytes: Buffer.from(hex.replace(/\s+/g, ''), 'hex'), cuts: [], maxPayload };
}

// --- the table ---------------------------------------------------------------------------------

export const DIFFERENCES: readonly Difference[] = [
  {
    id: 'non-minimal-length',
    description: 'A payload length written in a longer form than needed (126 + 16 bits for <= 125, 127 + 64 bits for <= 65535).',
    rfc: 'RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length". Several encodings of one frame help a peer slip past byte-pattern filters.',
    ours: 'rejects the frame: 1002 `WS_ERR_NON_MINIMAL_LENGTH` (option `allowNonMinimalLength` accepts it)',
    ws: 'accepts the frame',
    predicate: (d) => d.frame !== undefined && (d.frame.encoding === 'wide16' || d.frame.encoding === 'wide64') &&
      rejection(d.ours, 1002, 'WS_ERR_NON_MINIMAL_LENGTH'),
    // A binary frame of 1 byte (0x2a) with a 16-bit length.
    example: example('82 fe 0001 00000000 2a'),
  },
  {
    id: 'length-msb',
    description: 'A 64-bit payload length with its most significant bit set.',
    rfc: 'RFC 6455 §5.2: "the most significant bit MUST be 0": a broken frame, not a large one.',
    ours: 'rejects: 1002 `WS_ERR_INVALID_PAYLOAD_LENGTH`',
    ws: 'rejects: 1009 (it reads any length above 2^53 - 1 as too big)',
    predicate: (d) => d.frame !== undefined && d.frame.encoding === 'msb64' &&
      rejection(d.ours, 1002, 'WS_ERR_INVALID_PAYLOAD_LENGTH') && rejection(d.ws, 1009),
    example: example('82 ff 8000000000000001 00000000 2a'),
  },
  {
    id: 'utf8-fail-fast',
    description: 'A text message whose bytes stop being valid UTF-8 before its last fragment (or, with `streamingThreshold`, before the end of its frame).',
    rfc: 'RFC 6455 §8.1 / §5.6: invalid UTF-8 fails the connection (1007); checking each fragment as it arrives stops a peer early and never buffers a message that is already invalid.',
    ours: 'rejects 1007 `WS_ERR_INVALID_UTF8` at the fragment (or frame piece) holding the first bad byte',
    ws: 'validates the whole message once its last fragment is complete: frames in between (control frames, other errors) are still processed',
    predicate: (d) => {
      const frame = d.frame;
      // A final frame that arrived whole is checked by both at the same point.
      if (frame === undefined || (frame.fin && !frame.truncated) || !isData(frame.opcode) || breaksSequence(frame, d.open)) return false;
      const isText = frame.opcode === OP_TEXT || (frame.opcode === OP_CONTINUATION && d.open?.opcode === OP_TEXT);
      const soFar = Buffer.concat([d.open?.bytes ?? Buffer.alloc(0), frame.payload]);
      return isText && !isUtf8Prefix(soFar) && rejection(d.ours, 1007, 'WS_ERR_INVALID_UTF8') && !rejects(d.ws);
    },
    // Text fragment 0xff, a ping, then the final fragment "a": ws answers the ping, then 1007.
    example: example('01 81 00000000 ff   89 80 00000000   80 81 00000000 61'),
  },
  {
    id: 'max-payload-per-frame',
    description: 'A control frame longer than a `maxPayload` set below 125 bytes.',
    rfc: 'Our `maxPayload` bounds every frame the decoder buffers (control frames included), as its name says; message size is `maxMessageSize`. ws\'s `maxPayload` is a message size and skips control frames.',
    ours: 'rejects: 1009 `WS_ERR_PAYLOAD_TOO_BIG`',
    ws: 'accepts the control frame',
    predicate: (d) => d.frame !== undefined && isControl(d.frame.opcode) && d.frame.length > d.input.maxPayload &&
      rejection(d.ours, 1009, 'WS_ERR_PAYLOAD_TOO_BIG') && !rejection(d.ws, 1009),
    // maxPayload 4, a ping of 5 bytes.
    example: example('89 85 00000000 68656c6c6f', 4),
  },
  {
    id: 'message-rules-at-frame-end',
    description: 'Input ends inside a frame whose header already breaks a message-level rule: a continuation with no message open, a new message inside a fragmented one, a message growing past the limit, a 1-byte close payload.',
    rfc: 'RFC 6455 §5.4, §5.5.1. Our frame layer is message-agnostic (sans-I/O layers): the message layer checks a frame once it is complete, which bounds nothing worse (the frame itself is already limited by `maxPayload`).',
    ours: 'waits for the rest of the frame, then rejects (1002 / 1009)',
    ws: 'rejects as soon as the header arrives',
    predicate: (d) => {
      const frame = d.frame;
      if (frame === undefined || !frame.truncated || !pendingMidFrame(d.ours) || d.ws.length !== 1) return false;
      const ws = d.ws[0];
      if (ws.kind !== 'error') return false;
      if (breaksSequence(frame, d.open) || (frame.opcode === OP_CLOSE && frame.length === 1)) return ws.closeCode === 1002;
      const grows = d.open !== undefined && frame.opcode === OP_CONTINUATION &&
        d.open.bytes.length + frame.length > d.input.maxPayload;
      return grows && ws.closeCode === 1009;
    },
    // A continuation frame with no message open, cut off after 1 of its 5 payload bytes.
    example: example('80 85 00000000 68'),
  },
  {
    id: 'frame-rules-first',
    description: 'A frame that breaks the fragmentation sequence and also announces more than `maxPayload`.',
    rfc: 'RFC 6455 §5.4 and §10.4. Layering: the frame layer checks the header (length limit first, before any payload is buffered), the message layer the sequence; both codes are correct, we report the first layer\'s.',
    ours: 'rejects: 1009 `WS_ERR_PAYLOAD_TOO_BIG`',
    ws: 'rejects: 1002 (sequence checked first)',
    predicate: (d) => d.frame !== undefined && breaksSequence(d.frame, d.open) && d.frame.length > d.input.maxPayload &&
      (rejection(d.ours, 1009, 'WS_ERR_PAYLOAD_TOO_BIG') || rejection(d.ours, 1009, 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH')) &&
      rejection(d.ws, 1002),
    // maxPayload 4, a 5-byte continuation frame with no message open.
    example: example('80 85 00000000 68656c6c6f', 4),
  },
  {
    id: 'fragment-limit',
    description: `A message of more than ${WS_SERVER_MAX_FRAGMENTS} fragments (e.g. Autobahn's 4 MiB in 64-byte fragments: 65,536).`,
    rfc: 'No RFC limit. Memory is bounded by message bytes (each fragment is copied into one buffer, nothing is pinned per fragment), so we only stop a message that never ends: `maxFragments` 1 Mi.',
    ours: 'accepts up to `maxFragments` (default 1,048,576), then 1009 `WS_ERR_TOO_MANY_FRAGMENTS`',
    ws: `rejects fragment ${WS_SERVER_MAX_FRAGMENTS + 1}: 1008 (server default \`maxFragments\` ${WS_SERVER_MAX_FRAGMENTS})`,
    predicate: (d) => d.frame !== undefined && d.frame.opcode === OP_CONTINUATION && d.open !== undefined &&
      d.open.fragments >= WS_SERVER_MAX_FRAGMENTS && rejection(d.ws, 1008) && !rejects(d.ours),
    example: { bytes: encodeFrames(manyFragments(WS_SERVER_MAX_FRAGMENTS + 1)), cuts: [], maxPayload: 64 * 1024 * 1024 },
  },
];

function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function exampleCell(input: FuzzCase): string {
  const limit = input.maxPayload === 64 * 1024 * 1024 ? '' : ` (maxPayload ${input.maxPayload})`;
  if (input.bytes.length > 48) return `${input.bytes.length} bytes${limit}`;
  return `\`${input.bytes.toString('hex')}\`${limit}`;
}

/** The table as markdown, for the README. */
export function differencesMarkdown(): string {
  const rows = [
    '| id | input | RFC / reason | wsframe | ws 8 | example (masked, key 0) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...DIFFERENCES.map((d) => `| \`${d.id}\` | ${markdownCell(d.description)} | ${markdownCell(d.rfc)} | ${markdownCell(d.ours)} | ${markdownCell(d.ws)} | ${exampleCell(d.example)} |`),
  ];
  return rows.join('\n');
}
