/** POST /Bulk (RFC 7644 §3.7). */
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { ScimError } from '../../scim/errors.js';
import type { BulkService } from '../../services/bulk.js';
import { ScimBody, ScimResourceResponse } from './schemas.js';

export function bulkRoutes(app: FastifyInstance, deps: { bulk: BulkService }): void {
  const { bulk } = deps;
  const maxPayloadSize = bulk.limits.maxPayloadSize;
  app.post(
    '/Bulk',
    {
      // maxPayloadSize is enforced while the body is read, before it is parsed.
      bodyLimit: maxPayloadSize,
      // §3.7.4: the 413 names the limit exceeded. Other errors go on to the app's error handler.
      errorHandler: (err: FastifyError) => {
        if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
          throw new ScimError(413, `The size of the bulk operation exceeds the maxPayloadSize (${maxPayloadSize}) (RFC 7644 §3.7.4)`);
        }
        throw err;
      },
      schema: {
        tags: ['SCIM Bulk'],
        summary: 'Run many operations in one request (RFC 7644 §3.7); bulkId references, failOnErrors',
        body: ScimBody,
        response: { 200: ScimResourceResponse },
      },
    },
    async (req: FastifyRequest) => bulk.run(req.scim, req.body, req.log),
  );
}
