import { expect } from 'chai';
import { TransferCounter } from '../../lib/cli/progress';

describe('cli/progress', () => {
  it('counts payload bytes and messages each way', () => {
    const counter = new TransferCounter(1000);
    counter.sent(3);
    counter.sent(4 * 1024 * 1024);
    counter.received(1);
    expect({ ...counter }).to.deep.include({ sentBytes: 4194307, sentMessages: 2, receivedBytes: 1, receivedMessages: 1 });
  });

  it('writes one status line with exact and human counts and the time elapsed', () => {
    const counter = new TransferCounter(1000);
    counter.sent(4 * 1024 * 1024);
    counter.received(10);
    counter.received(0);
    expect(counter.line(3500)).to.equal('sent 4.0 MiB (4194304 bytes, 1 message), received 10 B (10 bytes, 2 messages), 2.5 s');
    expect(new TransferCounter(1000).line(900)).to.equal('sent 0 B (0 bytes, 0 messages), received 0 B (0 bytes, 0 messages), 0.0 s');
  });
});
