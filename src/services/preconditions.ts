/** RFC 7644 §3.14: If-Match on writes. */
import { preconditionFailed } from '../scim/errors.js';
import { etagOf, parseETagList } from '../scim/representation.js';

export function checkIfMatch(version: number, ifMatch: string | undefined): void {
  if (ifMatch === undefined) return;
  const { any, versions } = parseETagList(ifMatch);
  if (any || versions.includes(version)) return;
  throw preconditionFailed(`If-Match ${ifMatch} does not match the current version ${etagOf(version)}`);
}
