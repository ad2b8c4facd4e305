/**
 * Hot path: XOR-unmasking payload bytes in place (RFC 6455 §5.3), the inner loop of every decoded
 * client frame and every encoded client frame.
 *
 * Ours: `unmask` (which picks the native addon from 256 bytes when it is installed) and
 * `unmaskJs` (the portable word loop every install has). ws column: bufferutil's `unmask`, which
 * is what ws calls from 32 bytes up. Buffer.copy of the same size is the memory-bandwidth
 * reference: an unmask reads and writes each byte once, as a copy does (though in place, so one
 * buffer's worth of cache instead of two).
 */
import { unmask, unmaskImplementation, unmaskJs } from '../lib/frame/mask';
import {
  type Comparison, compareAll, KiB, MiB, Prng, type Row, type Settings, type Side, sizeName, standalone,
} from './harness';

interface BufferUtil { unmask(buffer: Buffer, mask: Buffer): void }

function loadBufferUtil(): BufferUtil | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('bufferutil') as BufferUtil;
  } catch {
    return undefined;
  }
}

const bufferUtil = loadBufferUtil();

/** Calls per iteration: about 1 MiB of work, so small sizes are not dominated by the clock read. */
function repsFor(size: number): number {
  return Math.max(1, MiB / size);
}

/** A side that applies `op` to one `size`-byte buffer `repsFor(size)` times per iteration. */
function inPlace(size: number, op: (bytes: Buffer, key: number, keyBytes: Buffer) => void): Side {
  const prng = new Prng(0xa5a5 + size);
  const bytes = prng.bytes(size);
  const key = prng.maskKey();
  const keyBytes = Buffer.alloc(4);
  keyBytes.writeUInt32BE(key, 0);
  const reps = repsFor(size);
  return {
    run() {
      for (let i = 0; i < reps; i++) op(bytes, key, keyBytes);
    },
    verify() {
      // XOR twice is the identity, and once must match the byte-wise definition.
      const original = Buffer.from(bytes);
      op(bytes, key, keyBytes);
      for (let i = 0; i < size; i += 61) {
        if (bytes[i] !== (original[i] ^ keyBytes[i & 3])) throw new Error(`unmask wrong at byte ${i}`);
      }
      op(bytes, key, keyBytes);
      if (!bytes.equals(original)) throw new Error('unmask is not its own inverse');
    },
  };
}

function copySide(size: number): Side {
  const source = new Prng(0xc0b1 + size).bytes(size);
  const target = Buffer.alloc(size);
  const reps = repsFor(size);
  return {
    run() {
      for (let i = 0; i < reps; i++) source.copy(target, 0, 0, size);
    },
  };
}

const SIZES = [1 * KiB, 64 * KiB, 1 * MiB];

export function unmaskComparisons(): Comparison[] {
  const out: Comparison[] = [];
  const ws = bufferUtil === undefined
    ? undefined
    : (size: number) => (): Side => inPlace(size, (bytes, _key, keyBytes) => { bufferUtil.unmask(bytes, keyBytes); });
  for (const size of SIZES) {
    const common = {
      group: 'unmask',
      opsPerIteration: repsFor(size),
      opsUnit: 'calls',
      bytesPerIteration: repsFor(size) * size,
      bytesUnit: 'GB/s' as const,
      primary: 'bytes' as const,
    };
    out.push({
      ...common,
      title: `unmask ${sizeName(size)}: ours (${size >= 256 ? unmaskImplementation : 'js'} path) vs bufferutil`,
      ours: () => inPlace(size, (bytes, key) => { unmask(bytes, key, 0); }),
      ws: ws?.(size),
    });
    out.push({
      ...common,
      title: `unmask ${sizeName(size)}: ours JS path (unmaskJs) vs bufferutil`,
      ours: () => inPlace(size, (bytes, key) => { unmaskJs(bytes, key, 0); }),
      ws: ws?.(size),
    });
    out.push({
      ...common,
      title: `Buffer.copy ${sizeName(size)} (memory bandwidth reference)`,
      ours: () => copySide(size),
      note: size === SIZES[0] ? 'memcpy of the same size: reads and writes each byte once as unmask does, but touches two buffers where an in-place unmask touches one, so a cache-resident unmask can beat it' : undefined,
    });
  }
  return out;
}

export function benchUnmask(settings: Settings): Promise<Row[]> {
  return compareAll(unmaskComparisons(), settings);
}

if (require.main === module) standalone(benchUnmask);
