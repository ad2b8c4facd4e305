import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import { askSums, startSumServer } from '../examples/json-over-tcp';

describe('examples', () => {
  it('json-over-tcp: frames JSON requests and responses over plain TCP with the Transforms', async () => {
    const server = await startSumServer();
    try {
      const { port } = server.address() as AddressInfo;
      const pairs: Array<[number, number]> = Array.from({ length: 50 }, (_, i) => [i, i * 1000]);
      const answers = await askSums(port, pairs);
      expect(answers).to.deep.equal(pairs.map(([a, b], id) => ({ id, sum: a + b })));
    } finally {
      server.close();
    }
  });
});
