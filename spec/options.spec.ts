import { expect } from 'chai';
import { WebSocketUsageError } from '../lib/errors';
import { booleanOption, functionOption, numberOption, objectOption } from '../lib/options';

describe('option checks', () => {
  it('numberOption: the fallback when undefined, the value when it passes the rule', () => {
    expect(numberOption('n', undefined, 7)).to.equal(7);
    expect(numberOption('n', 0, 7)).to.equal(0);
    expect(numberOption('n', Infinity, 7)).to.equal(Infinity);
    expect(numberOption('n', 3, 7, { integer: true, min: 1, max: 3 })).to.equal(3);
  });

  const bad: Array<[unknown, Parameters<typeof numberOption>[3]]> = [
    [-1, {}], [NaN, {}], ['1', {}], [1.5, { integer: true }], [Infinity, { infinity: false }], [0, { min: 1 }], [4, { max: 3 }],
    [Infinity, { max: 10 }],
  ];
  for (const [value, rule] of bad) {
    it(`numberOption refuses ${String(value)} under ${JSON.stringify(rule)}, naming the option`, () => {
      expect(() => numberOption('limit', value, 0, rule)).to.throw(WebSocketUsageError, /limit/).with.property('code', 'WS_ERR_INVALID_ARGUMENT');
    });
  }

  it('booleanOption, functionOption and objectOption check their types', () => {
    expect(booleanOption('b', undefined, true)).to.equal(true);
    expect(() => booleanOption('b', 1, true)).to.throw(WebSocketUsageError);
    expect(functionOption('f', undefined)).to.equal(undefined);
    expect(() => functionOption('f', {})).to.throw(WebSocketUsageError);
    expect(objectOption('o', { a: 1 })).to.deep.equal({ a: 1 });
    expect(() => objectOption('o', null)).to.throw(WebSocketUsageError);
  });
});
