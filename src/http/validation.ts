/**
 * Request validation for the admin API from the routes' TypeBox schemas,
 * with every problem named (src/policy/validate.ts) in one 400 invalidValue,
 * instead of Fastify's default of the first problem only and unknown fields
 * silently dropped.
 */
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import { problems } from '../policy/validate.js';
import { badRequest } from '../scim/errors.js';

const PART: Record<string, string> = { body: 'request body', querystring: 'query string', params: 'path', headers: 'headers' };

export const adminValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const optional = (schema as Record<string, unknown>)['~optional'] === true;
  const where = PART[httpPart ?? 'body'] ?? httpPart ?? 'request';
  return (data: unknown) => {
    // Fastify passes null for an absent body.
    if ((data === null || data === undefined) && httpPart === 'body') {
      return optional ? { value: undefined } : { error: badRequest('invalidValue', 'A JSON request body is required') };
    }
    const found = problems(schema, data);
    return found.length ? { error: badRequest('invalidValue', `Invalid ${where}: ${found.join('; ')}`) } : { value: data };
  };
};
