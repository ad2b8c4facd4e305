/**
 * 9 Limits and performance, and 10 auto-fragmentation, as Autobahn numbers them (9.5/9.6 extend
 * the chop sizes to 64 KiB). Large messages in one frame, a 4 MiB message in ever smaller
 * fragments (65,536 fragments of 64 bytes must pass), 1 MiB in small TCP writes, and 1,000
 * round trips. The peer may fragment its echoes any way it likes; the runner reassembles them.
 */
import { Opcode } from '../../../lib/constants';
import { binary, fragments, text } from '../craft';
import { binaryReply, textReply, type CaseDef, type Expected, type FrameSpec } from '../types';
import { binaryOfSize, echoCase, KiB, MiB, size, textOfSize } from './helpers';

const MESSAGE_SIZES = [64 * KiB, 256 * KiB, MiB, 4 * MiB, 8 * MiB, 16 * MiB];
const FRAGMENT_SIZES = [64, 256, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB];
const CHOP_SIZES = [64, 128, 256, 512, KiB, 2 * KiB, 4 * KiB, 8 * KiB, 16 * KiB, 32 * KiB, 64 * KiB];
const ROUND_TRIP_SIZES = [0, 16, 64, 256, KiB, 4 * KiB];
const ROUND_TRIPS = 1000;

interface Kind {
  name: 'text' | 'binary';
  payload(size: number): Buffer;
  frame(payload: Buffer): FrameSpec;
  reply(payload: Buffer): Expected;
  opcode: number;
}

const TEXT: Kind = { name: 'text', payload: textOfSize, frame: (p) => text(p), reply: textReply, opcode: Opcode.Text };
const BINARY: Kind = { name: 'binary', payload: binaryOfSize, frame: (p) => binary(p), reply: binaryReply, opcode: Opcode.Binary };

/** Payloads are built when the case runs, not when the table is listed: 16 MiB is not free. */
function lazyEcho(id: string, description: string, build: () => { frames: FrameSpec[]; reply: Expected }, chop?: number): CaseDef {
  return {
    id,
    description,
    heavy: true,
    async run(t) {
      const { frames, reply } = build();
      await t.send(frames, chop === undefined ? {} : { chop });
      return t.expectEcho([reply]);
    },
  };
}

function roundTrips(id: string, kind: Kind, bytes: number): CaseDef {
  return {
    id,
    description: `Send ${ROUND_TRIPS} ${kind.name} messages of ${size(bytes)}, each after the previous echo (round-trip time)`,
    async run(t) {
      const payload = kind.payload(bytes);
      const started = process.hrtime.bigint();
      for (let i = 0; i < ROUND_TRIPS; i++) {
        await t.send(kind.frame(payload));
        await t.waitForReplies(i + 1);
        if (t.replies().length < i + 1) break;
      }
      const micros = Number(process.hrtime.bigint() - started) / 1000 / ROUND_TRIPS;
      return t.expectEcho(Array.from({ length: ROUND_TRIPS }, () => kind.reply(payload)), { note: `${micros.toFixed(0)} µs per round trip` });
    },
  };
}

function limitCases(kind: Kind, big: string, fragmented: string, chopped: string, rtt: string): CaseDef[] {
  return [
    ...MESSAGE_SIZES.map((n, i) => lazyEcho(`${big}.${i + 1}`, `Send a ${size(n)} ${kind.name} message in one frame`, () => {
      const payload = kind.payload(n);
      return { frames: [kind.frame(payload)], reply: kind.reply(payload) };
    })),
    ...FRAGMENT_SIZES.map((n, i) => lazyEcho(`${fragmented}.${i + 1}`, `Send a 4 MiB ${kind.name} message in fragments of ${size(n)}`, () => {
      const payload = kind.payload(4 * MiB);
      return { frames: fragments(kind.opcode, payload, n), reply: kind.reply(payload) };
    })),
    ...CHOP_SIZES.map((n, i) => lazyEcho(`${chopped}.${i + 1}`, `Send a 1 MiB ${kind.name} message in one frame, in TCP writes of ${size(n)}`, () => {
      const payload = kind.payload(MiB);
      return { frames: [kind.frame(payload)], reply: kind.reply(payload) };
    }, n)),
    ...ROUND_TRIP_SIZES.map((n, i) => roundTrips(`${rtt}.${i + 1}`, kind, n)),
  ];
}

export function limitsCases(): CaseDef[] {
  return [...limitCases(TEXT, '9.1', '9.3', '9.5', '9.7'), ...limitCases(BINARY, '9.2', '9.4', '9.6', '9.8')]
    .sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

export function autoFragmentationCases(): CaseDef[] {
  const payload = textOfSize(65536);
  return [
    echoCase('10.1.1', 'Send a 64 KiB text message in fragments of 1300 bytes', fragments(Opcode.Text, payload, 1300), [textReply(payload)]),
    lazyEcho('10.1.2', 'Send an 8 MiB text message of multi-byte characters in one frame: the echo may come in any fragments', () => {
      const big = textOfSize(8 * MiB);
      return { frames: [text(big)], reply: textReply(big) };
    }),
  ];
}
