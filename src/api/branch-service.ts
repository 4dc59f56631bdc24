import type { BranchService, Host, Principal } from '../branches/index.js';

export type { BranchService };

/** What the API server needs: the branch service plus token authentication. */
export interface ApiHost extends BranchService {
  authenticate(token: string | undefined): Principal;
}

// Compile-time proof that the in-process host is one.
const hostIsApiHost = (host: Host): ApiHost => host;
void hostIsApiHost;
