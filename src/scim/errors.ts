/**
 * SCIM errors (RFC 7644 §3.12). Every failure Roster reports to a SCIM client
 * is a ScimError; the HTTP error handler renders it as
 * `{ schemas: [Error], status: "400", scimType, detail }`.
 */
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** scimType values from RFC 7644 §3.12 table 9, plus RFC 9865 cursor errors. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive'
  | 'invalidCursor'
  | 'expiredCursor'
  | 'invalidCount';

export class ScimError extends Error {
  readonly status: number;
  readonly scimType: ScimType | undefined;
  /** Extra response headers, e.g. WWW-Authenticate or Retry-After. */
  readonly headers: Record<string, string>;

  constructor(status: number, detail: string, scimType?: ScimType, headers: Record<string, string> = {}) {
    super(detail);
    this.name = 'ScimError';
    this.status = status;
    this.scimType = scimType;
    this.headers = headers;
  }

  get detail(): string {
    return this.message;
  }

  toJSON(): ScimErrorBody {
    return errorBody(this.status, this.message, this.scimType);
  }
}

export interface ScimErrorBody {
  schemas: [typeof ERROR_SCHEMA];
  status: string;
  scimType?: ScimType;
  detail: string;
}

export function errorBody(status: number, detail: string, scimType?: ScimType): ScimErrorBody {
  const body: ScimErrorBody = { schemas: [ERROR_SCHEMA], status: String(status), detail };
  if (scimType) body.scimType = scimType;
  return body;
}

export const badRequest = (scimType: ScimType, detail: string) => new ScimError(400, detail, scimType);

/** 503 with Retry-After (RFC 9110 §10.2.3): the request was fine, a dependency is away; IdPs retry these. */
export const serviceUnavailable = (detail: string, retryAfterSeconds: number) =>
  new ScimError(503, detail, undefined, { 'retry-after': String(retryAfterSeconds) });
export const notFound = (detail: string) => new ScimError(404, detail);
export const conflict = (detail: string) => new ScimError(409, detail, 'uniqueness');
export const preconditionFailed = (detail: string) => new ScimError(412, detail);
