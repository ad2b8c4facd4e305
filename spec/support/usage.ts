import { expect } from 'chai';
import { WebSocketUsageError } from '../../lib/errors';

/** The `code` of the WebSocketUsageError `action` throws (anything else thrown fails the test); undefined when it throws nothing. */
export function usageCode(action: () => unknown): string | undefined {
  try {
    action();
  } catch (err) {
    expect(err).to.be.instanceOf(WebSocketUsageError);
    return (err as WebSocketUsageError).code;
  }
  return undefined;
}
