/** Schemas shared by the visibility routes of the admin API (request log, audit, deliveries, status). */
import { Type } from 'typebox';
import { DEFAULT_PAGE, MAX_PAGE } from '../../services/timeline.js';

export const DateTime = Type.String({ format: 'date-time' });
// null first: with coerceTypes, ajv would turn null into [""] for an array schema listed first.
export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([Type.Null(), t]);

export const ActorSchema = Type.Object(
  {
    type: Type.Union(['scimToken', 'admin', 'adminKey', 'oauthClient', 'jwtSubject', 'policy', 'scheduler', 'system'].map((t) => Type.Literal(t))),
    id: Type.Optional(Type.String()),
    name: Type.String(),
  },
  { description: 'Who: a credential (SCIM token, admin token or key, OAuth client, the subject of a trusted issuer’s JWT) by id and name, or a policy or job of Roster by name' },
);

/** Query parameters of every newest-first listing. */
export const PageQueryProps = {
  limit: Type.Optional(Type.String({ pattern: '^[0-9]+$', description: `1–${MAX_PAGE}, default ${DEFAULT_PAGE}` })),
  cursor: Type.Optional(Type.String({ description: 'The `next` of the previous page' })),
};

export const TimeRangeProps = {
  from: Type.Optional(Type.String({ description: 'Only entries at or after this date-time (RFC 3339)' })),
  to: Type.Optional(Type.String({ description: 'Only entries before this date-time (RFC 3339)' })),
};

export const Next = Nullable(Type.String({ description: 'Cursor of the next (older) page; null on the last page' }));

export const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
