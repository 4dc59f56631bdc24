import type { Actor, BranchService, Host, Principal } from '../branches/index.js';

export type { BranchService };

/** What the API server needs: the branch service plus token authentication. */
export interface ApiHost extends BranchService {
  authenticate(token: string | undefined): Principal;
  /** The same service recording `actor` in the audit log (one per request, from its token). */
  as(actor: Actor): BranchService;
}

// Compile-time proof that the in-process host is one.
const hostIsApiHost = (host: Host): ApiHost => host;
void hostIsApiHost;
