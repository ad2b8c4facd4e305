/**
 * Isomorphic scenarios for the web APIs: each function takes the classes under test and the peer's
 * addresses and returns what a script can observe (events in order, their fields, readyState,
 * exceptions), as JSON. The same function runs unchanged in Node against wsframe/web, in headless
 * Chromium (serialized with `toString()` and evaluated in the page) and in Node's own
 * `--experimental-websocket`, so the results can be compared as they are.
 *
 * The functions must stay self-contained: no imports, no module-level helpers, nothing Node-only.
 * Types are erased when compiled, so the compiled text is plain browser JavaScript.
 */

/** The peer (spec/web/peer.ts): a ws:// base URL whose paths behave as documented there, and a closed port. */
export interface ScenarioConfig {
  base: string;
  refused: string;
}

/** The WHATWG WebSocket surface the scenarios use (ours, Chromium's, undici's). */
export interface WebSocketLike extends EventTarget {
  readonly url: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  readonly protocol: string;
  readonly extensions: string;
  binaryType: string;
  onopen: ((event: Event) => unknown) | null;
  onmessage: ((event: Event) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
  onclose: ((event: Event) => unknown) | null;
  readonly CONNECTING: number;
  readonly CLOSED: number;
  send(data: unknown): void;
  close(code?: number, reason?: string): void;
}

export interface WebSocketClass {
  new (url: string, protocols?: string | string[]): WebSocketLike;
  readonly CONNECTING: number;
  readonly OPEN: number;
  readonly CLOSING: number;
  readonly CLOSED: number;
}

/** Runs every WHATWG WebSocket scenario; resolves to a JSON-serializable record of observations. */
export async function webSocketScenarios(WS: WebSocketClass, config: ScenarioConfig): Promise<Record<string, unknown>> {
  type Log = unknown[];
  const tag = (value: unknown): string => Object.prototype.toString.call(value).slice(8, -1);
  const errorName = (fn: () => unknown): unknown => {
    try {
      fn();
      return 'no exception';
    } catch (error) {
      return [(error as Error).name, error instanceof DOMException];
    }
  };
  // Short byte sequences in full, long ones as their length and a checksum.
  const bytes = (data: ArrayBuffer): unknown => {
    const view = new Uint8Array(data);
    if (view.length <= 16) return Array.from(view);
    let sum = 0;
    for (let i = 0; i < view.length; i++) sum = (sum * 31 + view[i]) % 1000000007;
    return [view.length, sum];
  };
  const describe = async (data: unknown): Promise<unknown> => {
    if (typeof data === 'string') return ['string', data];
    if (data instanceof ArrayBuffer) return ['ArrayBuffer', bytes(data)];
    if (data instanceof Blob) return ['Blob', data.size, bytes(await data.arrayBuffer())];
    return [tag(data)];
  };

  /**
   * Opens a WebSocket and logs its events until `close`; `onOpen` and `onMessage` act on it.
   * Message data is described after the fact (a Blob is read), in arrival order.
   */
  const session = (path: string, actions: {
    protocols?: string | string[];
    onOpen?: (ws: WebSocketLike, log: Log) => void;
    onMessage?: (ws: WebSocketLike, data: unknown, log: Log) => void;
    url?: string;
  } = {}): Promise<Log> => new Promise((resolve) => {
    const log: Log = [];
    const received: Array<Promise<unknown>> = [];
    const ws = new WS(actions.url ?? config.base + path, actions.protocols);
    log.push(['constructed', ws.readyState]);
    ws.onopen = (event) => {
      log.push(['open', ws.readyState, ws.protocol, ws.extensions, event.constructor.name]);
      actions.onOpen?.(ws, log);
    };
    ws.onmessage = (event) => {
      const message = event as MessageEvent;
      const index = received.length;
      received.push(describe(message.data));
      log.push(['message', index, ws.readyState, message.origin, event.constructor.name]);
      actions.onMessage?.(ws, message.data, log);
    };
    ws.onerror = (event) => { log.push(['error', ws.readyState, event instanceof Event]); };
    ws.onclose = (event) => {
      const close = event as CloseEvent;
      log.push(['close', close.code, close.reason, close.wasClean, ws.readyState, ws.bufferedAmount, event.constructor.name]);
      void Promise.all(received).then((data) => { resolve([...log, ['data', ...data]]); });
    };
  });

  const results: Record<string, unknown> = {};

  results.constants = (() => {
    const ws = new WS(config.base + '/echo');
    const seen: unknown[] = [
      [WS.CONNECTING, WS.OPEN, WS.CLOSING, WS.CLOSED],
      [ws.CONNECTING, ws.CLOSED, ws.readyState, ws.bufferedAmount, ws.protocol, ws.extensions, ws.binaryType],
      ws.url === `${config.base}/echo`,
    ];
    ws.binaryType = 'no such type';
    seen.push(ws.binaryType);
    ws.binaryType = 'arraybuffer';
    seen.push(ws.binaryType);
    ws.close();
    return seen;
  })();

  results.exceptions = {
    ftp: errorName(() => new WS('ftp://127.0.0.1/')),
    relative: errorName(() => new WS('/echo')),
    garbage: errorName(() => new WS('ws://[')),
    fragment: errorName(() => new WS(`${config.base}/echo#part`)),
    emptyFragment: errorName(() => new WS(`${config.base}/echo#`)),
    repeatedProtocol: errorName(() => new WS(`${config.base}/echo`, ['chat', 'chat'])),
    protocolWithSpace: errorName(() => new WS(`${config.base}/echo`, ['a b'])),
    emptyProtocol: errorName(() => new WS(`${config.base}/echo`, [''])),
    sendWhileConnecting: errorName(() => {
      const ws = new WS(`${config.base}/echo`);
      try {
        ws.send('too early');
      } finally {
        ws.close();
      }
    }),
    httpMeansWs: (() => {
      const ws = new WS(config.base.replace('ws:', 'http:') + '/echo?x=1');
      ws.close();
      return ws.url;
    })(),
  };

  // Ignore the two sockets above that were closed while connecting: they end on their own.
  results.closeArguments = await session('/echo', {
    onOpen: (ws, log) => {
      log.push(['close(1001)', errorName(() => { ws.close(1001); })]);
      log.push(['close(999)', errorName(() => { ws.close(999); })]);
      log.push(['close(5000)', errorName(() => { ws.close(5000); })]);
      log.push(['close(1000, 124 bytes)', errorName(() => { ws.close(1000, 'x'.repeat(124)); })]);
      log.push(['close(1000, 62 x 2 bytes)', errorName(() => { ws.close(1000, '\u00e9'.repeat(62)); })]);
      log.push(['close("abc")', errorName(() => { ws.close('abc' as unknown as number); })]);
      log.push(['readyState', ws.readyState]);
      ws.close(4999, '\u00e9'.repeat(61));
      log.push(['readyState after close', ws.readyState]);
      ws.close(3000);
    },
  });

  results.echo = await session('/echo', {
    onOpen: (ws) => {
      ws.send('hello \u00e9\u20ac\ud834\udd1e');
      ws.binaryType = 'arraybuffer';
      ws.send(new Uint8Array([1, 2, 3, 255]));
      ws.send(new Uint8Array([9, 8, 7, 6]).subarray(1, 3));
      ws.send(new Uint16Array([0x0102]).buffer);
      ws.send(new DataView(new Uint8Array([5, 6, 7]).buffer, 1, 2));
      ws.send(new Blob(['blob', new Uint8Array([0, 1])]));
      ws.send('after the blob');
      ws.send(new Uint8Array(0));
      ws.send('');
      const big = new Uint8Array(200000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      ws.send(big);
    },
    onMessage: (ws, data, log) => {
      if (data instanceof ArrayBuffer && data.byteLength === 200000) {
        const bytes = new Uint8Array(data);
        log.push(['big', bytes.every((b, i) => b === ((i * 7) & 0xff))]);
        ws.binaryType = 'blob';
        ws.send(new Uint8Array([42]));
      } else if (data instanceof Blob) {
        ws.close(1000, 'done');
        log.push(['after close()', ws.readyState, ws.bufferedAmount]);
      }
    },
  });

  results.serverClose = await session('/close');
  results.serverCloseAfterMessages = await session('/burst-close');
  results.clientCloseEmpty = await session('/echo', { onOpen: (ws) => { ws.close(); } });
  results.drop = await session('/echo', { onOpen: (ws) => { ws.send('drop'); } });
  results.invalidUtf8 = await session('/bad-utf8');
  results.refused = await session('', { url: config.refused });
  results.closeWhileConnecting = await new Promise((resolve) => {
    const log: Log = [];
    const ws = new WS(`${config.base}/echo`);
    ws.onopen = () => { log.push('open'); };
    ws.onerror = () => { log.push(['error', ws.readyState]); };
    ws.onclose = (event) => {
      const close = event as CloseEvent;
      log.push(['close', close.code, close.reason, close.wasClean, ws.readyState]);
      resolve(log);
    };
    ws.close();
    log.push(['after close()', ws.readyState]);
    ws.close(1000);
  });
  results.sendAfterClose = await session('/echo', {
    onOpen: (ws, log) => {
      ws.close();
      ws.send('abc');
      log.push(['string', ws.bufferedAmount]);
      ws.send(new Uint8Array(10));
      log.push(['bytes', ws.bufferedAmount]);
      ws.send(new Blob(['12345']));
      log.push(['blob', ws.bufferedAmount]);
      ws.send('\u00e9');
      log.push(['2-byte string', ws.bufferedAmount]);
    },
  });
  results.messagesAfterCloseCall = await session('/burst', {
    onMessage: (ws) => { ws.close(); },
  });
  results.subprotocolChosen = await session('/echo', {
    protocols: ['chat', 'superchat'],
    onOpen: (ws) => { ws.close(); },
  });
  results.subprotocolSingleString = await session('/echo', {
    protocols: 'superchat',
    onOpen: (ws) => { ws.close(); },
  });
  results.subprotocolRefused = await session('/echo', { protocols: ['chat'] });

  results.handlerOrder = await new Promise((resolve) => {
    const calls: string[] = [];
    const ws = new WS(`${config.base}/burst`);
    let messages = 0;
    ws.addEventListener('message', () => { calls.push('A'); });
    ws.onmessage = () => { calls.push('B'); };
    ws.addEventListener('message', () => {
      calls.push('C');
      messages++;
      // The handler keeps its place when replaced; removed and set again, it goes last.
      if (messages === 1) ws.onmessage = () => { calls.push('D'); };
      if (messages === 2) {
        ws.onmessage = null;
        ws.onmessage = () => { calls.push('E'); };
      }
      if (messages === 3) ws.close();
    });
    ws.onclose = () => { resolve([calls, typeof ws.onmessage, ws.onopen]); };
  });

  return results;
}

/** The WebSocketStream surface the scenarios use (ours, Chromium's). */
export interface WebSocketStreamLike {
  readonly url: string;
  readonly opened: Promise<{ readable: ReadableStream; writable: WritableStream; protocol: string; extensions: string }>;
  readonly closed: Promise<{ closeCode: number; reason: string }>;
  close(info?: { closeCode?: number; reason?: string }): void;
}

export interface WebSocketStreamClass {
  new (url: string, options?: { protocols?: string[]; signal?: AbortSignal }): WebSocketStreamLike;
}

export interface WebSocketErrorClass {
  new (message?: string, init?: { closeCode?: number; reason?: string }): Error & { closeCode: number | null; reason: string };
}

/** Runs every WebSocketStream scenario; resolves to a JSON-serializable record of observations. */
export async function webSocketStreamScenarios(
  WSS: WebSocketStreamClass, WSError: WebSocketErrorClass, config: ScenarioConfig,
): Promise<Record<string, unknown>> {
  const tag = (value: unknown): string => Object.prototype.toString.call(value).slice(8, -1);
  const settle = async (promise: Promise<unknown>): Promise<unknown> => {
    try {
      const value = await promise;
      return ['fulfilled', value !== null && typeof value === 'object' ? Object.keys(value) : value,
        value !== null && typeof value === 'object' && 'closeCode' in value ? value : undefined];
    } catch (error) {
      const e = error as Error & { closeCode?: unknown; reason?: unknown };
      return ['rejected', e.name, e instanceof DOMException, e.closeCode, e.reason];
    }
  };
  const chunk = (value: unknown): unknown => (value instanceof ArrayBuffer
    ? ['ArrayBuffer', Array.from(new Uint8Array(value))]
    : ArrayBuffer.isView(value) ? [tag(value), Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))] : [typeof value, value]);
  const errorName = (fn: () => unknown): unknown => {
    try {
      fn();
      return 'no exception';
    } catch (error) {
      return [(error as Error).name, error instanceof DOMException];
    }
  };

  const results: Record<string, unknown> = {};

  results.exceptions = {
    ftp: errorName(() => new WSS('ftp://127.0.0.1/')),
    fragment: errorName(() => new WSS(`${config.base}/echo#`)),
    repeatedProtocol: errorName(() => new WSS(`${config.base}/echo`, { protocols: ['a', 'a'] })),
    webSocketError: (() => {
      const error = new WSError('message', { closeCode: 4000, reason: 'why' });
      return [error.name, error.message, error.closeCode, error.reason, error instanceof DOMException, error instanceof Error];
    })(),
    webSocketErrorReasonOnly: (() => {
      const error = new WSError('', { reason: 'why' });
      return [error.closeCode, error.reason];
    })(),
    webSocketErrorDefaults: (() => {
      const error = new WSError();
      return [error.closeCode, error.reason, error.message];
    })(),
    webSocketErrorBadCode: errorName(() => new WSError('', { closeCode: 1001 })),
    webSocketErrorLongReason: errorName(() => new WSError('', { closeCode: 1000, reason: 'x'.repeat(124) })),
  };

  results.echo = await (async () => {
    const wss = new WSS(`${config.base}/echo`);
    const log: unknown[] = [wss.url === `${config.base}/echo`];
    const { readable, writable, protocol, extensions } = await wss.opened;
    log.push(Object.keys(await wss.opened), protocol, extensions, tag(readable), tag(writable));
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write('text \u00e9\u20ac');
    await writer.write(new Uint8Array([1, 2, 3]));
    await writer.write(new Uint8Array([9, 8, 7, 6]).subarray(1, 3));
    await writer.write(new Uint16Array([0x0102]).buffer);
    await writer.write(42);
    for (let i = 0; i < 5; i++) log.push(chunk((await reader.read()).value));
    wss.close({ closeCode: 4000, reason: 'bye' });
    log.push(await settle(wss.closed));
    log.push(await reader.read());
    log.push(await settle(writer.write('after')));
    return log;
  })();

  results.serverClose = await (async () => {
    const wss = new WSS(`${config.base}/close`);
    const { readable } = await wss.opened;
    const closed = await settle(wss.closed);
    const reader = readable.getReader();
    return [closed, await reader.read()];
  })();

  results.serverCloseAfterMessages = await (async () => {
    const wss = new WSS(`${config.base}/burst-close`);
    const { readable } = await wss.opened;
    const reader = readable.getReader();
    const chunks = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    return [await settle(wss.closed), chunks];
  })();

  results.writerClose = await (async () => {
    const wss = new WSS(`${config.base}/echo`);
    const { writable } = await wss.opened;
    await writable.getWriter().close();
    return settle(wss.closed);
  })();

  results.reasonWithoutCode = await (async () => {
    const wss = new WSS(`${config.base}/echo`);
    await wss.opened;
    wss.close({ reason: 'only a reason' });
    return settle(wss.closed);
  })();

  results.closeArguments = await (async () => {
    const wss = new WSS(`${config.base}/echo`);
    await wss.opened;
    const seen = [
      errorName(() => { wss.close({ closeCode: 1001 }); }),
      errorName(() => { wss.close({ closeCode: 1000, reason: 'x'.repeat(124) }); }),
      errorName(() => { wss.close({ closeCode: 70000 }); }),
    ];
    wss.close({ closeCode: 3000.5 });
    seen.push(await settle(wss.closed));
    return seen;
  })();

  results.abortWithWebSocketError = await (async () => {
    const wss = new WSS(`${config.base}/echo`);
    const { writable } = await wss.opened;
    await writable.abort(new WSError('stop', { closeCode: 4001, reason: 'aborted' }));
    return settle(wss.closed);
  })();

  results.cancelWithOtherReason = await (async () => {
    const wss = new WSS(`${config.base}/echo`);
    const { readable } = await wss.opened;
    await readable.cancel(new Error('not a WebSocketError'));
    return settle(wss.closed);
  })();

  results.drop = await (async () => {
    const wss = new WSS(`${config.base}/echo`);
    const { readable, writable } = await wss.opened;
    const writer = writable.getWriter();
    await writer.write('drop');
    const closed = await settle(wss.closed);
    return [closed, await settle(readable.getReader().read()), await settle(writer.closed)];
  })();

  results.invalidUtf8 = await (async () => {
    const wss = new WSS(`${config.base}/bad-utf8`);
    await wss.opened;
    return settle(wss.closed);
  })();

  results.refused = await (async () => {
    const wss = new WSS(config.refused);
    return [await settle(wss.opened), await settle(wss.closed)];
  })();

  results.closeWhileConnecting = await (async () => {
    const wss = new WSS(`${config.base}/echo`);
    wss.close();
    return [await settle(wss.opened), await settle(wss.closed)];
  })();

  results.abortedSignal = await (async () => {
    const controller = new AbortController();
    controller.abort(new Error('already aborted'));
    const wss = new WSS(`${config.base}/echo`, { signal: controller.signal });
    return [await settle(wss.opened), await settle(wss.closed)];
  })();

  results.abortWhileConnecting = await (async () => {
    const controller = new AbortController();
    const wss = new WSS(`${config.base}/echo`, { signal: controller.signal });
    controller.abort(new Error('changed my mind'));
    return [await settle(wss.opened), await settle(wss.closed)];
  })();

  results.subprotocol = await (async () => {
    const wss = new WSS(`${config.base}/echo`, { protocols: ['chat', 'superchat'] });
    const { protocol } = await wss.opened;
    wss.close();
    return [protocol, await settle(wss.closed)];
  })();

  results.subprotocolRefused = await (async () => {
    const wss = new WSS(`${config.base}/echo`, { protocols: ['chat'] });
    return [await settle(wss.opened), await settle(wss.closed)];
  })();

  return results;
}
