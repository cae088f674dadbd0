/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com, spec 1.0):
 * the signed content is `${webhook-id}.${webhook-timestamp}.${body}`;
 * `v1,` is base64 HMAC-SHA256 keyed with the base64-decoded part of a
 * `whsec_` secret, `v1a,` is a base64 ed25519 signature whose public key the
 * receiver holds as `whpk_` + base64 of the 32 raw key bytes. Several
 * signatures are separated by spaces; a receiver accepts the request if any
 * one verifies — that is how secret rotation works without a gap.
 */
import { createHmac, createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { Endpoint } from './types.js';

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** `whsk_` + base64 of a 32-byte ed25519 seed (kept by Roster; receivers get the `whpk_` public key). */
export function generateEd25519Secret(): string {
  return `whsk_${randomBytes(32).toString('base64')}`;
}

// PKCS#8 DER prefix of an Ed25519 private key (RFC 8410 §7) followed by the 32-byte seed.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function ed25519Key(secret: string): KeyObject {
  const seed = Buffer.from(secret.replace(/^whsk_/, ''), 'base64');
  if (seed.length !== 32) throw new Error('ed25519 secret must hold 32 bytes');
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** The `whpk_` public key receivers verify `v1a` signatures with. */
export function ed25519PublicKey(secret: string): string {
  const jwk = createPublicKey(ed25519Key(secret)).export({ format: 'jwk' });
  return `whpk_${Buffer.from(String(jwk.x), 'base64url').toString('base64')}`;
}

function hmacSignature(secret: string, content: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(content).digest('base64')}`;
}

function ed25519Signature(secret: string, content: string): string {
  return `v1a,${sign(null, Buffer.from(content), ed25519Key(secret)).toString('base64')}`;
}

/**
 * The `webhook-signature` header for one attempt: the current secret, plus
 * the previous one while a rotation's grace period lasts; `v1a` signatures
 * too when the endpoint has an ed25519 key.
 */
export function signatureHeader(endpoint: Pick<Endpoint, 'secret' | 'previousSecret' | 'ed25519Secret' | 'previousEd25519Secret' | 'previousExpiresAt'>, msgId: string, timestamp: number, body: string, now = new Date()): string {
  const content = `${msgId}.${timestamp}.${body}`;
  const inGrace = endpoint.previousExpiresAt !== null && endpoint.previousExpiresAt.getTime() > now.getTime();
  const sigs = [hmacSignature(endpoint.secret, content)];
  if (inGrace && endpoint.previousSecret) sigs.push(hmacSignature(endpoint.previousSecret, content));
  if (endpoint.ed25519Secret) sigs.push(ed25519Signature(endpoint.ed25519Secret, content));
  if (inGrace && endpoint.previousEd25519Secret) sigs.push(ed25519Signature(endpoint.previousEd25519Secret, content));
  return sigs.join(' ');
}
