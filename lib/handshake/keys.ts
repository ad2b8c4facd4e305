/**
 * Sec-WebSocket-Key and Sec-WebSocket-Accept (RFC 6455 §4.1, §4.2.2): the nonce a client sends
 * and the hash a server proves it understood the handshake with.
 */
import { createHash, randomBytes } from 'node:crypto';
import { GUID } from '../constants';

/** RFC 6455 §4.1: the nonce is 16 random bytes, base64-encoded. */
const KEY_BYTES = 16;
/**
 * base64 of 16 bytes is 22 significant characters and "==" (RFC 4648 §4). Nothing else decodes
 * to exactly 16 bytes. Non-zero pad bits in the 22nd character still decode to 16 bytes, so they
 * pass: the server only hashes the string, and §4.2.1 asks for the decoded length alone.
 */
const KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;

/**
 * The Sec-WebSocket-Accept value for a key: base64(SHA-1(key + GUID)), RFC 6455 §4.2.2 item 5.4.
 * Exactly 28 characters, never a trailing newline.
 */
export function acceptKey(key: string): string {
  // latin1: one byte per character, the bytes the key had on the wire (node decodes heads so).
  return createHash('sha1').update(key + GUID, 'latin1').digest('base64');
}

/** A fresh Sec-WebSocket-Key: 16 bytes from the CSPRNG, base64-encoded (RFC 6455 §4.1). */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** True when `key` is 24 base64 characters decoding to exactly 16 bytes (§4.1, §11.3.1). */
export function isValidKey(key: string): boolean {
  return typeof key === 'string' && KEY_PATTERN.test(key);
}
