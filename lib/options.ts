/**
 * Option checks shared by every layer: each public constructor or call validates its options once,
 * with these, and throws a {@link WebSocketUsageError} naming the option. Nothing is validated
 * later (after a handshake, say), where a bad value could only fail a live connection.
 */
import { WebSocketUsageError } from './errors';

/** What a numeric option accepts. Defaults: `min` 0, no `max`, any real number, `Infinity` allowed. */
export interface NumberRule {
  min?: number;
  max?: number;
  /** Only whole numbers (and `Infinity`, when allowed). */
  integer?: boolean;
  /** Whether `Infinity` means "no limit". Default true. */
  infinity?: boolean;
}

/**
 * `value` checked against `rule`, or `fallback` when undefined.
 * @throws {WebSocketUsageError} `WS_ERR_INVALID_ARGUMENT` naming `name`.
 */
export function numberOption(name: string, value: unknown, fallback: number, rule: NumberRule = {}): number {
  if (value === undefined) return fallback;
  const min = rule.min ?? 0;
  const max = rule.max ?? Infinity;
  const infinity = rule.infinity !== false && max === Infinity;
  const ok = typeof value === 'number' && value >= min && value <= max &&
    (value === Infinity ? infinity : rule.integer !== true || Number.isInteger(value));
  if (!ok) {
    const kind = rule.integer === true ? 'an integer' : 'a number';
    const range = max === Infinity ? `>= ${min}` : `from ${min} to ${max}`;
    throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `${name} must be ${kind} ${range}${infinity ? ' or Infinity' : ''}`);
  }
  return value as number;
}

/** `value` as a boolean, or `fallback` when undefined. @throws {WebSocketUsageError} */
export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `${name} must be a boolean`);
  return value;
}

/** `value` when it is a function or undefined. @throws {WebSocketUsageError} */
export function functionOption<T extends (...args: never[]) => unknown>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `${name} must be a function`);
  return value as T;
}

/** `value` when it is a plain object or undefined. @throws {WebSocketUsageError} */
export function objectOption<T extends object>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') throw new WebSocketUsageError('WS_ERR_INVALID_ARGUMENT', `${name} must be an object`);
  return value as T;
}

/** Configs made by {@link resolveOnce}. */
const resolvedConfigs = new WeakSet<object>();

/**
 * Checks and resolves options once: `resolve(options)`, frozen and remembered, so that a config it
 * made, passed in again (a server resolves its options once and hands the result to every
 * connection), comes back as it is, without being checked again.
 */
export function resolveOnce<O, C extends object>(options: O | C, resolve: (options: O) => C): Readonly<C> {
  if (typeof options === 'object' && options !== null && resolvedConfigs.has(options)) return options as C;
  const config = Object.freeze(resolve(options as O));
  resolvedConfigs.add(config);
  return config;
}
