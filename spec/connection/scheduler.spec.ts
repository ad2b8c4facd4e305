import { expect } from 'chai';
import fc from 'fast-check';
import { Scheduler, type Timed } from '../../lib/connection/scheduler';

class Item implements Timed {
  heapIndex = -1;
  heapDeadline = 0;
  fired: number[] = [];
  constructor(readonly name: string, readonly log: string[]) {}
  onDeadline(now: number): void { this.fired.push(now); this.log.push(this.name); }
}

describe('Scheduler (one timer for every connection)', () => {
  it('fires items in deadline order, each once, with its deadline reached', async () => {
    const scheduler = new Scheduler();
    const log: string[] = [];
    const now = performance.now();
    const items = [['c', 60], ['a', 20], ['b', 40]].map(([name, delay]) => {
      const item = new Item(name as string, log);
      scheduler.schedule(item, now + (delay as number));
      return item;
    });
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(log).to.deep.equal(['a', 'b', 'c']);
    for (const item of items) expect(item.fired[0]).to.be.at.least(item.heapDeadline);
    expect(scheduler.size).to.equal(0);
  });

  it('moves an item when its deadline changes and forgets it when cancelled or set to Infinity', async () => {
    const scheduler = new Scheduler();
    const log: string[] = [];
    const a = new Item('a', log);
    const b = new Item('b', log);
    const c = new Item('c', log);
    const now = performance.now();
    scheduler.schedule(a, now + 10);
    scheduler.schedule(b, now + 20);
    scheduler.schedule(c, now + 30);
    scheduler.schedule(a, now + 40);
    scheduler.cancel(b);
    scheduler.schedule(c, Infinity);
    expect(scheduler.size).to.equal(1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(log).to.deep.equal(['a']);
  });

  it('keeps the heap ordered under any sequence of schedules and cancels', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(9), fc.option(fc.integer({ min: 1, max: 1e6 }))), { maxLength: 200 }), (ops) => {
      const scheduler = new Scheduler();
      const items = Array.from({ length: 10 }, (_, i) => new Item(String(i), []));
      const expected = new Map<Item, number>();
      for (const [index, deadline] of ops) {
        const item = items[index];
        if (deadline === null) { scheduler.cancel(item); expected.delete(item); } else { scheduler.schedule(item, 1e12 + deadline); expected.set(item, 1e12 + deadline); }
      }
      expect(scheduler.size).to.equal(expected.size);
      const heap = (scheduler as unknown as { heap: Item[] }).heap;
      heap.forEach((item, i) => {
        expect(item.heapIndex).to.equal(i);
        expect(item.heapDeadline).to.equal(expected.get(item));
        if (i > 0) expect(heap[(i - 1) >> 1].heapDeadline).to.be.at.most(item.heapDeadline);
      });
      for (const item of items) scheduler.cancel(item);
    }), { numRuns: 200 });
  });
});
