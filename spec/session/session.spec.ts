import { expect } from 'chai';
import fc from 'fast-check';
import { CloseCode, Opcode } from '../../lib/constants';
import { ERRORS, WebSocketProtocolError, WebSocketUsageError } from '../../lib/errors';
import { FixedMaskSource } from '../../lib/frame/mask';
import { encodeClosePayload } from '../../lib/message/close';
import { type ExtensionCallback, type MessageExtension, PENDING } from '../../lib/message/extension';
import { ReadyState, TransportAction } from '../../lib/session/session';
import { hex, split } from '../support/frames';
import { Harness } from '../support/session';

const close = (code?: number, reason?: string): { opcode: number; payload: Buffer } =>
  ({ opcode: Opcode.Close, payload: encodeClosePayload(code, reason) });

describe('Session (sans-I/O connection core)', () => {
  describe('closing handshake (RFC 6455 §7)', () => {
    it('echoes the peer\'s close code, reports its code and reason, and (as the server) ends TCP once both are out', () => {
      const h = new Harness();
      h.receive(close(4001, 'done here'));
      expect(Harness.closes(h.output())).to.deep.equal([{ code: 4001, reason: '' }]);
      expect(h.session.readyState).to.equal(ReadyState.CLOSING);
      expect(h.session.transport).to.equal(TransportAction.End);
      h.session.transportClosed();
      expect(h.session.readyState).to.equal(ReadyState.CLOSED);
      expect([h.session.closeCode, h.session.closeReason, h.session.wasClean]).to.deep.equal([4001, 'done here', true]);
    });

    it('answers an empty close with an empty close and reports 1005 (§7.1.5)', () => {
      const h = new Harness();
      h.receive({ opcode: Opcode.Close });
      const [frame] = h.output();
      expect([frame.opcode, frame.payload.length]).to.deep.equal([Opcode.Close, 0]);
      h.session.transportClosed();
      expect(h.session.closeCode).to.equal(CloseCode.NoStatus);
    });

    it('as a client, waits for the server to close TCP, and gives up after closeTimeout', () => {
      const h = new Harness({ closeTimeout: 300 }, 'client');
      h.receive(close(1000));
      expect(Harness.closes(h.output())).to.deep.equal([{ code: 1000, reason: '' }]);
      // §7.1.1: the server closes TCP first; the client keeps it meanwhile.
      expect(h.session.transport).to.equal(TransportAction.Keep);
      expect(h.session.deadline).to.equal(h.now + 300);
      h.advance(299);
      expect(h.session.transport).to.equal(TransportAction.Keep);
      h.advance(1);
      expect(h.session.transport).to.equal(TransportAction.Destroy);
      h.session.transportClosed();
      expect([h.session.closeCode, h.session.wasClean]).to.deep.equal([1000, true]);
    });

    it('starts the handshake on close(): our frame first, then the peer\'s echo ends it', () => {
      const h = new Harness({ closeTimeout: 500 });
      h.session.close(4000, 'bye');
      expect(Harness.closes(h.output())).to.deep.equal([{ code: 4000, reason: 'bye' }]);
      expect([h.session.readyState, h.session.transport, h.session.deadline]).to.deep.equal([ReadyState.CLOSING, TransportAction.Keep, h.now + 500]);
      h.receive(close(4000));
      expect(h.output()).to.deep.equal([]);
      expect(h.session.transport).to.equal(TransportAction.End);
    });

    it('drops a peer that never answers our close after closeTimeout, as 1006 (WS_ERR_CLOSE_TIMEOUT)', () => {
      const h = new Harness({ closeTimeout: 500 });
      h.session.close(1000);
      h.advance(500);
      expect(h.session.transport).to.equal(TransportAction.Destroy);
      h.session.transportClosed();
      expect(h.session.closeCode).to.equal(CloseCode.Abnormal);
      expect((h.session.error as WebSocketProtocolError).code).to.equal('WS_ERR_CLOSE_TIMEOUT');
      expect(h.session.wasClean).to.equal(false);
    });

    it('still delivers data the peer sent before it saw our close, and nothing after its own close', () => {
      const h = new Harness();
      h.session.close(1000);
      h.receive({ opcode: Opcode.Text, payload: 'in flight' }, close(1000), { opcode: Opcode.Text, payload: 'after close' });
      expect(h.messages()).to.deep.equal(['in flight']);
    });

    it('closing twice does nothing; a bad code throws in every state', () => {
      const h = new Harness();
      h.session.close(1000);
      h.session.close(1001);
      expect(Harness.closes(h.output())).to.deep.equal([{ code: 1000, reason: '' }]);
      expect(() => { h.session.close(1005); }).to.throw(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_CLOSE_CODE');
      expect(() => { h.session.close(1000, 'x'.repeat(124)); }).to.throw(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_CLOSE_REASON');
    });

    it('reports a peer that ended TCP without a close frame as 1006 (WS_ERR_CONNECTION_LOST), mid-frame as truncated', () => {
      const idle = new Harness();
      idle.session.receiveEnd();
      expect(idle.session.transport).to.equal(TransportAction.End);
      idle.session.transportClosed();
      expect([idle.session.closeCode, (idle.session.error as WebSocketProtocolError).code]).to.deep.equal([1006, 'WS_ERR_CONNECTION_LOST']);
      const cut = new Harness();
      cut.receiveBytes(cut.frameBytes({ opcode: Opcode.Binary, payload: Buffer.alloc(100) }).subarray(0, 50));
      cut.session.receiveEnd();
      cut.session.transportClosed();
      expect((cut.session.error as WebSocketProtocolError).code).to.equal('WS_ERR_TRUNCATED_FRAME');
      expect(cut.events).to.deep.equal([]);
    });

    it('terminate() destroys the transport without a frame and reports 1006', () => {
      const h = new Harness();
      h.session.terminate();
      expect([h.session.transport, h.output().length]).to.deep.equal([TransportAction.Destroy, 0]);
      h.session.transportClosed();
      expect(h.session.closeCode).to.equal(1006);
    });
  });

  describe('errors become close codes in one place', () => {
    const cases: Array<{ name: string; options?: object; bytes: Buffer; code: number; error: string }> = [
      { name: 'an unmasked frame from a client', bytes: hex('81 01 41'), code: 1002, error: 'WS_ERR_EXPECTED_MASK' },
      { name: 'a reserved opcode', bytes: hex('83 80 00 00 00 00'), code: 1002, error: 'WS_ERR_INVALID_OPCODE' },
      { name: 'invalid UTF-8 text', bytes: hex('81 81 00 00 00 00 ff'), code: 1007, error: 'WS_ERR_INVALID_UTF8' },
      { name: 'a message above maxMessageSize', options: { maxMessageSize: 4 }, bytes: hex('82 85 00 00 00 00 0102030405'), code: 1009, error: 'WS_ERR_MESSAGE_TOO_BIG' },
      { name: 'a frame above maxPayload', options: { maxPayload: 4 }, bytes: hex('82 85 00 00 00 00'), code: 1009, error: 'WS_ERR_PAYLOAD_TOO_BIG' },
      { name: 'a stray continuation', bytes: hex('80 80 00 00 00 00'), code: 1002, error: 'WS_ERR_UNEXPECTED_CONTINUATION' },
      { name: 'a close code that may not be sent', bytes: hex('88 82 00 00 00 00 03 ed'), code: 1002, error: 'WS_ERR_INVALID_CLOSE_CODE' },
    ];
    for (const { name, options, bytes, code, error } of cases) {
      it(`fails ${name} with ${code} (${error}) and the table's reason`, () => {
        const h = new Harness(options);
        h.receiveBytes(bytes);
        expect(h.errors()).to.deep.equal([error]);
        expect(Harness.closes(h.output())).to.deep.equal([{ code, reason: ERRORS[error as keyof typeof ERRORS].message }]);
        expect([h.session.readyState, h.session.transport]).to.deep.equal([ReadyState.CLOSING, TransportAction.End]);
        h.session.transportClosed();
        expect(h.session.closeCode).to.equal(code);
      });
    }

    it('delivers every message completed before the bad byte, then fails', () => {
      const h = new Harness();
      h.receiveBytes(Buffer.concat([h.frameBytes({ opcode: Opcode.Text, payload: 'one' }), h.frameBytes({ opcode: Opcode.Text, payload: 'two' }), hex('83 80 00 00 00 00')]));
      expect(h.messages()).to.deep.equal(['one', 'two']);
      expect(h.errors()).to.deep.equal(['WS_ERR_INVALID_OPCODE']);
    });

    it('maps anything that is not a protocol error to 1011 without details', () => {
      const h = new Harness();
      h.session.fail(new Error('secret internals'));
      expect(Harness.closes(h.output())).to.deep.equal([{ code: 1011, reason: '' }]);
    });

    it('sends no close frame for a 1006 error and destroys the transport', () => {
      const h = new Harness();
      h.session.fail(new WebSocketProtocolError('WS_ERR_PEER_UNRESPONSIVE'));
      expect([h.output().length, h.session.transport]).to.deep.equal([0, TransportAction.Destroy]);
    });

    it('reports the first failure once and ignores later ones', () => {
      const h = new Harness();
      h.receiveBytes(hex('81 01 41'));
      h.session.fail(new Error('later'));
      expect(h.errors()).to.deep.equal(['WS_ERR_EXPECTED_MASK']);
    });

    it('never throws on arbitrary bytes: each input ends in messages, a coded failure, or waiting for more', () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 6 }), (bytes, cuts) => {
        const h = new Harness({ maxMessageSize: 1024 });
        for (const chunk of split(bytes, cuts)) h.session.receive(chunk);
        for (const code of h.errors()) expect(code).to.match(/^WS_ERR_/);
        for (const { code } of Harness.closes(h.output())) expect([1002, 1007, 1009]).to.include(code);
      }), { numRuns: 300 });
    });
  });

  describe('automatic pongs', () => {
    it('answers a ping with the same payload (§5.5.2) and reports it', () => {
      const h = new Harness();
      h.receive({ opcode: Opcode.Ping, payload: 'are you there' });
      const [pong] = h.output();
      expect([pong.opcode, pong.payload.toString()]).to.deep.equal([Opcode.Pong, 'are you there']);
      expect(h.events.map((e) => e.type)).to.deep.equal(['ping']);
    });

    it('stops reading while unwritten pongs pass the write high-water mark, and reads again once written', () => {
      const h = new Harness({ writeHighWaterMark: 4096 });
      const pings = Array.from({ length: 1000 }, () => h.frameBytes({ opcode: Opcode.Ping, payload: Buffer.alloc(125) }));
      // The transport takes nothing: every pong stays queued.
      for (const ping of pings) {
        if (!h.session.reading) break;
        h.session.receive(ping);
      }
      expect(h.session.reading).to.equal(false);
      // Bounded by the mark plus one pong, not by how many pings the peer sends.
      expect(h.session.outbox.bytes).to.be.at.most(4096 + 127);
      h.output();
      h.session.flushed(false);
      expect(h.session.reading).to.equal(true);
    });

    it('packs a flood of pongs into a few chunks, never one per frame', () => {
      const h = new Harness({ writeHighWaterMark: 1 << 30 });
      h.receiveBytes(Buffer.concat(Array.from({ length: 10_000 }, () => h.frameBytes({ opcode: Opcode.Ping }))));
      let chunks = 0;
      h.session.outbox.flushTo({ chunk: () => { chunks++; }, written: () => undefined });
      // 20,000 bytes of pongs in blocks that double from 256 B up to 16 KiB: 7 chunks.
      expect(chunks).to.be.at.most(8);
    });
  });

  describe('heartbeat (time passed in, no timers)', () => {
    it('pings a silent peer after heartbeatInterval and drops it after heartbeatTimeout (1006)', () => {
      const h = new Harness({ heartbeatInterval: 1000, heartbeatTimeout: 500 });
      expect(h.session.deadline).to.equal(h.now + 1000);
      h.advance(1000);
      expect(h.output().map((f) => f.opcode)).to.deep.equal([Opcode.Ping]);
      expect(h.session.deadline).to.equal(h.now + 500);
      h.advance(499);
      expect(h.session.transport).to.equal(TransportAction.Keep);
      h.advance(1);
      expect([h.session.transport, ...h.errors()]).to.deep.equal([TransportAction.Destroy, 'WS_ERR_PEER_UNRESPONSIVE']);
    });

    it('never pings a peer that keeps sending', () => {
      const h = new Harness({ heartbeatInterval: 1000 });
      for (let i = 0; i < 10; i++) {
        h.receive({ opcode: Opcode.Text, payload: 'tick' });
        h.advance(1000);
      }
      expect(h.output()).to.deep.equal([]);
      expect(h.session.readyState).to.equal(ReadyState.OPEN);
    });

    it('keeps a peer that answers the ping (any bytes count)', () => {
      const h = new Harness({ heartbeatInterval: 1000, heartbeatTimeout: 500 });
      h.advance(1000);
      h.receive({ opcode: Opcode.Pong });
      h.advance(600);
      expect(h.session.transport).to.equal(TransportAction.Keep);
    });

    it('drops a peer whose frame stalls halfway', () => {
      const h = new Harness({ heartbeatInterval: 1000, heartbeatTimeout: 1000 });
      h.receiveBytes(h.frameBytes({ opcode: Opcode.Binary, payload: Buffer.alloc(1000) }).subarray(0, 300));
      h.advance(1000); // bytes arrived in this interval
      h.advance(1000); // silent: pinged
      h.advance(1000); // still silent: dropped
      expect(h.errors()).to.deep.equal(['WS_ERR_PEER_UNRESPONSIVE']);
    });

    it('does not blame the peer while we are not reading: the ping goes out, no answer is required', () => {
      const h = new Harness({ heartbeatInterval: 1000, heartbeatTimeout: 100 });
      h.session.pause();
      h.advance(1000);
      expect(h.output().map((f) => f.opcode)).to.deep.equal([Opcode.Ping]);
      h.advance(5000);
      expect(h.errors()).to.deep.equal([]);
    });

    it('is off with heartbeatInterval 0', () => {
      const h = new Harness({ heartbeatInterval: 0 });
      expect(h.session.deadline).to.equal(Infinity);
    });
  });

  describe('sending', () => {
    it('serializes text, binary and fragments in order; a client masks every frame', () => {
      const h = new Harness({ fragmentSize: 3, maskSource: new FixedMaskSource(0x01020304) }, 'client');
      h.session.send('abcdefg', false);
      h.session.send(Buffer.from([1, 2]), true);
      const frames = h.output();
      expect(frames.map((f) => [f.opcode, f.fin, f.masked, f.payload.toString('latin1')])).to.deep.equal([
        [Opcode.Text, false, true, 'abc'], [Opcode.Continuation, false, true, 'def'], [Opcode.Continuation, true, true, 'g'],
        [Opcode.Binary, true, true, '\x01\x02'],
      ]);
    });

    it('sends a streamed message fragment by fragment; messages sent meanwhile follow it, control frames may not wait', () => {
      const h = new Harness();
      h.session.sendStreamStart(true);
      h.session.sendStreamChunk(Buffer.from('one'));
      h.session.send('queued', false);
      h.session.control('ping', 'between');
      h.session.sendStreamChunk(Buffer.from('two'));
      h.session.sendStreamEnd();
      expect(h.output().map((f) => [f.opcode, f.fin, f.payload.toString()])).to.deep.equal([
        [Opcode.Binary, false, 'one'], [Opcode.Ping, true, 'between'], [Opcode.Continuation, false, 'two'],
        [Opcode.Continuation, true, ''], [Opcode.Text, true, 'queued'],
      ]);
    });

    it('keeps the order of reservation: messages sent after a stream was reserved follow it, and the next stream\'s turn', () => {
      const h = new Harness();
      h.session.send('m1', false);
      h.session.reserveStream();
      h.session.send('m2', false);
      h.session.reserveStream();
      h.session.send('m3', false);
      expect(h.session.streamReady).to.equal(true);
      h.session.sendStreamStart(true);
      h.session.sendStreamChunk(Buffer.from('s1'));
      h.session.sendStreamEnd();
      // m2 went out; the second stream's turn came, so m3 still waits.
      expect(h.session.streamReady).to.equal(true);
      h.session.releaseStream();
      expect(h.output().map((f) => f.payload.toString())).to.deep.equal(['m1', 's1', '', 'm2', 'm3']);
    });

    it('refuses invalid UTF-8 in a text stream rather than send it', () => {
      const h = new Harness();
      h.session.sendStreamStart(false);
      expect(() => { h.session.sendStreamChunk(Buffer.from([0xff])); }).to.throw(WebSocketUsageError);
    });

    it('runs write callbacks in order once the transport wrote the bytes before them', () => {
      const h = new Harness();
      const done: string[] = [];
      h.session.send('a', false, () => { done.push('a'); });
      h.session.send('b', false, () => { done.push('b'); });
      h.output();
      expect(done).to.deep.equal([]);
      h.completeWrites();
      expect(done).to.deep.equal(['a', 'b']);
    });

    it('refuses to send unless OPEN (WS_ERR_INVALID_STATE)', () => {
      const h = new Harness();
      h.session.close();
      expect(() => h.session.send('late', false)).to.throw(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_STATE');
    });

    it('accepts one message of any size, and fails a later send while over maxBufferedAmount (1008)', () => {
      const h = new Harness({ maxBufferedAmount: 1000 });
      expect(h.session.send(Buffer.alloc(5000), true)).to.equal(true);
      expect(h.session.send('one more', false)).to.equal(false);
      expect(h.errors()).to.deep.equal(['WS_ERR_SLOW_CONSUMER']);
      expect(Harness.closes(h.output())).to.deep.equal([{ code: 1008, reason: ERRORS.WS_ERR_SLOW_CONSUMER.message }]);
    });

    it('counts what the transport holds toward the backstop', () => {
      const h = new Harness({ maxBufferedAmount: 1000 });
      h.backlogBytes = 2000;
      expect(h.session.send('x', false)).to.equal(false);
    });
  });

  describe('an extension that finishes later', () => {
    /** A fake extension: every message is "encoded" by reversing it; each call completes when told. */
    class LaterExtension implements MessageExtension {
      readonly name = 'x-later';
      readonly rsvBits = 0x40;
      readonly pending: Array<() => void> = [];
      encode(payload: Uint8Array | string, _isText: boolean, callback: ExtensionCallback): typeof PENDING {
        this.pending.push(() => { callback(null, Buffer.from(payload).reverse()); });
        return PENDING;
      }
      decode(piece: Buffer, fin: boolean, _max: number, callback: ExtensionCallback): Buffer | undefined | typeof PENDING {
        if (!fin) return undefined;
        const copy = Buffer.from(piece).reverse();
        this.pending.push(() => { callback(null, copy); });
        return PENDING;
      }
      maxEncodedSize(max: number): number { return max; }
      close(): void { /* nothing held */ }
      finish(): void { for (const done of this.pending.splice(0)) done(); }
    }

    it('holds every later frame (control frames too) until the message is decoded, and stops reading meanwhile', () => {
      const ext = new LaterExtension();
      const h = new Harness({}, 'server', ext);
      h.receive({ opcode: Opcode.Text, payload: 'olleh', rsv1: true }, { opcode: Opcode.Ping, payload: 'p' }, { opcode: Opcode.Text, payload: 'plain' });
      expect(h.events).to.deep.equal([]);
      expect(h.session.reading).to.equal(false);
      h.receive({ opcode: Opcode.Text, payload: 'later chunk' });
      ext.finish();
      expect(h.events.filter((e) => e.type !== 'wake').map((e) => (e.type === 'message' ? e.data : e.type))).to.deep.equal(['hello', 'ping', 'plain', 'later chunk']);
      expect(h.session.reading).to.equal(true);
    });

    it('keeps protocol order on the way out: a ping or close sent after a pending message follows it', () => {
      const ext = new LaterExtension();
      const h = new Harness({}, 'server', ext);
      h.session.send('first', false);
      h.session.control('ping', 'p');
      h.session.close(1000);
      expect(h.output()).to.deep.equal([]);
      ext.finish();
      expect(h.output().map((f) => [f.opcode, f.rsv1, f.opcode === Opcode.Close ? '' : f.payload.toString()])).to.deep.equal([
        [Opcode.Text, true, 'tsrif'], [Opcode.Ping, false, 'p'], [Opcode.Close, false, ''],
      ]);
      expect(h.session.transport).to.equal(TransportAction.Keep);
    });
  });
});
