/**
 * The kept deflate engine: what it compresses inflates like a persistent stream's output, a codec
 * gets one only when it sends often, unused engines are closed by the sweep, and their number is
 * capped.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import * as zlib from 'node:zlib';
import { type EngineHolder, KeptDeflater, keptEngines, MAX_KEPT, sweep } from '../../lib/extensions/kept-deflater';
import { PerMessageDeflate } from '../../lib/extensions/permessage-deflate';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Inflates sync-flushed messages one after the other, as a peer keeping its context does. */
function inflater(): (data: Buffer) => Promise<Buffer> {
  const stream = zlib.createInflateRaw();
  const out: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => { out.push(chunk); });
  return async (data) => {
    stream.write(data);
    await new Promise<void>((resolve) => { stream.flush(zlib.constants.Z_SYNC_FLUSH, () => { resolve(); }); });
    return Buffer.concat(out.splice(0));
  };
}

class Holder implements EngineHolder {
  engine: KeptDeflater | undefined;
  sweepEngine(): void {
    const engine = this.engine;
    if (engine === undefined) return;
    if (engine.used) {
      engine.used = false;
    } else {
      engine.close();
      this.engine = undefined;
    }
  }
}

describe('KeptDeflater', () => {
  it('compresses message after message so that one kept inflater reads them back, ending each with a sync flush', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 70_000 }), { minLength: 1, maxLength: 6 }), async (messages) => {
      const holder = new Holder();
      holder.engine = KeptDeflater.create({ level: 6 }, undefined, holder);
      const engine = holder.engine as KeptDeflater;
      const inflate = inflater();
      for (const message of messages) {
        const out = engine.deflate(message, false) as Buffer;
        expect(out.subarray(-4).equals(TAIL)).to.equal(true);
        expect((await inflate(out)).equals(Buffer.from(message))).to.equal(true);
      }
      engine.close();
    }), { numRuns: 40 });
  });

  it('starts every message afresh with reset: each inflates on its own', () => {
    const holder = new Holder();
    const engine = KeptDeflater.create({}, undefined, holder) as KeptDeflater;
    for (const text of ['Hello', 'Hello', 'Hello, Hello']) {
      const out = engine.deflate(Buffer.from(text), true) as Buffer;
      expect(zlib.inflateRawSync(out, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString()).to.equal(text);
    }
    engine.close();
  });

  it('continues from a primed history, as a fresh engine given that dictionary would', () => {
    const history = Buffer.from('{"type":"chat","room":"general","text":"hello there"}');
    const holder = new Holder();
    const engine = KeptDeflater.create({}, history, holder) as KeptDeflater;
    const message = Buffer.from('{"type":"chat","room":"general","text":"hello again"}');
    const out = engine.deflate(message, false) as Buffer;
    expect(out.length).to.be.below(message.length / 2);
    expect(zlib.inflateRawSync(out, { dictionary: history, finishFlush: zlib.constants.Z_SYNC_FLUSH }).equals(message)).to.equal(true);
    engine.close();
  });

  it('is closed by the second sweep that finds it unused, and counted until then', () => {
    const before = keptEngines();
    const holder = new Holder();
    holder.engine = KeptDeflater.create({}, undefined, holder);
    expect(keptEngines()).to.equal(before + 1);
    sweep();
    expect(holder.engine, 'used since it was made').to.not.equal(undefined);
    holder.engine?.deflate(Buffer.from('still in use'), false);
    sweep();
    expect(holder.engine, 'used since the last sweep').to.not.equal(undefined);
    sweep();
    sweep();
    expect(holder.engine).to.equal(undefined);
    expect(keptEngines()).to.equal(before);
  });

  it(`exists at most ${MAX_KEPT} times in the process`, () => {
    const holders: Holder[] = [];
    try {
      // Small engines: the cap counts engines, whatever their size.
      for (let i = keptEngines(); i < MAX_KEPT; i++) {
        const holder = new Holder();
        holder.engine = KeptDeflater.create({ windowBits: 9, memLevel: 1 }, undefined, holder);
        expect(holder.engine).to.not.equal(undefined);
        holders.push(holder);
      }
      expect(keptEngines()).to.equal(MAX_KEPT);
      expect(KeptDeflater.create({ windowBits: 9, memLevel: 1 }, undefined, new Holder())).to.equal(undefined);
    } finally {
      for (const holder of holders) holder.engine?.close();
    }
  });

  describe('in PerMessageDeflate', () => {
    const params = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

    it('gets an engine for a message sent soon after another, none for a single message, and none after close()', () => {
      const before = keptEngines();
      const codec = new PerMessageDeflate(params, 'server');
      codec.deflate('{"first":"message"}');
      expect(keptEngines(), 'one message').to.equal(before);
      codec.deflate('{"second":"message"}');
      expect(keptEngines(), 'a second one at once').to.equal(before + 1);
      codec.close();
      expect(keptEngines()).to.equal(before);
    });

    it('sends messages a peer keeping its context reads back, through engines made, swept and made again', async () => {
      const codec = new PerMessageDeflate(params, 'server');
      const inflate = inflater();
      const messages = Array.from({ length: 30 }, (_, i) => `{"id":${i},"text":"${'status update '.repeat(i % 7)}"}`);
      for (const [i, message] of messages.entries()) {
        if (i % 10 === 9) { sweep(); sweep(); }
        const out = Buffer.concat([codec.deflate(message), TAIL]);
        expect((await inflate(out)).toString()).to.equal(message);
      }
      codec.close();
    });
  });
});
