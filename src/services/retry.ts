/**
 * Run a transaction again when Postgres aborts it as a deadlock victim or a
 * serialization failure: a membership add racing the deletion of the member
 * can deadlock (the retry then sees the deletion and answers 400), and so can
 * a user's deprovisioning waiting for the tenant's safeguard lock while a
 * policy batch that holds it waits for that user (src/db/holds.ts).
 */
import { isSerializationFailure } from '../db/errors.js';

export async function retrying<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3 || !isSerializationFailure(err)) throw err;
    }
  }
}
