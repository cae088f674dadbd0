/** Helpers shared by the Groups tests. */
import { sql } from 'kysely';
import { user, type TestApp } from './app.js';

export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export const group = (displayName: string, extra: Record<string, unknown> = {}) => ({ schemas: [GROUP_SCHEMA], displayName, ...extra });
export const patch = (...Operations: unknown[]) => ({ schemas: [PATCH], Operations });

export async function newUser(a: TestApp, userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await a.scim('POST', '/Users', user(userName, extra));
  if (r.status !== 201) throw new Error(`user ${userName}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

/** The events recorded for a resource, in order. */
export async function events(a: TestApp, resourceId: string): Promise<{ type: string; members?: string[]; version: number }[]> {
  const r = await sql<{ type: string; data: { members?: string[]; version: number } }>`
    select type, data from events where resource_id = ${resourceId} order by id`.execute(a.database.db);
  return r.rows.map((e) => ({ type: e.type, version: e.data.version, ...(e.data.members ? { members: e.data.members } : {}) }));
}

export const memberIds = (body: any): string[] => (body.members ?? []).map((m: any) => m.value).sort();
