/**
 * The side under test: a {@link MessageExtension} (our PerMessageDeflate, in the server role,
 * receiving a client's messages) fed each message's pieces through `decode(piece, fin, maxSize,
 * callback)`, as the message parser feeds it. A call may answer at once or return PENDING and
 * call back later; the next piece goes in only once the previous call has answered, as the parser
 * does. Besides what it inflates, the runner checks the extension contract of
 * lib/message/extension.ts: anything outside it is a crash, which never agrees with anything.
 */
import { WebSocketProtocolError } from '../../lib/errors';
import { PerMessageDeflate } from '../../lib/extensions/permessage-deflate';
import { type MessageExtension, PENDING } from '../../lib/message/extension';
import type { DeflateCase, Trace } from './deflate-case';

/** How long one pending decode may take before it counts as never calling back. */
const CALLBACK_TIMEOUT_MS = 20_000;

/** A contract violation by the extension (not a protocol error). */
class ContractError extends Error {}

type Answer = { ok: true; payload: Buffer | undefined } | { ok: false; error: unknown };

/** One decode call, whether it answers at once or through its callback. */
function decodePiece(extension: MessageExtension, piece: Buffer, fin: boolean, maxSize: number): Promise<Answer> {
  return new Promise<Answer>((resolve) => {
    let returned = false;
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    const answer = (result: Answer): void => {
      if (timer !== undefined) clearTimeout(timer);
      resolve(result);
    };
    const callback = (error: Error | null, payload?: Buffer): void => {
      if (answered) {
        answer({ ok: false, error: new ContractError('called back twice') });
        return;
      }
      answered = true;
      if (!returned) answer({ ok: false, error: new ContractError('called back before returning PENDING') });
      else if (error !== null) answer({ ok: false, error });
      else answer({ ok: true, payload });
    };
    let result: ReturnType<MessageExtension['decode']>;
    try {
      result = extension.decode(piece, fin, maxSize, callback);
    } catch (error) {
      answer({ ok: false, error });
      return;
    } finally {
      returned = true;
    }
    if (result !== PENDING) {
      if (answered) answer({ ok: false, error: new ContractError('called back without returning PENDING') });
      else answer({ ok: true, payload: result });
      return;
    }
    if (!answered) {
      timer = setTimeout(() => { answer({ ok: false, error: new ContractError(`no callback within ${CALLBACK_TIMEOUT_MS} ms`) }); }, CALLBACK_TIMEOUT_MS);
      timer.unref();
    }
  });
}

/** Builds the extension under test for a case. */
export type ExtensionFactory = (input: DeflateCase) => MessageExtension;

/** Our codec as a server agreed it with the case's client parameters. */
export const ourCodec: ExtensionFactory = (input) => new PerMessageDeflate({
  serverNoContextTakeover: false,
  clientNoContextTakeover: input.noContextTakeover,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: input.windowBits,
}, 'server');

/** Runs an extension over a case: every message piece by piece, until the first failure. */
export async function runExtension(input: DeflateCase, make: ExtensionFactory = ourCodec): Promise<Trace> {
  const messages: Buffer[] = [];
  let extension: MessageExtension;
  try {
    extension = make(input);
  } catch (error) {
    return { messages, ending: { kind: 'crash', index: 0, detail: `construction failed: ${String(error)}` } };
  }
  try {
    for (let index = 0; index < input.messages.length; index++) {
      const pieces = input.messages[index];
      for (let p = 0; p < pieces.length; p++) {
        const fin = p === pieces.length - 1;
        // A copy: the extension may keep or change what it is given, the reference gets its own.
        const answer = await decodePiece(extension, Buffer.from(pieces[p]), fin, input.maxSize);
        if (!answer.ok) {
          const { error } = answer;
          if (error instanceof WebSocketProtocolError) {
            return { messages, ending: { kind: 'rejected', index, closeCode: error.closeCode, detail: `${error.code}: ${error.message}` } };
          }
          return { messages, ending: { kind: 'crash', index, detail: error instanceof Error ? `${error.name}: ${error.message}` : String(error) } };
        }
        if (!fin && answer.payload !== undefined) {
          return { messages, ending: { kind: 'crash', index, detail: `piece ${p} of ${pieces.length} answered with a message before fin` } };
        }
        if (fin) {
          if (!Buffer.isBuffer(answer.payload)) return { messages, ending: { kind: 'crash', index, detail: 'the last piece answered with no message' } };
          messages.push(answer.payload);
        }
      }
    }
    return { messages, ending: { kind: 'accepted' } };
  } finally {
    extension.close();
  }
}
