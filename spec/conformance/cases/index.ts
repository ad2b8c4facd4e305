/**
 * Every case, in Autobahn's order, and the `--cases` selection. The frame-level cases are
 * role-agnostic: the same table runs against servers (the runner is the client) and against
 * clients (the client fuzzer is the server); only the opening-handshake cases differ.
 */
import type { CaseDef } from '../types';
import { clientHandshakeCases, type ClientHandshakeCase } from './client-handshake';
import { closeCases } from './close';
import { compressionCases } from './compression';
import { fragmentationCases } from './fragmentation';
import { framingCases } from './framing';
import { serverHandshakeCases, type ServerHandshakeCase } from './handshake';
import { autoFragmentationCases, limitsCases } from './limits';
import { opcodeCases } from './opcodes';
import { pingCases } from './pings';
import { reservedBitCases } from './reserved';
import { utf8Cases } from './utf8';

export type ServerSuiteCase = CaseDef | ServerHandshakeCase;
export type ClientSuiteCase = CaseDef | ClientHandshakeCase;

/** Categories 1-12: what happens after the opening handshake. */
export function frameCases(): CaseDef[] {
  return [
    ...framingCases(), ...pingCases(), ...reservedBitCases(), ...opcodeCases(), ...fragmentationCases(),
    ...utf8Cases(), ...closeCases(), ...limitsCases(), ...autoFragmentationCases(), ...compressionCases(),
  ];
}

/** The cases for testing a server. */
export function serverSuite(): ServerSuiteCase[] {
  return [...serverHandshakeCases(), ...frameCases()];
}

/** The cases for testing a client. */
export function clientSuite(): ClientSuiteCase[] {
  return [...clientHandshakeCases(), ...frameCases()];
}

/**
 * `*` matches anything; a pattern without `*` matches that id and everything under it
 * (`7.9` selects 7.9.1-7.9.12, `6.7.2` selects only 6.7.2).
 */
export function matches(id: string, pattern: string): boolean {
  if (pattern.includes('*')) {
    const regex = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return regex.test(id);
  }
  return id === pattern || id.startsWith(`${pattern}.`);
}

/** The cases matching any of `include` (all if empty) and none of `exclude`. */
export function selectCases<T extends { id: string }>(cases: readonly T[], include: readonly string[] = [], exclude: readonly string[] = []): T[] {
  return cases.filter((c) => (include.length === 0 || include.some((p) => matches(c.id, p))) && !exclude.some((p) => matches(c.id, p)));
}
