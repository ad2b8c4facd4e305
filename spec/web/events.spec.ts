import { expect } from 'chai';
import { CloseEvent, ErrorEvent, MessageEvent } from '../../lib/web/events';

describe('web events', () => {
  it('a CloseEvent carries code, reason and wasClean, and defaults to 0, "" and false', () => {
    const event = new CloseEvent('close', { code: 4000, reason: 'bye', wasClean: true });
    expect(event).to.be.instanceOf(Event);
    expect([event.type, event.code, event.reason, event.wasClean]).to.deep.equal(['close', 4000, 'bye', true]);
    const empty = new CloseEvent('close');
    expect([empty.code, empty.reason, empty.wasClean]).to.deep.equal([0, '', false]);
    expect(Object.prototype.toString.call(event)).to.equal('[object CloseEvent]');
    expect(event.constructor.name).to.equal('CloseEvent');
  });

  it('a CloseEvent is dispatched like any Event, its fields read-only', () => {
    const target = new EventTarget();
    const seen: number[] = [];
    target.addEventListener('close', (event) => { seen.push((event as CloseEvent).code); });
    const event = new CloseEvent('close', { code: 1000 });
    target.dispatchEvent(event);
    expect(seen).to.deep.equal([1000]);
    expect(() => { (event as unknown as { code: number }).code = 5; }).to.throw(TypeError);
  });

  it('an ErrorEvent carries the error and its message (Node only: browsers hide them)', () => {
    const cause = new Error('refused');
    const event = new ErrorEvent('error', { error: cause, message: 'refused' });
    expect(event).to.be.instanceOf(Event);
    expect([event.type, event.message, event.error]).to.deep.equal(['error', 'refused', cause]);
    const empty = new ErrorEvent('error');
    expect([empty.message, empty.error]).to.deep.equal(['', undefined]);
    expect(Object.prototype.toString.call(event)).to.equal('[object ErrorEvent]');
  });

  it('MessageEvent is the platform one, with data and origin', () => {
    expect(MessageEvent).to.equal(globalThis.MessageEvent);
    const event = new MessageEvent('message', { data: 'x', origin: 'ws://h:1' });
    expect([event.data, event.origin]).to.deep.equal(['x', 'ws://h:1']);
  });
});
