/**
 * Masking (RFC 6455 §5.3) and the source of masking keys. A key is a uint32 whose most
 * significant byte is the first key byte on the wire, so `0x37fa213d` is the key `37 fa 21 3d`.
 */
import { randomFillSync } from 'node:crypto';
import { WebSocketUsageError } from '../errors';

/** Below this many bytes a plain byte loop beats setting up a word view. */
const WORD_LOOP_MIN = 64;

/** Word-at-a-time XOR needs to know how bytes sit in a 32-bit word. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** From this many bytes the optional native SIMD unmask wins over its call overhead. */
const NATIVE_MIN = 256;

interface NativeMasker {
  unmask(buffer: Uint8Array, mask: Uint8Array): void;
  mask(source: Uint8Array, mask: Uint8Array, output: Uint8Array, offset: number, length: number): void;
}

/**
 * The optional `bufferutil` addon unmasks with SIMD at about 5x the speed of the JS word loop
 * (README, "Performance"); without it everything still works at JS speed.
 * `WSFRAME_NO_NATIVE=1` forces the JS path.
 */
function loadNative(): NativeMasker | undefined {
  if (process.env.WSFRAME_NO_NATIVE === '1') return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require('bufferutil') as Partial<NativeMasker>;
    return typeof addon.unmask === 'function' && typeof addon.mask === 'function'
      ? (addon as NativeMasker) : undefined;
  } catch {
    return undefined;
  }
}

const native = loadNative();
/** Scratch key for the native call; used synchronously only, so one per process is enough. */
const nativeKey = Buffer.alloc(4);

/** Which unmask implementation large payloads use: `'native'` (bufferutil) or `'js'`. */
export const unmaskImplementation: 'native' | 'js' = native === undefined ? 'js' : 'native';

/**
 * XORs `bytes` in place with `maskKey`, starting at key byte `phase` (0-3): a piece that begins at
 * frame offset `o` uses phase `o % 4`. Masking and unmasking are the same operation.
 */
export function unmask(bytes: Uint8Array, maskKey: number, phase = 0): void {
  if (native !== undefined && bytes.length >= NATIVE_MIN) {
    // Rotate the key so the addon, which always starts at key byte 0, starts at `phase`.
    nativeKey.writeUInt32BE(rotateKey(maskKey, phase), 0);
    native.unmask(bytes, nativeKey);
    return;
  }
  unmaskJs(bytes, maskKey, phase);
}

/** The portable JS implementation behind {@link unmask}; exported so both paths are tested. */
export function unmaskJs(bytes: Uint8Array, maskKey: number, phase = 0): void {
  const length = bytes.length;
  if (length < WORD_LOOP_MIN || !LITTLE_ENDIAN) {
    // Small frames are the common case: four bytes a turn, key bytes hoisted (in place).
    maskSmall(bytes, 0, length, rotateKey(maskKey, phase), bytes, 0);
    return;
  }
  // Bytes before the first 4-byte boundary of the underlying memory: Int32Array needs alignment.
  const head = (4 - (bytes.byteOffset & 3)) & 3;
  for (let i = 0; i < head; i++) {
    bytes[i] ^= maskKey >>> ((3 - ((i + phase) & 3)) << 3);
  }
  const words = (length - head) >>> 2;
  // Key byte for payload index `head`, then the three after it, laid out little-endian: one
  // 32-bit XOR masks four bytes at once, four times fewer loop turns than bytes.
  const s = (head + phase) & 3;
  const rotated = rotateKey(maskKey, s);
  const wordMask = ((rotated >>> 24) | ((rotated >>> 8) & 0xff00) | ((rotated << 8) & 0xff0000) | (rotated << 24)) | 0;
  const view = new Int32Array(bytes.buffer, bytes.byteOffset + head, words);
  // Unrolled by 4: fewer bound checks and loop branches per byte.
  const unrolled = words & ~3;
  let w = 0;
  for (; w < unrolled; w += 4) {
    view[w] ^= wordMask;
    view[w + 1] ^= wordMask;
    view[w + 2] ^= wordMask;
    view[w + 3] ^= wordMask;
  }
  for (; w < words; w++) view[w] ^= wordMask;
  for (let i = head + words * 4; i < length; i++) {
    bytes[i] ^= maskKey >>> ((3 - ((i + phase) & 3)) << 3);
  }
}

/** The key rotated to start at key byte `phase` (0-3). */
function rotateKey(maskKey: number, phase: number): number {
  return phase === 0 ? maskKey : ((maskKey << (phase << 3)) | (maskKey >>> (32 - (phase << 3)))) >>> 0;
}

/**
 * Masks `length` bytes of `source` from `start` into `target` at `offset` with an already rotated
 * key, four bytes a turn with the key bytes hoisted. For short runs, where setting up a view or a
 * native call costs more than the XOR itself.
 */
function maskSmall(
  source: Uint8Array, start: number, length: number, key: number, target: Uint8Array, offset: number,
): void {
  const k0 = key >>> 24;
  const k1 = (key >>> 16) & 0xff;
  const k2 = (key >>> 8) & 0xff;
  const k3 = key & 0xff;
  const whole = length & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    target[offset + i] = source[start + i] ^ k0;
    target[offset + i + 1] = source[start + i + 1] ^ k1;
    target[offset + i + 2] = source[start + i + 2] ^ k2;
    target[offset + i + 3] = source[start + i + 3] ^ k3;
  }
  if (i < length) target[offset + i] = source[start + i] ^ k0;
  if (i + 1 < length) target[offset + i + 1] = source[start + i + 1] ^ k1;
  if (i + 2 < length) target[offset + i + 2] = source[start + i + 2] ^ k2;
}

/**
 * Writes `source` masked with `maskKey` (starting at key byte `phase`) into `target` at `offset`;
 * `source` is not modified. Copy and XOR in one pass over the bytes.
 */
export function maskInto(source: Uint8Array, maskKey: number, target: Uint8Array, offset: number, phase = 0): void {
  const length = source.length;
  if (length < WORD_LOOP_MIN) {
    maskSmall(source, 0, length, rotateKey(maskKey, phase), target, offset);
    return;
  }
  if (native !== undefined && length >= NATIVE_MIN) {
    nativeKey.writeUInt32BE(rotateKey(maskKey, phase), 0);
    native.mask(source, nativeKey, target, offset, length);
    return;
  }
  // memcpy then an in-place word XOR beats a byte loop that reads and writes different buffers.
  target.set(source, offset);
  unmaskJs(target.subarray(offset, offset + length), maskKey, phase);
}

/** Where masking keys come from. Inject one to make masked output byte-exact in tests. */
export interface MaskSource {
  /** Returns the next key as a uint32, first wire byte most significant. */
  next(): number;
}

/** Keys per refill: one randomFillSync call serves this many frames. */
const POOL_KEYS = 2048;

/**
 * Masking keys from the operating system's CSPRNG (RFC 6455 §5.3: keys MUST be unpredictable),
 * drawn in pools so a small frame does not pay for a system call.
 */
export class RandomMaskSource implements MaskSource {
  private readonly pool = new Uint32Array(POOL_KEYS);
  private index = POOL_KEYS;

  next(): number {
    if (this.index === POOL_KEYS) {
      randomFillSync(this.pool);
      this.index = 0;
    }
    return this.pool[this.index++];
  }
}

/** Always the same key: for tests and byte-exact vectors, never for real traffic. */
export class FixedMaskSource implements MaskSource {
  constructor(private readonly key: number) {}

  next(): number {
    return this.key;
  }
}

/** What options accept as a mask source: a {@link MaskSource}, or a function giving keys. */
export type MaskSourceLike = MaskSource | { next(): number | Uint8Array } | (() => number | Uint8Array);

/** A key as a uint32 (first wire byte most significant). @throws {WebSocketUsageError} */
function keyOf(key: number | Uint8Array): number {
  if (typeof key === 'number' && Number.isInteger(key) && key >= 0 && key <= 0xffffffff) return key;
  if (key instanceof Uint8Array && key.length === 4) return ((key[0] << 24) | (key[1] << 16) | (key[2] << 8) | key[3]) >>> 0;
  throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'a masking key is a uint32 or 4 bytes');
}

/**
 * Normalizes an option to a {@link MaskSource}; `generateMask` is ws's equivalent hook (fills a
 * 4-byte buffer), used when no source is given; neither gives the shared CSPRNG pool.
 * @throws {WebSocketUsageError} for something that is not a mask source.
 */
export function toMaskSource(source: MaskSourceLike | undefined, generateMask?: (mask: Buffer) => void): MaskSource {
  if (source === undefined && generateMask !== undefined) {
    if (typeof generateMask !== 'function') {
      throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'generateMask must be a function');
    }
    // ws's hook: fill the 4-byte buffer it is given.
    const scratch = Buffer.alloc(4);
    return { next: () => { generateMask(scratch); return scratch.readUInt32BE(0); } };
  }
  if (source === undefined) return defaultMaskSource();
  if (typeof source === 'function') return { next: () => keyOf(source()) };
  if (source instanceof RandomMaskSource || source instanceof FixedMaskSource) return source;
  if (source !== null && typeof source === 'object' && typeof source.next === 'function') {
    return { next: () => keyOf(source.next()) };
  }
  throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', 'maskSource must have next() or be a function');
}

let sharedSource: RandomMaskSource | undefined;

/** The process-wide CSPRNG pool that encoders use unless given a source of their own. */
export function defaultMaskSource(): MaskSource {
  sharedSource ??= new RandomMaskSource();
  return sharedSource;
}
