import { expect } from 'chai';
import { type BrokerMessageHandler, LocalBroker, replaceHandler } from '../../lib/pubsub/broker';
import { usageCode } from '../support/usage';

describe('pubsub/broker', () => {
  describe('LocalBroker', () => {
    it('never hands a publish back to its handler: local subscribers are served by the server', async () => {
      const broker = new LocalBroker();
      const seen: string[] = [];
      broker.onMessage((topic) => { seen.push(topic); });
      broker.subscribe('news');
      broker.publish('news', Buffer.from('hello'), false);
      broker.publish('news', Buffer.from([0, 1, 2]), true);
      // Anything it delivered would arrive by now: it has no other source than publish.
      await new Promise((resolve) => { setImmediate(resolve); });
      expect(seen).to.deep.equal([]);
      await broker.close();
    });

    it('accepts subscribe and unsubscribe in any order and number, including for unknown topics', async () => {
      const broker = new LocalBroker();
      expect(() => {
        broker.unsubscribe('never-subscribed');
        broker.subscribe('a');
        broker.subscribe('a');
        broker.unsubscribe('a');
        broker.unsubscribe('a');
      }).not.to.throw();
      await broker.close();
    });

    it('refuses a second, different handler (WS_ERR_INVALID_STATE): one server per broker', () => {
      const broker = new LocalBroker();
      const first: BrokerMessageHandler = () => undefined;
      broker.onMessage(first);
      broker.onMessage(first);
      expect(usageCode(() => { broker.onMessage(() => undefined); })).to.equal('WS_ERR_INVALID_STATE');
    });

    it('takes a new handler once the previous one is removed', () => {
      const broker = new LocalBroker();
      broker.onMessage(() => undefined);
      broker.onMessage(undefined);
      expect(usageCode(() => { broker.onMessage(() => undefined); })).to.equal(undefined);
    });

    it('closes more than once without error, and stays usable as a no-op afterwards', async () => {
      const broker = new LocalBroker();
      await broker.close();
      await broker.close();
      expect(() => { broker.publish('t', Buffer.alloc(0), true); }).not.to.throw();
    });
  });

  describe('replaceHandler', () => {
    it('rejects a handler that is not a function (WS_ERR_INVALID_ARGUMENT)', () => {
      expect(usageCode(() => { replaceHandler(undefined, 'nope' as unknown as BrokerMessageHandler); }))
        .to.equal('WS_ERR_INVALID_ARGUMENT');
    });

    it('returns the new handler when none was set, and undefined when removing', () => {
      const handler: BrokerMessageHandler = () => undefined;
      expect(replaceHandler(undefined, handler)).to.equal(handler);
      expect(replaceHandler(handler, undefined)).to.equal(undefined);
    });
  });
});
