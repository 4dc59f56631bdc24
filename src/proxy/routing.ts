import { SQLSTATE, type ErrorFields, type StartupParameters } from './protocol.js';

/** Where a connection goes and as whom it logs in there. */
export interface Route {
  readonly branch: string;
  /** The role the backend sees (the user name without the branch). */
  readonly role: string;
  readonly via: 'sni' | 'user';
}

/**
 * `<role>.<branch>` split at the FIRST dot: branch names may contain dots (`v1.2_rc`), role names
 * used through the endpoint may not. Undefined when there is no dot or either side is empty.
 */
export function splitEndpointUser(user: string): { role: string; branch: string } | undefined {
  const dot = user.indexOf('.');
  if (dot <= 0 || dot === user.length - 1) return undefined;
  return { role: user.slice(0, dot), branch: user.slice(dot + 1) };
}

/**
 * The branch named by a TLS server name `<branch>.<publicHost>`: everything before the public host
 * (DNS names are case-insensitive, branch names lowercase). Branch names with "/" cannot be
 * written in a host name, so they route by user name only.
 */
export function branchFromServerName(serverName: string | undefined, publicHost: string): string | undefined {
  if (!serverName) return undefined;
  const name = serverName.toLowerCase().replace(/\.$/, '');
  const suffix = `.${publicHost.toLowerCase().replace(/\.$/, '')}`;
  if (!name.endsWith(suffix) || name.length === suffix.length) return undefined;
  return name.slice(0, -suffix.length);
}

export type RouteResult = { readonly ok: true; readonly route: Route } | { readonly ok: false; readonly error: ErrorFields };

/**
 * Routing of one connection: the TLS server name first (then the user name is the bare role, or
 * `<role>.<that branch>`), else the user name `<role>.<branch>`.
 */
export function resolveRoute(input: { user: string | undefined; serverName: string | undefined; publicHost: string }): RouteResult {
  const { user, serverName, publicHost } = input;
  if (user === undefined || user === '') {
    return { ok: false, error: { code: SQLSTATE.INVALID_AUTHORIZATION_SPECIFICATION, message: 'no PostgreSQL user name specified in startup packet' } };
  }
  const sniBranch = branchFromServerName(serverName, publicHost);
  if (sniBranch !== undefined) {
    // Clients given the endpoint URL as is also send `<role>.<branch>`: accept it when it agrees.
    const role = user.endsWith(`.${sniBranch}`) && user.length > sniBranch.length + 1 ? user.slice(0, -(sniBranch.length + 1)) : user;
    return { ok: true, route: { branch: sniBranch, role, via: 'sni' } };
  }
  const split = splitEndpointUser(user);
  if (!split) {
    return {
      ok: false,
      error: {
        code: SQLSTATE.INVALID_AUTHORIZATION_SPECIFICATION,
        message: `no branch in user name "${user}"`,
        hint: `connect as "<role>.<branch>" (for example "${user}.main"), or with TLS to the host name "<branch>.${publicHost}"`,
      },
    };
  }
  return { ok: true, route: { branch: split.branch, role: split.role, via: 'user' } };
}

/**
 * The client's parameters with `user` replaced by the bare role. A client that omitted the
 * database got libpq's default, database = user, i.e. `<role>.<branch>`: that becomes the bare
 * role too, which is what the default would have been with a direct connection.
 */
export function rewriteStartupParameters(parameters: StartupParameters, route: Route): StartupParameters {
  const user = parameters.find(([name]) => name === 'user')?.[1];
  return parameters.map(([name, value]) => {
    if (name === 'user') return [name, route.role] as const;
    if (name === 'database' && value === user && user !== route.role) return [name, route.role] as const;
    return [name, value] as const;
  });
}

export function startupParameter(parameters: StartupParameters, name: string): string | undefined {
  return parameters.find(([n]) => n === name)?.[1];
}
