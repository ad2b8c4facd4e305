/**
 * The conformance runner (spec/conformance/): its oracle, judge and case table with vectors, then
 * whole runs. Gating runs use deliberately broken peers written here on node:net, to prove the
 * runner fails what must fail and passes what must pass; the `ws` server and client are run and
 * their scores printed without gating. Our own server and client: see conformance/ours.ts.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { GUID, Opcode } from '../lib/constants';
import { clientSuite, matches, selectCases, serverSuite } from './conformance/cases/index';
import { textOfSize } from './conformance/cases/helpers';
import { UTF8_GROUPS } from './conformance/cases/utf8-vectors';
import { parseArgs } from './conformance/cli';
import { judgeRefusal, runClientConformance, type ConnectAndEcho } from './conformance/client-fuzzer';
import { compress } from './conformance/cases/compression';
import { encodeFrame, fragments } from './conformance/craft';
import { checkResponse, acceptFor, parseHead } from './conformance/http';
import { judge } from './conformance/judge';
import { Oracle } from './conformance/oracle';
import { printResults, startWsEchoServer, worseThan, wsConnectAndEcho } from './conformance/reference';
import { renderMarkdown, summarize } from './conformance/report';
import { runConformance } from './conformance/runner';
import { oursSuite } from './conformance/ours';
import {
  pongReply, textReply, type CaseResult, type Expectation, type Observed, type Role, type Verdict,
} from './conformance/types';

const HOST = '127.0.0.1';
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Everything the oracle reports for `bytes` fed in `pieces` chunks. */
function observe(bytes: Buffer, role: Role, options: { deflate?: boolean; cuts?: number[] } = {}): Observed[] {
  const events: Observed[] = [];
  const oracle = new Oracle({ role, deflate: options.deflate ?? false }, (e) => events.push(e));
  const cuts = [0, ...(options.cuts ?? []), bytes.length];
  for (let i = 1; i < cuts.length; i++) oracle.push(bytes.subarray(cuts[i - 1], cuts[i]));
  return events;
}

const violationOf = (events: Observed[]): string | undefined =>
  events.find((e): e is Extract<Observed, { kind: 'violation' }> => e.kind === 'violation')?.detail;

describe('conformance runner', () => {
  describe('oracle (the runner\'s own frame parser)', () => {
    // RFC 6455 §5.7 examples, as the peer's role would send them.
    const VALID: { name: string; role: Role; bytes: Buffer; events: Observed[] }[] = [
      { name: 'a single-frame unmasked text message from a server (§5.7)', role: 'client', bytes: hex('810548656c6c6f'),
        events: [{ kind: 'message', binary: false, data: Buffer.from('Hello'), frames: 1 }] },
      { name: 'a single-frame masked text message from a client (§5.7)', role: 'server', bytes: hex('818537fa213d7f9f4d5158'),
        events: [{ kind: 'message', binary: false, data: Buffer.from('Hello'), frames: 1 }] },
      { name: 'a fragmented unmasked text message (§5.7)', role: 'client', bytes: hex('010348656c 80026c6f'),
        events: [{ kind: 'message', binary: false, data: Buffer.from('Hello'), frames: 2 }] },
      { name: 'an unmasked ping and a masked pong (§5.7)', role: 'client', bytes: hex('890548656c6c6f'),
        events: [{ kind: 'ping', data: Buffer.from('Hello') }] },
      { name: 'a masked pong (§5.7)', role: 'server', bytes: hex('8a8537fa213d7f9f4d5158'),
        events: [{ kind: 'pong', data: Buffer.from('Hello') }] },
      { name: 'a 256-byte binary message with a 16-bit length (§5.7)', role: 'client', bytes: Buffer.concat([hex('827e0100'), Buffer.alloc(256, 7)]),
        events: [{ kind: 'message', binary: true, data: Buffer.alloc(256, 7), frames: 1 }] },
      { name: 'a 64 KiB binary message with a 64-bit length (§5.7)', role: 'client', bytes: Buffer.concat([hex('827f0000000000010000'), Buffer.alloc(65536, 9)]),
        events: [{ kind: 'message', binary: true, data: Buffer.alloc(65536, 9), frames: 1 }] },
      { name: 'a text message of non-characters U+FFFE U+10FFFF (valid UTF-8)', role: 'client', bytes: hex('8107efbfbef48fbfbf'),
        events: [{ kind: 'message', binary: false, data: hex('efbfbef48fbfbf'), frames: 1 }] },
      { name: 'a control frame between fragments', role: 'client', bytes: hex('0101 41 8900 800142'),
        events: [{ kind: 'ping', data: Buffer.alloc(0) }, { kind: 'message', binary: false, data: Buffer.from('AB'), frames: 2 }] },
      { name: 'an empty close frame', role: 'client', bytes: hex('8800'), events: [{ kind: 'close', code: null, reason: '' }] },
      { name: 'a close frame with 1000 and a reason', role: 'client', bytes: hex('880503e8 627965'), events: [{ kind: 'close', code: 1000, reason: 'bye' }] },
      { name: 'a close frame with 1012 (IANA-registered)', role: 'client', bytes: hex('880203f4'), events: [{ kind: 'close', code: 1012, reason: '' }] },
      { name: 'a close frame with 4999', role: 'client', bytes: hex('88021387'), events: [{ kind: 'close', code: 4999, reason: '' }] },
    ];

    for (const vector of VALID) {
      it(`parses ${vector.name}`, () => {
        expect(observe(vector.bytes, vector.role)).to.deep.equal(vector.events);
      });
    }

    it('reports the same events however the bytes are split into chunks', () => {
      const stream = Buffer.concat(VALID.filter((v) => v.role === 'client' && v.events[0].kind !== 'close').map((v) => v.bytes));
      const whole = observe(stream, 'client');
      fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }), (cuts) => {
        expect(observe(stream, 'client', { cuts: [...cuts].sort((a, b) => a - b) })).to.deep.equal(whole);
      }), { numRuns: 200 });
    });

    it('reads back what craft.ts encodes, in both roles, for any fragmentation', () => {
      fc.assert(fc.property(fc.boolean(), fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 4000 }), fc.constantFrom<Role>('client', 'server'),
        (isBinary, data, size, role) => {
          const payload = isBinary ? Buffer.from(data) : Buffer.from(Buffer.from(data).toString('latin1'));
          const bytes = Buffer.concat(fragments(isBinary ? Opcode.Binary : Opcode.Text, payload, size).map((f) => encodeFrame(f, role)));
          // The oracle judges the peer, so it runs in the other role.
          const events = observe(bytes, role === 'client' ? 'server' : 'client');
          expect(events).to.have.length(1);
          expect(events[0]).to.include({ kind: 'message', binary: isBinary });
          expect((events[0] as Extract<Observed, { kind: 'message' }>).data.equals(payload)).to.equal(true);
        }), { numRuns: 200 });
    });

    it('inflates a compressed message when permessage-deflate was agreed', () => {
      const payload = textOfSize(5000);
      const deflated = compress(payload);
      const bytes = encodeFrame({ opcode: Opcode.Text, payload: deflated, rsv: 4 }, 'server');
      expect(observe(bytes, 'client', { deflate: true })).to.deep.equal([{ kind: 'message', binary: false, data: payload, frames: 1 }]);
    });

    // Every rule a sender MUST follow, one vector each: [name, runner role, bytes, detail pattern].
    const VIOLATIONS: [string, Role, Buffer, RegExp][] = [
      ['a masked frame from a server', 'client', hex('818537fa213d7f9f4d5158'), /masked frame from a server/],
      ['an unmasked frame from a client', 'server', hex('810548656c6c6f'), /unmasked frame from a client/],
      ['RSV1 without an extension', 'client', hex('c100'), /RSV1/],
      ['RSV2', 'client', hex('a100'), /RSV2/],
      ['RSV3', 'client', hex('9100'), /RSV3/],
      ['RSV1 on a continuation even with permessage-deflate', 'client', hex('4100 c000'), /RSV1/],
      ['reserved non-control opcode 3', 'client', hex('8300'), /reserved opcode 3/],
      ['reserved control opcode 11', 'client', hex('8b00'), /reserved opcode 11/],
      ['a fragmented ping', 'client', hex('0900'), /fragmented control/],
      ['a 126-byte ping', 'client', Buffer.concat([hex('897e007e'), Buffer.alloc(126)]), /control frame with 126 bytes/],
      ['a non-minimal 16-bit length', 'client', hex('817e0005 48656c6c6f'), /non-minimal 16-bit/],
      ['a non-minimal 64-bit length', 'client', Buffer.concat([hex('827f000000000000ffff'), Buffer.alloc(0xffff)]), /non-minimal 64-bit/],
      ['a 64-bit length with the most significant bit set', 'client', hex('827f8000000000000001'), /most significant bit/],
      ['a continuation with nothing to continue', 'client', hex('800141'), /continuation frame with no message/],
      ['a new text frame inside a fragmented message', 'client', hex('010141 810142'), /new data frame inside/],
      ['invalid UTF-8 in a text message (overlong "/")', 'client', hex('8102c0af'), /invalid UTF-8/],
      ['invalid UTF-8 split across fragments (a lone surrogate)', 'client', hex('0101ed 8002a080'), /invalid UTF-8/],
      ['a close frame with a 1-byte payload', 'client', hex('880103'), /1-byte payload/],
      ['close code 1005 on the wire', 'client', hex('880203ed'), /code 1005/],
      ['close code 999', 'client', hex('880203e7'), /code 999/],
      ['close code 5000', 'client', hex('88021388'), /code 5000/],
      ['a close reason with invalid UTF-8', 'client', hex('880403e8c0af'), /close reason/],
      ['a frame after the close frame', 'client', hex('8800 810141'), /after the close frame/],
    ];

    for (const [name, role, bytes, detail] of VIOLATIONS) {
      it(`reports ${name} as a violation`, () => {
        const deflate = name.includes('permessage-deflate');
        expect(violationOf(observe(bytes, role, { deflate }))).to.match(detail);
      });
    }

    it('reports a compressed message that does not inflate as a violation', () => {
      expect(violationOf(observe(hex('c105ffffffffff'), 'client', { deflate: true }))).to.match(/does not inflate/);
    });

    it('stops parsing at the first violation', () => {
      const events = observe(hex('8300 810141'), 'client');
      expect(events.map((e) => e.kind)).to.deep.equal(['violation']);
    });
  });

  describe('opening handshake helpers', () => {
    it('computes the RFC 6455 §1.3 example Sec-WebSocket-Accept', () => {
      expect(acceptFor('dGhlIHNhbXBsZSBub25jZQ==')).to.equal('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    });

    it('accepts a valid 101 and rejects a wrong Accept, an unoffered subprotocol or extension', () => {
      const key = 'dGhlIHNhbXBsZSBub25jZQ==';
      const head = (extra: string): ReturnType<typeof parseHead> => parseHead(Buffer.from(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n${extra}`));
      expect(checkResponse(head('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo='), { key }).problems).to.deep.equal([]);
      expect(checkResponse(head('Sec-WebSocket-Accept: x'), { key }).problems).to.have.length(1);
      expect(checkResponse(head('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat'), { key }).problems).to.have.length(1);
      expect(checkResponse(head('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate'), { key }).problems).to.have.length(1);
    });
  });

  describe('judge', () => {
    const hello = textReply('Hello');
    const message = (data: string): Observed => ({ kind: 'message', binary: false, data: Buffer.from(data), frames: 1 });
    const close = (code: number | null): Observed => ({ kind: 'close', code, reason: '' });
    const sentClose: Observed = { kind: 'sent-close', code: 1000 };
    const tcpEnd: Observed = { kind: 'tcp-end', reset: false };
    const dropped: Observed = { kind: 'dropped', reason: 'timeout' };
    const echo = (extra: Partial<Expectation> = {}): Expectation => ({ replies: [hello], ending: { by: 'runner', codes: [1000] }, ...extra });
    const failure = (codes: number[], extra: Partial<Expectation> = {}, before?: string): Expectation =>
      ({ replies: [], ending: before === undefined ? { by: 'peer', codes } : { by: 'peer', codes, before }, ...extra });
    const verdictOf = (log: Observed[], expectation: Expectation, role: Role = 'client'): Verdict => judge(log, expectation, role).verdict;

    it('scores an exact echo and a clean close OK', () => {
      expect(verdictOf([message('Hello'), sentClose, close(1000), tcpEnd], echo())).to.equal('OK');
    });

    it('fails an echo with different bytes, naming the first different byte', () => {
      const result = judge([message('Hellp'), sentClose, close(1000), tcpEnd], echo(), 'client');
      expect(result.verdict).to.equal('FAILED');
      expect(result.notes[0]).to.match(/first difference at byte 4/);
    });

    it('fails an echo of the wrong type', () => {
      const log: Observed[] = [{ kind: 'message', binary: true, data: Buffer.from('Hello'), frames: 1 }, sentClose, close(1000), tcpEnd];
      expect(verdictOf(log, echo())).to.equal('FAILED');
    });

    it('fails when the close handshake is not answered', () => {
      expect(verdictOf([message('Hello'), sentClose, tcpEnd], echo())).to.equal('FAILED');
    });

    it('fails when the peer closes before the runner does in an echo case', () => {
      expect(verdictOf([message('Hello'), close(1000), sentClose, tcpEnd], echo())).to.equal('FAILED');
    });

    it('scores a server that leaves TCP open after the close handshake NON-STRICT, a client not', () => {
      expect(verdictOf([message('Hello'), sentClose, close(1000), dropped], echo(), 'client')).to.equal('NON-STRICT');
      expect(verdictOf([message('Hello'), sentClose, close(1000), dropped], echo(), 'server')).to.equal('OK');
    });

    it('scores an empty close answer NON-STRICT unless an empty close was expected', () => {
      expect(verdictOf([message('Hello'), sentClose, close(null), tcpEnd], echo())).to.equal('NON-STRICT');
      expect(verdictOf([sentClose, close(null), tcpEnd], { replies: [], ending: { by: 'runner', codes: [null, 1000] } })).to.equal('OK');
    });

    it('fails a close answered with a failure code', () => {
      expect(verdictOf([message('Hello'), sentClose, close(1002), tcpEnd], echo())).to.equal('FAILED');
    });

    it('fails any case in which the peer sent an invalid frame', () => {
      expect(verdictOf([message('Hello'), { kind: 'violation', detail: 'RSV1 set' }, dropped], echo())).to.equal('FAILED');
    });

    it('scores a failure with the expected code OK, and a TCP drop without close frame OK', () => {
      expect(verdictOf([close(1002), tcpEnd], failure([1002]))).to.equal('OK');
      expect(verdictOf([tcpEnd], failure([1002]))).to.equal('OK');
    });

    it('scores a failure with another failure code or an empty close NON-STRICT', () => {
      expect(verdictOf([close(1002), tcpEnd], failure([1007]))).to.equal('NON-STRICT');
      expect(verdictOf([close(null), tcpEnd], failure([1007]))).to.equal('NON-STRICT');
    });

    it('fails a "failure" with a normal close code', () => {
      expect(verdictOf([close(1000), tcpEnd], failure([1002]))).to.equal('FAILED');
    });

    it('fails a peer that does not fail the connection', () => {
      expect(verdictOf([dropped], failure([1002]))).to.equal('FAILED');
    });

    it('fails a peer that echoes what was sent after the violation', () => {
      expect(verdictOf([message('Hello'), close(1002), tcpEnd], failure([1002]))).to.equal('FAILED');
    });

    it('scores a failure after the fail-fast mark NON-STRICT and before it OK', () => {
      const mark: Observed = { kind: 'mark', name: 'rest sent' };
      expect(verdictOf([mark, close(1007), tcpEnd], failure([1007], {}, 'rest sent'))).to.equal('NON-STRICT');
      expect(verdictOf([close(1007), mark, tcpEnd], failure([1007], {}, 'rest sent'))).to.equal('OK');
      expect(verdictOf([tcpEnd, mark], failure([1007], {}, 'rest sent'))).to.equal('OK');
    });

    it('scores a listed alternative reply sequence NON-STRICT', () => {
      const expectation = failure([1002], { replies: [hello], nonStrict: [{ replies: [], note: 'lost echo' }] });
      expect(verdictOf([close(1002), tcpEnd], expectation)).to.equal('NON-STRICT');
      expect(verdictOf([message('Hello'), close(1002), tcpEnd], expectation)).to.equal('OK');
    });

    it('scores tolerated replies NON-STRICT whatever the ending', () => {
      const expectation = failure([1002], { tolerated: { replies: [pongReply('x')], note: 'lenient' } });
      expect(verdictOf([{ kind: 'pong', data: Buffer.from('x') }, sentClose, close(1000), tcpEnd], expectation)).to.equal('NON-STRICT');
    });

    it('scores an informational case INFORMATIONAL unless a frame was invalid', () => {
      expect(verdictOf([sentClose, close(1000), tcpEnd], echo({ informational: true }))).to.equal('INFORMATIONAL');
      expect(verdictOf([{ kind: 'violation', detail: 'x' }], echo({ informational: true }))).to.equal('FAILED');
    });

    it('scores a refused client handshake OK only if the client closed TCP having sent nothing', () => {
      expect(judgeRefusal([tcpEnd]).verdict).to.equal('OK');
      expect(judgeRefusal([message('Hello'), tcpEnd]).verdict).to.equal('FAILED');
      expect(judgeRefusal([close(1002), tcpEnd]).verdict).to.equal('NON-STRICT');
      expect(judgeRefusal([dropped]).verdict).to.equal('FAILED');
    });
  });

  describe('case table', () => {
    it('gives every case a unique id and a description, in both suites', () => {
      for (const suite of [serverSuite(), clientSuite()]) {
        const ids = suite.map((c) => c.id);
        expect(new Set(ids).size).to.equal(ids.length);
        for (const c of suite) expect(c.description, c.id).to.match(/\S{3}/);
      }
    });

    it('covers the opening handshake and Autobahn\'s categories 1-7, 9, 10 and 12', () => {
      const categories = new Set(serverSuite().map((c) => c.id.split('.')[0]));
      expect([...categories]).to.include.members(['0', '1', '2', '3', '4', '5', '6', '7', '9', '10', '12']);
    });

    it('runs every Kuhn UTF-8 vector in one frame and in 1-byte fragments', () => {
      const ids = new Set(serverSuite().map((c) => c.id));
      for (const group of UTF8_GROUPS) {
        group.vectors.forEach((_, i) => {
          expect(ids.has(`${group.id}.${i + 1}`), `${group.id}.${i + 1}`).to.equal(true);
          expect(ids.has(`${group.id}.${i + 1}f`), `${group.id}.${i + 1}f`).to.equal(true);
        });
      }
    });

    it('marks exactly the RFC 3629-valid vectors valid', () => {
      for (const group of UTF8_GROUPS) {
        for (const vector of group.vectors) expect(isUtf8(vector.bytes), `${group.id} ${vector.note}`).to.equal(vector.valid);
      }
    });

    it('splits a 4 MiB message into 65,536 fragments of 64 bytes for 9.3.1', () => {
      const frames = fragments(Opcode.Text, textOfSize(4 * 1024 * 1024), 64);
      expect(frames).to.have.length(65536);
      expect(frames.filter((f) => f.fin === true)).to.have.length(1);
      expect(frames.slice(1).every((f) => f.opcode === Opcode.Continuation)).to.equal(true);
    });

    it('builds valid UTF-8 text of exactly the requested size', () => {
      for (const size of [0, 1, 2, 3, 17, 18, 19, 20, 21, 22, 65535, 65536]) {
        const bytes = textOfSize(size);
        expect(bytes.length).to.equal(size);
        expect(isUtf8(bytes), String(size)).to.equal(true);
      }
    });

    it('selects cases by id, prefix and wildcard', () => {
      expect(matches('7.9.3', '7.9')).to.equal(true);
      expect(matches('7.9.3', '7.*')).to.equal(true);
      expect(matches('6.7.2f', '6.7.2')).to.equal(false);
      expect(matches('6.7.2f', '6.7.2*')).to.equal(true);
      expect(selectCases(serverSuite(), ['7.9'])).to.have.length(12);
      expect(selectCases(serverSuite(), ['1.*'], ['1.3', '1.4'])).to.have.length(16);
    });

    it('parses the command line', () => {
      const args = parseArgs(['--cases', '1.*,5.*', 'ws://127.0.0.1:1/', '--compare', 'ws://127.0.0.1:2/', '--report', 'r.md']);
      expect(args.urls).to.deep.equal(['ws://127.0.0.1:1/', 'ws://127.0.0.1:2/']);
      expect(args.cases).to.deep.equal(['1.*', '5.*']);
      expect(args.report).to.equal('r.md');
      expect(() => parseArgs([])).to.throw(/usage/);
    });
  });

  describe('report', () => {
    const result = (id: string, verdict: Verdict, closeCode: number | null = null): CaseResult =>
      ({ id, description: `case ${id}`, verdict, closeCode, ending: 'tcp closed', notes: verdict === 'OK' ? [] : ['why'], durationMs: 1 });

    it('prints the one-line score', () => {
      expect(summarize([result('1', 'OK'), result('2', 'FAILED'), result('3', 'INFORMATIONAL')]).line)
        .to.equal('score: 1 OK, 0 NON-STRICT, 1 FAILED, 1 INFORMATIONAL, 0 UNIMPLEMENTED of 3');
    });

    it('writes two targets side by side and lists the cases where they differ', () => {
      const markdown = renderMarkdown([
        { label: 'ours', url: 'ws://a/', results: [result('1.1', 'OK', 1000), result('6.4.1', 'OK', 1007)] },
        { label: 'ws', url: 'ws://b/', results: [result('1.1', 'OK', 1000), result('6.4.1', 'NON-STRICT', 1007)] },
      ]);
      expect(markdown).to.include('| case | description | ours | ws |');
      expect(markdown).to.include('| 1.1 | case 1.1 | OK (1000) | OK (1000) |');
      expect(markdown).to.include('## Differences (1)');
      expect(markdown).to.include('| 6.4.1 | case 6.4.1 | OK (1007) | NON-STRICT (1007) |');
    });

    it('finds the cases scored worse than a reference, leaving out unimplemented extensions', () => {
      expect(worseThan([result('1', 'OK'), result('2', 'FAILED'), result('3', 'UNIMPLEMENTED')],
        [result('1', 'NON-STRICT'), result('2', 'OK'), result('3', 'OK')])).to.have.length(1);
    });
  });

  describe('whole runs', function () {
    this.timeout(120_000);

    /** Cases every one of which a peer that echoes without validating must FAIL. */
    const VIOLATION_CASES = ['1.4.1', '1.4.3', '2.5', '3.*', '4.*', '5.1', '5.2', '5.9', '5.12', '5.18', '5.24', '6.3.*', '6.4.*',
      '6.8.*', '6.12.1', '6.12.1f', '6.20.*', '7.3.2', '7.3.6', '7.5.1', '7.9.*'];
    /** Valid cases a peer that echoes without validating passes. */
    const VALID_CASES = ['1.1.*', '1.2.*', '2.1', '2.2', '2.3', '2.4', '2.6', '2.7', '2.9', '2.10', '2.11', '5.3', '5.4', '5.6', '5.19',
      '6.2.*', '6.5.*', '6.22.1', '6.22.1f', '7.1.1', '7.1.4', '7.3.1', '7.3.3', '7.7.*', '9.1.1', '10.1.1'];
    const QUICK = { timeouts: { replyMs: 3000, failFastMs: 200, closeMs: 1000 }, concurrency: 16 };
    const verdicts = (results: CaseResult[]): Record<string, Verdict> => Object.fromEntries(results.map((r) => [r.id, r.verdict]));
    const allAre = (results: CaseResult[], verdict: Verdict): void => {
      expect(results.filter((r) => r.verdict !== verdict).map((r) => `${r.id} ${r.verdict}: ${r.notes.join('; ')}`)).to.deep.equal([]);
    };

    describe('against a deliberately broken echo server (no validation)', () => {
      let server: NaivePeer;
      before(async () => { server = await startNaiveServer(); });
      after(async () => { await server.close(); });

      it('scores every violation case FAILED', async () => {
        const results = await runConformance(server.url, { ...QUICK, cases: VIOLATION_CASES });
        expect(results.length).to.be.greaterThan(70);
        allAre(results, 'FAILED');
      });

      it('scores the valid echo cases OK', async () => {
        const results = await runConformance(server.url, { ...QUICK, cases: VALID_CASES });
        expect(results.length).to.be.greaterThan(50);
        allAre(results, 'OK');
      });

      it('scores echoing a non-minimal length NON-STRICT and accepting an HTTP/1.0 request FAILED', async () => {
        const results = verdicts(await runConformance(server.url, { ...QUICK, cases: ['1.3.1', '1.3.2', '0.5.2', '0.4.1'] }));
        expect(results).to.deep.equal({ '1.3.1': 'NON-STRICT', '1.3.2': 'NON-STRICT', '0.5.2': 'FAILED', '0.4.1': 'FAILED' });
      });
    });

    describe('against a server with a wrong Sec-WebSocket-Accept', () => {
      let server: NaivePeer;
      before(async () => { server = await startNaiveServer({ badAccept: true }); });
      after(async () => { await server.close(); });

      it('fails every case at the opening handshake', async () => {
        const results = await runConformance(server.url, { ...QUICK, cases: ['0.1.1', '1.1.1', '2.1'] });
        allAre(results, 'FAILED');
        for (const r of results) expect(r.notes.join(' ')).to.match(/Sec-WebSocket-Accept/);
      });
    });

    describe('client fuzzer against deliberately broken clients', () => {
      it('scores every violation case and every invalid handshake response FAILED for a client that validates nothing', async () => {
        const results = await runClientConformance(naiveClient({ mask: true }), { ...QUICK, cases: [...VIOLATION_CASES, '0.2.*'] });
        expect(results.length).to.be.greaterThan(75);
        allAre(results, 'FAILED');
      });

      it('scores the valid echo cases OK for a client that validates nothing but masks', async () => {
        const results = await runClientConformance(naiveClient({ mask: true }), { ...QUICK, cases: [...VALID_CASES, '0.1.*'] });
        allAre(results, 'OK');
      });

      it('scores every echo case FAILED for a client that does not mask its frames', async () => {
        const results = await runClientConformance(naiveClient({ mask: false }), { ...QUICK, cases: ['1.1.*', '2.1', '5.3', '6.5.*'] });
        allAre(results, 'FAILED');
        for (const r of results) expect(r.notes.join(' ')).to.match(/unmasked frame from a client/);
      });
    });

    describe('against the ws package (scores printed, not gated)', () => {
      it('runs the whole server suite against a ws echo server', async () => {
        const reference = await startWsEchoServer();
        try {
          const results = await runConformance(reference.url);
          printResults('ws server', results);
          expect(results).to.have.length(serverSuite().length);
          expect(results.filter((r) => r.notes.some((n) => n.startsWith('runner error')))).to.deep.equal([]);
        } finally {
          await reference.close();
        }
      });

      it('runs the whole client suite against the ws client', async () => {
        const results = await runClientConformance(wsConnectAndEcho);
        printResults('ws client', results);
        expect(results).to.have.length(clientSuite().length);
        expect(results.filter((r) => r.notes.some((n) => n.startsWith('runner error')))).to.deep.equal([]);
      });
    });
  });
});

// --- Deliberately broken peers ------------------------------------------------------------------

interface NaivePeer {
  url: string;
  close(): Promise<void>;
}

/**
 * Splits a byte stream into frames without checking a single rule: the broken peers' only skill.
 * Calls `onFrame` with the first header byte and the unmasked payload.
 */
function naiveFrames(onFrame: (byte0: number, payload: Buffer) => void): (chunk: Buffer) => void {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (buffered.length < 2) return;
      const byte0 = buffered[0];
      const masked = (buffered[1] & 0x80) !== 0;
      let length = buffered[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffered.length < 4) return;
        length = buffered.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffered.length < 10) return;
        length = buffered.readUInt32BE(6);
        offset = 10;
      }
      const key = masked ? buffered.subarray(offset, offset + 4) : undefined;
      if (masked) offset += 4;
      if (buffered.length < offset + length) return;
      const payload = Buffer.from(buffered.subarray(offset, offset + length));
      if (key !== undefined) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      buffered = buffered.subarray(offset + length);
      onFrame(byte0, payload);
    }
  };
}

/** A frame with the minimal length form, masked with a random key if `mask`. */
function naiveFrame(byte0: number, payload: Buffer, mask: boolean): Buffer {
  const lengthBytes = payload.length < 126 ? 0 : payload.length < 65536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
  header[0] = byte0;
  header[1] = (mask ? 0x80 : 0) | (lengthBytes === 0 ? payload.length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) header.writeUInt16BE(payload.length, 2);
  if (lengthBytes === 8) header.writeUInt32BE(payload.length, 6);
  const body = Buffer.from(payload);
  if (mask) {
    const key = randomBytes(4);
    key.copy(header, 2 + lengthBytes);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  }
  return Buffer.concat([header, body]);
}

/**
 * Echoes frames as they come: pings become pongs, pongs are dropped, a close is echoed and the
 * connection ended; everything else goes back unchanged (RSV bits, opcodes, invalid UTF-8...).
 */
function naiveEcho(socket: Socket, mask: boolean): (chunk: Buffer) => void {
  return naiveFrames((byte0, payload) => {
    if (!socket.writable) return;
    const opcode = byte0 & 0x0f;
    if (opcode === 0x9) socket.write(naiveFrame((byte0 & 0xf0) | 0xa, payload, mask));
    else if (opcode === 0x8) socket.end(naiveFrame(byte0, payload, mask));
    else if (opcode !== 0xa) socket.write(naiveFrame(byte0, payload, mask));
  });
}

/**
 * Gathers an HTTP head from `socket`; once it is complete, `onHead(head)` returns the handler for
 * everything after it (the bytes that came with the head first).
 */
function afterHead(socket: Socket, onHead: (head: string) => (chunk: Buffer) => void): void {
  let head = Buffer.alloc(0);
  let onFrames: ((chunk: Buffer) => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    if (onFrames !== undefined) {
      onFrames(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    onFrames = onHead(head.subarray(0, end).toString('latin1'));
    onFrames(head.subarray(end + 4));
  });
}

function startNaiveServer(options: { badAccept?: boolean } = {}): Promise<NaivePeer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    afterHead(socket, (head) => {
      const key = /sec-websocket-key:[ \t]*(\S+)/i.exec(head)?.[1] ?? '';
      const accept = options.badAccept === true ? 'bad' : createHash('sha1').update(key + GUID).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      return naiveEcho(socket, false);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({
        url: `ws://${HOST}:${port}/`,
        close: () => new Promise<void>((done) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => { done(); });
        }),
      });
    });
  });
}

/** A client that ignores the handshake response and echoes every frame unvalidated. */
function naiveClient({ mask }: { mask: boolean }): ConnectAndEcho {
  return (url) => new Promise<void>((resolve) => {
    const { hostname, port, pathname } = new URL(url);
    const socket = netConnect({ host: hostname, port: Number(port) });
    socket.on('error', () => undefined);
    socket.on('close', () => { resolve(); });
    socket.on('connect', () => {
      socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    afterHead(socket, () => naiveEcho(socket, mask));
  });
}

oursSuite();
