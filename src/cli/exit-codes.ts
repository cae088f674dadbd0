/**
 * The CLI's exit codes, declared once: the CLI maps answers to them, `roster
 * --help` lists them, and the README's table is checked against them.
 */
export const EXIT = {
  ok: { code: 0, meaning: 'Success.' },
  failure: { code: 1, meaning: 'Anything else: an answer the CLI did not expect, or an error inside the CLI.' },
  usage: { code: 2, meaning: 'Usage error: unknown command or option, missing or malformed argument. Nothing was sent.' },
  unreachable: { code: 3, meaning: 'The server could not be reached: connection refused, unknown host, or no answer in time.' },
  unauthorized: { code: 4, meaning: 'No admin token was given, or the server refused it (401, 403).' },
  notFound: { code: 5, meaning: 'The tenant, token, webhook or event does not exist (404).' },
  conflict: { code: 6, meaning: 'It conflicts with what exists, e.g. a tenant with that id (409).' },
  rejected: { code: 7, meaning: 'The server rejected the request as invalid (400, 413, 422 and other 4xx).' },
  unavailable: { code: 8, meaning: 'The server failed or asked to be tried later (5xx, 429).' },
} as const;

export type ExitName = keyof typeof EXIT;

/** Exit code for an HTTP error status. */
export function exitForStatus(status: number): number {
  if (status === 401 || status === 403) return EXIT.unauthorized.code;
  if (status === 404) return EXIT.notFound.code;
  if (status === 409) return EXIT.conflict.code;
  if (status === 429 || status >= 500) return EXIT.unavailable.code;
  if (status >= 400) return EXIT.rejected.code;
  return EXIT.failure.code;
}

/** A failure the CLI reports in one line on stderr and exits with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
