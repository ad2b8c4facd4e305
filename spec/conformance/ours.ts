/**
 * Conformance of our own server and client, as a mocha suite to enable from
 * spec/conformance.spec.ts. Gates on: no FAILED and no NON-STRICT case, and no case scored worse
 * than the `ws` package on the same suite.
 */
import { expect } from 'chai';
import { startDemoServer } from '../../examples/demo-server';
import { connect } from '../../lib/client';
import { runClientConformance, type ConnectAndEcho } from './client-fuzzer';
import { printResults, startWsEchoServer, worseThan, wsConnectAndEcho } from './reference';
import { runConformance } from './runner';
import type { CaseResult } from './types';

const HOST = '127.0.0.1';

/** Our client under test: connect, echo every message with its type, resolve once closed. */
export const oursConnectAndEcho: ConnectAndEcho = (url) => new Promise<void>((resolve) => {
  connect(url, { perMessageDeflate: true }).then((ws) => {
    ws.on('message', (data: string | Buffer) => { ws.send(data); });
    ws.on('error', () => undefined);
    ws.on('close', () => { resolve(); });
  }, () => { resolve(); });
});

export function oursSuite(): void {
  describe('conformance of our server and client', function () {
    this.timeout(300_000);

    let oursServer: CaseResult[];
    let wsServer: CaseResult[];
    let oursClient: CaseResult[];
    let wsClient: CaseResult[];

    before(async () => {
      const demo = await startDemoServer({ port: 0, host: HOST });
      const reference = await startWsEchoServer();
      try {
        oursServer = await runConformance(`ws://${HOST}:${demo.port}/echo`);
        wsServer = await runConformance(reference.url);
      } finally {
        await demo.close();
        await reference.close();
      }
      oursClient = await runClientConformance(oursConnectAndEcho);
      wsClient = await runClientConformance(wsConnectAndEcho);
      printResults('our server', oursServer);
      printResults('our client', oursClient);
    });

    it('our demo server fails no server case', () => {
      expect(oursServer.filter((r) => r.verdict === 'FAILED').map((r) => `${r.id}: ${r.notes.join('; ')}`)).to.deep.equal([]);
    });

    it('our demo server passes every server case strictly (no NON-STRICT)', () => {
      expect(oursServer.filter((r) => r.verdict === 'NON-STRICT').map((r) => `${r.id}: ${r.notes.join('; ')}`)).to.deep.equal([]);
    });

    it('our demo server scores no case worse than the ws server', () => {
      expect(worseThan(oursServer, wsServer)).to.deep.equal([]);
    });

    it('our client fails no client case', () => {
      expect(oursClient.filter((r) => r.verdict === 'FAILED').map((r) => `${r.id}: ${r.notes.join('; ')}`)).to.deep.equal([]);
    });

    it('our client passes every client case strictly (no NON-STRICT)', () => {
      expect(oursClient.filter((r) => r.verdict === 'NON-STRICT').map((r) => `${r.id}: ${r.notes.join('; ')}`)).to.deep.equal([]);
    });

    it('our client scores no case worse than the ws client', () => {
      expect(worseThan(oursClient, wsClient)).to.deep.equal([]);
    });
  });
}
