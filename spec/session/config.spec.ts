import { expect } from 'chai';
import { DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT } from '../../lib/constants';
import { WebSocketUsageError } from '../../lib/errors';
import { resolveConnectionOptions } from '../../lib/session/config';

describe('connection options, resolved once', () => {
  it('fills every default and freezes the result', () => {
    const config = resolveConnectionOptions({}, 'server');
    expect(Object.isFrozen(config)).to.equal(true);
    expect([config.heartbeatInterval, config.heartbeatTimeout, config.maskSource]).to.deep.equal([DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HEARTBEAT_TIMEOUT, undefined]);
    expect(resolveConnectionOptions({}, 'client').maskSource).to.not.equal(undefined);
  });

  it('defaults the heartbeat timeout to the interval given', () => {
    expect(resolveConnectionOptions({ heartbeatInterval: 500 }, 'server').heartbeatTimeout).to.equal(500);
  });

  const bad: Array<[string, unknown]> = [
    ['closeTimeout', -1], ['closeTimeout', Infinity], ['closeTimeout', '5000'], ['heartbeatInterval', -5],
    ['heartbeatTimeout', 0], ['maxPayload', -1], ['maxPayload', 1.5], ['maxMessageSize', NaN], ['maxFragments', 0],
    ['fragmentSize', 0], ['maxQueuedMessages', 0], ['writeHighWaterMark', 0], ['maxBufferedAmount', -1],
    ['streamMessages', 'yes'], ['perMessageDeflate', 'on'], ['perMessageDeflate', { level: 12 }], ['maskSource', 42],
  ];
  for (const [name, value] of bad) {
    it(`refuses ${name}: ${JSON.stringify(value) ?? String(value)} (WS_ERR_INVALID_ARGUMENT)`, () => {
      expect(() => resolveConnectionOptions({ [name]: value } as never, 'client')).to.throw(WebSocketUsageError).with.property('code', 'WS_ERR_INVALID_ARGUMENT');
    });
  }

  it('refuses an unknown role and a non-object', () => {
    expect(() => resolveConnectionOptions({}, 'peer' as never)).to.throw(WebSocketUsageError);
    expect(() => resolveConnectionOptions(null as never, 'server')).to.throw(WebSocketUsageError);
  });
});
