import { expect } from 'chai';
import { Inbox, PauseReason } from '../../lib/session/inbox';

describe('Inbox (receive backpressure)', () => {
  it('reads while no reason holds, and stops while any does', () => {
    const inbox = new Inbox<number>(8);
    expect(inbox.reading).to.equal(true);
    inbox.pause(PauseReason.User);
    inbox.pause(PauseReason.Stream);
    inbox.resume(PauseReason.User);
    expect([inbox.reading, inbox.has(PauseReason.Stream)]).to.deep.equal([false, true]);
    inbox.resume(PauseReason.Stream);
    expect(inbox.reading).to.equal(true);
  });

  it('stops reading at the high-water mark of held messages and resumes at a quarter of it', () => {
    const inbox = new Inbox<number>(8);
    for (let i = 0; i < 7; i++) inbox.push(i);
    expect(inbox.reading).to.equal(true);
    inbox.push(7);
    expect(inbox.reading).to.equal(false);
    const taken: number[] = [];
    while (!inbox.reading) taken.push(inbox.shift() as number);
    expect(taken).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(inbox.length).to.equal(2);
  });

  it('keeps order across a long run of pushes and shifts', () => {
    const inbox = new Inbox<number>(1000);
    const out: number[] = [];
    for (let i = 0; i < 5000; i++) {
      inbox.push(i);
      if (i % 3 !== 0) out.push(inbox.shift() as number);
    }
    while (inbox.length > 0) out.push(inbox.shift() as number);
    expect(out).to.deep.equal(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('clear() drops held messages and the queue reason', () => {
    const inbox = new Inbox<number>(1);
    inbox.push(1);
    inbox.clear();
    expect([inbox.length, inbox.reading, inbox.shift()]).to.deep.equal([0, true, undefined]);
  });
});
