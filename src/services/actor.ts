/**
 * Who made a request or caused a change, by id and name (never a secret).
 * Recorded on every event (`events.actor`, `data.actor`), every request-log
 * entry and every audit entry (README "Visibility").
 *
 * - a credential: a tenant's SCIM token, the admin token (ADMIN_TOKEN), a
 *   named admin key or an OAuth client (the last two: their own ids), or the
 *   subject of a trusted issuer's JWT (id: the issuer's id and `sub`);
 * - work Roster does itself: a provisioning policy, a scheduled job, or the
 *   system (e.g. the CLI). `name` says which; `id` when the thing has one.
 */
export type CredentialActor = {
  type: 'scimToken' | 'admin' | 'adminKey' | 'oauthClient' | 'jwtSubject';
  id: string;
  name: string;
};

export type InternalActor = {
  type: 'policy' | 'scheduler' | 'system';
  name: string;
  id?: string;
};

export type Actor = CredentialActor | InternalActor;

/** The holder of ADMIN_TOKEN (one shared credential: it has no id of its own). */
export const ADMIN_TOKEN_ACTOR: Actor = Object.freeze({ type: 'admin', id: 'admin-token', name: 'ADMIN_TOKEN' });

/** Work Roster does on its own behalf, e.g. `internalActor('scheduler', 'retention')`. */
export function internalActor(type: InternalActor['type'], name: string, id?: string): InternalActor {
  return id === undefined ? { type, name } : { type, name, id };
}
