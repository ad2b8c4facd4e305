/**
 * UTF-8 vectors in the order of Markus Kuhn's "UTF-8 decoder capability and stress test", grouped
 * and numbered the way Autobahn's 6.5-6.23 cases are. Validity follows RFC 3629 (which RFC 6455
 * §5.6 requires): no overlongs, no surrogates (U+D800-U+DFFF), nothing above U+10FFFF, no 5/6-byte
 * forms, no 0xFE/0xFF. Non-characters (U+FFFE, U+nFFFF, U+FDD0...) ARE valid UTF-8.
 */

export interface Utf8Vector {
  bytes: Buffer;
  valid: boolean;
  /** What the bytes are, for the case description. */
  note: string;
}

export interface Utf8Group {
  /** Autobahn's sub-category, e.g. '6.7'. */
  id: string;
  title: string;
  vectors: Utf8Vector[];
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const v = (bytes: string, valid: boolean, note: string): Utf8Vector => ({ bytes: hex(bytes), valid, note });
const invalid = (bytes: string, note: string): Utf8Vector => v(bytes, false, note);
const valid = (bytes: string, note: string): Utf8Vector => v(bytes, true, note);

/** κόσμε, Kuhn's first example: 2-, 3-, 2-, 2-, 2-byte characters. */
export const KOSME = hex('ceba e1bdb9 cf83 cebc ceb5');

/** UTF-8 of one code point, written out here so the vectors don't depend on an encoder. */
function utf8(codePoint: number): string {
  const b = (n: number): string => n.toString(16).padStart(2, '0');
  if (codePoint < 0x80) return b(codePoint);
  if (codePoint < 0x800) return b(0xc0 | (codePoint >> 6)) + b(0x80 | (codePoint & 0x3f));
  if (codePoint < 0x10000) return b(0xe0 | (codePoint >> 12)) + b(0x80 | ((codePoint >> 6) & 0x3f)) + b(0x80 | (codePoint & 0x3f));
  return b(0xf0 | (codePoint >> 18)) + b(0x80 | ((codePoint >> 12) & 0x3f)) + b(0x80 | ((codePoint >> 6) & 0x3f)) + b(0x80 | (codePoint & 0x3f));
}

const u = (codePoint: number): string => `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;

/** Each lead byte in [from, to] followed by a space (Kuhn 3.2, "lonely start characters"). */
function lonelyStarts(from: number, to: number): string {
  let out = '';
  for (let lead = from; lead <= to; lead++) out += lead.toString(16).padStart(2, '0') + '20';
  return out;
}

/** Kuhn 3.3: sequences with the last continuation byte missing. */
const MISSING_LAST = ['c0', 'e080', 'f08080', 'f8808080', 'fc80808080', 'df', 'efbf', 'f7bfbf', 'fbbfbfbf', 'fdbfbfbfbf'];

/** Kuhn 3.1.8: all 64 continuation bytes 0x80-0xbf. */
const ALL_CONTINUATIONS = Array.from({ length: 64 }, (_, i) => (0x80 + i).toString(16)).join('');

/** Kuhn 5.1/5.2: single and paired UTF-16 surrogates. */
const HIGH = ['eda080', 'edadbf', 'edae80', 'edafbf'];
const LOW = ['edb080', 'edbfbf'];

/** Non-characters: U+FFFE/U+FFFF of every plane 0-16, and U+FDD0/U+FDEF. */
function nonCharacters(): Utf8Vector[] {
  const vectors: Utf8Vector[] = [];
  for (let plane = 0; plane <= 16; plane++) {
    for (const low of [0xfffe, 0xffff]) {
      const cp = plane * 0x10000 + low;
      vectors.push(valid(utf8(cp), `non-character ${u(cp)}`));
    }
  }
  vectors.push(valid(utf8(0xfdd0), 'non-character U+FDD0'), valid(utf8(0xfdef), 'non-character U+FDEF'));
  return vectors;
}

/** Every prefix of κόσμε: valid exactly when it ends on a character boundary. */
function kosmePrefixes(): Utf8Vector[] {
  const boundaries = new Set([2, 5, 7, 9, 11]);
  return Array.from({ length: KOSME.length }, (_, i) => ({
    bytes: KOSME.subarray(0, i + 1),
    valid: boundaries.has(i + 1),
    note: `the first ${i + 1} bytes of κόσμε`,
  }));
}

export const UTF8_GROUPS: Utf8Group[] = [
  { id: '6.5', title: 'Some valid UTF-8 sequences', vectors: [
    { bytes: KOSME, valid: true, note: 'κόσμε' },
    valid('f0908080', 'U+10000, the first 4-byte character'),
    valid('24 c2a2 e282ac f0908d88', '$¢€𐍈: 1-, 2-, 3- and 4-byte characters'),
    valid('efbbbf 61', 'a byte order mark U+FEFF then "a"'),
    valid('61 00 62', '"a", NUL, "b"'),
  ] },
  { id: '6.6', title: 'All prefixes of a valid UTF-8 string with multi-byte characters', vectors: kosmePrefixes() },
  { id: '6.7', title: 'First possible sequence of a certain length', vectors: [
    valid('00', 'U+0000'), valid('c280', 'U+0080'), valid('e0a080', 'U+0800'), valid('f0908080', 'U+10000'),
  ] },
  { id: '6.8', title: 'First possible sequence of length 5 and 6 (invalid)', vectors: [
    invalid('f888808080', '5-byte form of U+200000'), invalid('fc8480808080', '6-byte form of U+4000000'),
  ] },
  { id: '6.9', title: 'Last possible sequence of a certain length', vectors: [
    valid('7f', 'U+007F'), valid('dfbf', 'U+07FF'), valid('efbfbf', 'U+FFFF'), valid('f48fbfbf', 'U+10FFFF'),
  ] },
  { id: '6.10', title: 'Last possible sequence of length 4 to 6 (invalid)', vectors: [
    invalid('f7bfbfbf', '4-byte form of U+1FFFFF'), invalid('fbbfbfbfbf', '5-byte form of U+3FFFFFF'), invalid('fdbfbfbfbfbf', '6-byte form of U+7FFFFFFF'),
  ] },
  { id: '6.11', title: 'Other boundary conditions', vectors: [
    valid('ed9fbf', 'U+D7FF, just below the surrogates'), valid('ee8080', 'U+E000, just above the surrogates'),
    valid('efbfbd', 'U+FFFD'), valid('f48fbfbf', 'U+10FFFF, the last code point'), invalid('f4908080', 'U+110000, above the last code point'),
  ] },
  { id: '6.12', title: 'Unexpected continuation bytes', vectors: [
    invalid('80', 'a lone 0x80'), invalid('bf', 'a lone 0xbf'), invalid('80bf', '2 continuation bytes'),
    invalid('80bf80', '3 continuation bytes'), invalid('80bf80bf', '4 continuation bytes'), invalid('80bf80bf80', '5 continuation bytes'),
    invalid('80bf80bf80bf', '6 continuation bytes'), invalid(ALL_CONTINUATIONS, 'all 64 continuation bytes 0x80-0xbf'),
  ] },
  { id: '6.13', title: 'Lonely start characters', vectors: [
    invalid(lonelyStarts(0xc0, 0xdf), 'each 2-byte lead 0xc0-0xdf followed by a space'),
    invalid(lonelyStarts(0xe0, 0xef), 'each 3-byte lead 0xe0-0xef followed by a space'),
    invalid(lonelyStarts(0xf0, 0xf7), 'each 4-byte lead 0xf0-0xf7 followed by a space'),
    invalid(lonelyStarts(0xf8, 0xfb), 'each 5-byte lead 0xf8-0xfb followed by a space'),
    invalid(lonelyStarts(0xfc, 0xfd), 'each 6-byte lead 0xfc-0xfd followed by a space'),
  ] },
  { id: '6.14', title: 'Sequences with the last continuation byte missing', vectors:
    MISSING_LAST.map((bytes) => invalid(bytes, `truncated sequence ${bytes}`)) },
  { id: '6.15', title: 'Concatenation of incomplete sequences', vectors: [
    invalid(MISSING_LAST.join(''), 'the 10 truncated sequences of 6.14 concatenated'),
  ] },
  { id: '6.16', title: 'Impossible bytes', vectors: [
    invalid('fe', '0xfe'), invalid('ff', '0xff'), invalid('fefeffff', '0xfe 0xfe 0xff 0xff'),
  ] },
  { id: '6.17', title: 'Overlong representations of "/"', vectors: [
    invalid('c0af', '2-byte "/"'), invalid('e080af', '3-byte "/"'), invalid('f08080af', '4-byte "/"'),
    invalid('f8808080af', '5-byte "/"'), invalid('fc80808080af', '6-byte "/"'),
  ] },
  { id: '6.18', title: 'Maximum overlong sequences', vectors: [
    invalid('c1bf', 'overlong U+007F'), invalid('e09fbf', 'overlong U+07FF'), invalid('f08fbfbf', 'overlong U+FFFF'),
    invalid('f887bfbfbf', 'overlong U+1FFFFF'), invalid('fc83bfbfbfbf', 'overlong U+3FFFFFF'),
  ] },
  { id: '6.19', title: 'Overlong representations of NUL', vectors: [
    invalid('c080', '2-byte NUL'), invalid('e08080', '3-byte NUL'), invalid('f0808080', '4-byte NUL'),
    invalid('f880808080', '5-byte NUL'), invalid('fc8080808080', '6-byte NUL'),
  ] },
  { id: '6.20', title: 'Single UTF-16 surrogates', vectors:
    ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map((bytes) => invalid(bytes, `lone surrogate ${bytes}`)) },
  { id: '6.21', title: 'Paired UTF-16 surrogates', vectors:
    HIGH.flatMap((high) => LOW.map((low) => invalid(high + low, `surrogate pair ${high} ${low}`))) },
  { id: '6.22', title: 'Non-character code points (valid UTF-8)', vectors: nonCharacters() },
  { id: '6.23', title: 'Unicode specials', vectors:
    [0xfff9, 0xfffa, 0xfffb, 0xfffc, 0xfffd, 0xfffe, 0xffff].map((cp) => valid(utf8(cp), `special ${u(cp)}`)) },
];
