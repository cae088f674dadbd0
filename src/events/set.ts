/**
 * RFC 9967 (SCIM Profile for Security Event Tokens): each event as a SET
 * (RFC 8417), signed with Roster's key (ES256, header `typ: secevent+jwt`,
 * RFC 8417 §2.3), pushed per RFC 8935. The key is generated on first use,
 * stored in the database sealed with ENCRYPTION_KEYS (src/db/sealing.ts, like
 * the webhook secrets) and published as a JWKS.
 *
 * Mapping of Roster events to RFC 9967 event URIs (§2.4, "full" variants,
 * since receivers get the data and need not call back):
 *   *.created            → prov:create:full  {version, data: resource}
 *   *.updated            → prov:put:full     {version, data: resource}
 *   user.deactivated     → prov:put:full + prov:deactivate (one SET, §2.1:
 *   user.reactivated     → prov:put:full + prov:activate    same state change)
 *   *.deleted            → prov:delete       {} (§2.4.4: no payload)
 *   group.members.added  → prov:patch:full   {version, data: PatchOp add members}
 *   group.members.removed→ prov:patch:full   {version, data: PatchOp remove members[value eq …]}
 * feed:add / feed:remove (§2.3) mean a resource entering or leaving the
 * event feed itself, not a group membership change, so Roster does not send
 * them: membership changes are the PATCH of the group, as in RFC 9967 Figure 6.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { Db } from '../db/index.js';
import { activeSigningKey, insertSigningKeyIfNone, publishedSigningKeys } from '../db/webhooks.js';
import { PATCH_OP_SCHEMA } from '../scim/schema.js';
import { resourceFor } from './payload.js';
import type { Endpoint, StoredEvent } from './types.js';

const EVENT = 'urn:ietf:params:scim:event';
export const SET_EVENT_URIS = {
  create: `${EVENT}:prov:create:full`,
  put: `${EVENT}:prov:put:full`,
  patch: `${EVENT}:prov:patch:full`,
  delete: `${EVENT}:prov:delete`,
  activate: `${EVENT}:prov:activate`,
  deactivate: `${EVENT}:prov:deactivate`,
} as const;

/** RFC 8935 §2: media type of a pushed SET. */
export const SET_CONTENT_TYPE = 'application/secevent+jwt';
export const SET_ALG = 'ES256';

/**
 * The `securityEvents` attribute of ServiceProviderConfig (RFC 9967 §4):
 * Roster issues the SET event URIs above to endpoints registered with
 * `format: "set"`; it does not do asynchronous SCIM requests.
 */
export function securityEventsConfig(): { asyncRequest: 'none'; eventUris: string[] } {
  return { asyncRequest: 'none', eventUris: Object.values(SET_EVENT_URIS) };
}

/** The SET issuer for a tenant: its SCIM base URL, to which sub_id.uri is relative (RFC 9967 §2.1). */
export function setIssuer(publicUrl: string, tenantId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/scim/v2/${tenantId}`;
}

/**
 * Event URI of a tenant event (README "Tenant events"): RFC 9967 defines no
 * event about a SCIM service provider's tenant, so these carry Roster's own
 * URI, e.g. `urn:roster:event:tenant.connected`, with the event's data; the
 * subject is the tenant as an opaque id (RFC 9493 §3.2.6).
 */
export const TENANT_SET_EVENT_PREFIX = 'urn:roster:event:';

/** Claims of the SET for one event and endpoint (everything but iat, which signSet sets). */
export function setClaims(event: StoredEvent, endpoint: Pick<Endpoint, 'url' | 'attributes'>, issuer: string): JWTPayload {
  const common = { iss: issuer, aud: endpoint.url, jti: event.uid, txn: event.txn, toe: Math.floor(event.occurredAt.getTime() / 1000) };
  if (event.data.resourceType === 'Tenant') {
    const { tenant: _tenant, resourceType: _type, id, ...detail } = event.data;
    return { ...common, sub_id: { format: 'opaque', id }, events: { [`${TENANT_SET_EVENT_PREFIX}${event.type}`]: detail } };
  }
  const eventData = event.data;
  const path = event.resourceType === 'User' ? 'Users' : 'Groups';
  const version = eventData.etag;
  const data = resourceFor(event, endpoint);
  let events: Record<string, Record<string, unknown>>;
  switch (event.type) {
    case 'user.created':
    case 'group.created':
      events = { [SET_EVENT_URIS.create]: { version, data } };
      break;
    case 'user.updated':
    case 'group.updated':
      events = { [SET_EVENT_URIS.put]: { version, data } };
      break;
    case 'user.deactivated':
      events = { [SET_EVENT_URIS.put]: { version, data }, [SET_EVENT_URIS.deactivate]: {} };
      break;
    case 'user.reactivated':
      events = { [SET_EVENT_URIS.put]: { version, data }, [SET_EVENT_URIS.activate]: {} };
      break;
    case 'user.deleted':
    case 'group.deleted':
      events = { [SET_EVENT_URIS.delete]: {} };
      break;
    case 'group.members.added':
      events = {
        [SET_EVENT_URIS.patch]: {
          version,
          data: { schemas: [PATCH_OP_SCHEMA], Operations: [{ op: 'add', path: 'members', value: (eventData.members ?? []).map((value) => ({ value })) }] },
        },
      };
      break;
    case 'group.members.removed':
      events = {
        [SET_EVENT_URIS.patch]: {
          version,
          data: { schemas: [PATCH_OP_SCHEMA], Operations: (eventData.members ?? []).map((id) => ({ op: 'remove', path: `members[value eq "${id}"]` })) },
        },
      };
      break;
    default:
      throw new Error(`${event.type} is not a User or Group event`);
  }
  return {
    ...common,
    sub_id: { format: 'scim', uri: `/${path}/${event.resourceId}`, ...(eventData.externalId ? { externalId: eventData.externalId } : {}) },
    events,
  };
}

/**
 * The OpenID Shared Signals Framework's verification event (SSF 1.0 §8.1.4.1):
 * what a `webhook.test` is for an endpoint that receives SETs.
 */
export const SET_VERIFICATION_EVENT = 'https://schemas.openid.net/secevent/ssf/event-type/verification';

/** Claims of the verification SET sent by POST …/webhooks/{id}/test; `state` is the test's event id. */
export function setTestClaims(endpoint: Pick<Endpoint, 'id' | 'url'>, issuer: string, state: string): JWTPayload {
  return { iss: issuer, aud: endpoint.url, jti: state, sub_id: { format: 'opaque', id: endpoint.id }, events: { [SET_VERIFICATION_EVENT]: { state } } };
}

interface KeyMaterial {
  kid: string;
  alg: string;
  key: Awaited<ReturnType<typeof importJWK>>;
}

const keys = new WeakMap<Db, Promise<KeyMaterial>>();

async function loadOrCreateKey(db: Db): Promise<KeyMaterial> {
  let rec = await activeSigningKey(db);
  if (!rec) {
    const { privateKey, publicKey } = await generateKeyPair(SET_ALG, { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    await insertSigningKeyIfNone(db, {
      kid,
      alg: SET_ALG,
      privateJwk: { ...(await exportJWK(privateKey)), kid, alg: SET_ALG },
      publicJwk: { ...publicJwk, kid, alg: SET_ALG, use: 'sig' },
    });
    rec = await activeSigningKey(db);
    if (!rec) throw new Error('SET signing key could not be stored');
  }
  return { kid: rec.kid, alg: rec.alg, key: await importJWK(rec.privateJwk as JWK, rec.alg) };
}

/** The signing key, created and stored on first use, cached per database handle. */
export function setSigningKey(db: Db): Promise<KeyMaterial> {
  let p = keys.get(db);
  if (!p) {
    p = loadOrCreateKey(db);
    p.catch(() => keys.delete(db));
    keys.set(db, p);
  }
  return p;
}

export async function signSet(db: Db, claims: JWTPayload, now = new Date()): Promise<string> {
  const k = await setSigningKey(db);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: k.alg, typ: 'secevent+jwt', kid: k.kid })
    .setIssuedAt(Math.floor(now.getTime() / 1000))
    .sign(k.key);
}

/** The JWKS Roster publishes at /.well-known/jwks.json (creates the key if there is none yet). */
export async function jwks(db: Db): Promise<{ keys: Record<string, unknown>[] }> {
  await setSigningKey(db);
  const all = await publishedSigningKeys(db);
  return { keys: all.map((k) => k.publicJwk) };
}
