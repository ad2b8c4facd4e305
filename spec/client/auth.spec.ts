import { expect } from 'chai';
import { connect, type VerifyInfo, WebSocketProtocolError } from '../../lib/index';
import { echoOnce, type EchoServer, rejection, startEchoServer } from './servers';

function basic(credentials: string): string {
  return `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
}

describe('connect with Basic credentials (URL userinfo, auth)', () => {
  let server: EchoServer;

  beforeEach(async () => { server = await startEchoServer(); });
  afterEach(async () => { await server.close(); });

  it('sends URL userinfo as Basic credentials, percent-decoded, and never in the request line or Host', async () => {
    const ws = await connect(`ws://us%C3%A9r:p%40ss%20w%3Ard@127.0.0.1:${String(server.port)}/ws?q=1`);
    await echoOnce(ws, 'authenticated');
    const [request] = server.seen;
    expect(request?.headers.authorization).to.equal(basic('usér:p@ss w:rd'));
    expect(request?.url).to.equal('/ws?q=1');
    expect(request?.headers.host).to.equal(`127.0.0.1:${String(server.port)}`);
    const { authorization: _, ...others } = request?.headers ?? {};
    expect(JSON.stringify(others)).not.to.match(/us%C3%A9r|usér|p%40ss|p@ss/);
  });

  it('sends a user without a password as "user:"', async () => {
    const ws = await connect(`ws://alice@127.0.0.1:${String(server.port)}/ws`);
    await echoOnce(ws, 'no password');
    expect(server.seen[0]?.headers.authorization).to.equal(basic('alice:'));
  });

  it('sends the auth option as Basic credentials', async () => {
    const ws = await connect(`${server.origin}/ws`, { auth: 'bob:secret' });
    await echoOnce(ws, 'option');
    expect(server.seen[0]?.headers.authorization).to.equal(basic('bob:secret'));
  });

  it('prefers URL credentials to auth, and an Authorization header (any case) to both', async () => {
    const url = `ws://url:pw@127.0.0.1:${String(server.port)}/ws`;
    await echoOnce(await connect(url, { auth: 'option:pw' }), 'url wins');
    await echoOnce(await connect(url, { auth: 'option:pw', headers: { authorization: 'Bearer token' } }), 'header wins');
    expect(server.seen.map((r) => r.headers.authorization)).to.deep.equal([basic('url:pw'), 'Bearer token']);
  });

  describe('against a server that checks them (verifyClient)', () => {
    let guarded: EchoServer;

    beforeEach(async () => {
      guarded = await startEchoServer({
        wss: {
          verifyClient: ({ req }: VerifyInfo) => req.headers.authorization === basic('alice:wonderland')
            || { status: 401, message: 'who are you?', headers: { 'WWW-Authenticate': 'Basic realm="chat"' } },
        },
      });
    });
    afterEach(async () => { await guarded.close(); });

    it('is let in with the right credentials', async () => {
      const ws = await connect(`ws://alice:wonderland@127.0.0.1:${String(guarded.port)}/ws`);
      expect(await echoOnce(ws, 'in')).to.equal('in');
    });

    it('gets the 401 with its status, WWW-Authenticate and body on the error with wrong ones', async () => {
      const err = await rejection(connect(`ws://alice:guess@127.0.0.1:${String(guarded.port)}/ws`));
      expect(err).to.be.instanceOf(WebSocketProtocolError).with.property('code', 'WS_ERR_HANDSHAKE_STATUS');
      const refused = err as WebSocketProtocolError;
      expect(refused.status).to.equal(401);
      expect(refused.headers?.['www-authenticate']).to.equal('Basic realm="chat"');
      expect(refused.body?.toString('utf8')).to.equal('who are you?');
    });
  });
});
