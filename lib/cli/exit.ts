/**
 * Exit codes of the `wsframe` command, one table so the help text, the README and the commands
 * cannot disagree. Scripts branch on them: `wsframe connect ... || handle $?`.
 */
import { CloseCode } from '../index';

export const ExitCode = {
  /** Done: a normal close (1000, 1001 or 1005), a clean shutdown, or input that decoded cleanly. */
  Ok: 0,
  /** Bad arguments, an invalid URL, an unreadable file. */
  Usage: 1,
  /** No connection: refused, unreachable, TLS failure, handshake refused or invalid, cannot listen. */
  ConnectFailed: 2,
  /** The connection ended abnormally (1006) or with an error close code (1002, 1011, ...). */
  ClosedAbnormally: 3,
  /** `inspect` found a protocol error or a truncated frame. */
  MalformedInput: 4,
  /** A bug in wsframe (BSD sysexits EX_SOFTWARE): the message asks for a report. */
  Internal: 70,
  /** Interrupted twice (Ctrl-C): stopped without waiting for the closing handshake (128 + SIGINT). */
  Interrupted: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * RFC 6455 §7.4.1: 1000 (normal), 1001 (going away) and 1005 (a close frame without a code) end a
 * connection without anything going wrong; every other code, and 1006 (no close frame at all),
 * means something did.
 */
export function exitCodeForClose(code: number): ExitCode {
  return code === CloseCode.Normal || code === CloseCode.GoingAway || code === CloseCode.NoStatus
    ? ExitCode.Ok
    : ExitCode.ClosedAbnormally;
}

/** The exit code table as the help text and README show it. */
export const EXIT_CODE_HELP = `Exit codes:
  0    success: normal close (1000, 1001, 1005), clean shutdown, inspect found no error
  1    usage error: bad arguments, invalid URL, unreadable file
  2    connection failed: refused, unreachable, TLS error, handshake refused (HTTP status shown),
       cannot listen on the port
  3    closed abnormally (1006) or with an error close code (1002, 1011, ...; the code is shown)
  4    inspect: the input has a protocol error or ends inside a frame
  70   internal error (a bug in wsframe)
  130  interrupted twice (Ctrl-C): stopped without waiting for the closing handshake`;
