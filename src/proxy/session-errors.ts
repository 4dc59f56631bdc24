import { isPgbranchError } from '../errors.js';
import { SQLSTATE, type ErrorFields } from './protocol.js';

/**
 * What a client is told when the router cannot give it a session: a FATAL ErrorResponse with a
 * SQLSTATE that drivers and poolers already understand (3D000 = no such database, 57P03 = try
 * again later), never a dropped socket.
 */
export function sessionError(err: unknown, branch: string): ErrorFields {
  if (isPgbranchError(err)) {
    switch (err.code) {
      case 'BRANCH_NOT_FOUND':
        return { code: SQLSTATE.INVALID_CATALOG_NAME, message: `branch "${branch}" does not exist`, hint: 'list the branches with `pgbranch branch list`' };
      case 'INVALID_BRANCH_NAME':
        return { code: SQLSTATE.INVALID_CATALOG_NAME, message: `branch "${branch}" does not exist`, detail: err.message };
      case 'BRANCH_STOPPED':
        return { code: SQLSTATE.CANNOT_CONNECT_NOW, message: `branch "${branch}" is stopped`, hint: `start it with \`pgbranch branch start ${branch}\`` };
      case 'HOST_BUSY':
        return { code: SQLSTATE.CANNOT_CONNECT_NOW, message: `branch "${branch}" cannot be woken now: the host is busy`, hint: 'try again in a moment' };
      default:
        return { code: SQLSTATE.CANNOT_CONNECT_NOW, message: `branch "${branch}" could not be woken`, detail: `${err.code}` };
    }
  }
  return { code: SQLSTATE.CANNOT_CONNECT_NOW, message: `branch "${branch}" could not be woken` };
}

/** The branch's instance did not accept the TCP connection. */
export function backendUnreachable(branch: string, err: unknown): ErrorFields {
  const reason = (err as NodeJS.ErrnoException | undefined)?.code ?? (err instanceof Error ? err.message : String(err));
  return { code: SQLSTATE.CONNECTION_FAILURE, message: `could not connect to branch "${branch}"`, detail: reason };
}
