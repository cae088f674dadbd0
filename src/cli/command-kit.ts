/**
 * What a CLI command is (src/cli/commands.ts lists them) and the helpers
 * command entries share to read their arguments.
 */
import type { AdminClient, ApiRequest } from './client.js';
import { CliError, EXIT } from './exit-codes.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  description: string;
  /** Shown in help instead of the option's name, e.g. `<time>`. */
  value?: string;
  multiple?: boolean;
  required?: boolean;
}

export interface Input {
  /** Positional arguments by name. */
  args: Record<string, string>;
  opts: Record<string, string | boolean | string[] | undefined>;
}

export interface Context {
  client: AdminClient;
  json: boolean;
  out(text: string): void;
  /** Aborted on Ctrl-C, for commands that run until stopped. */
  signal: AbortSignal;
}

export interface Command {
  /** The words that name it: `tenants create`. */
  name: string;
  summary: string;
  /** Positional arguments in order; a trailing `?` marks an optional one. */
  args?: string[];
  options?: Record<string, OptionSpec>;
  /** The admin API request; its answer is printed with `show` (or as JSON). */
  request?: (i: Input) => ApiRequest;
  show?: (body: any, i: Input) => string;
  /** Instead of request/show, for commands that are more than one request. */
  run?: (i: Input, ctx: Context) => Promise<void>;
}

export const str = (i: Input, name: string): string | undefined => i.opts[name] as string | undefined;
/** A comma-separated or repeated option as a list. */
export const list = (i: Input, name: string): string[] | undefined => {
  const v = i.opts[name] as string[] | undefined;
  return v?.length ? v.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean) : undefined;
};
export const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export const shownOnce = (what: string, secret: string) => `\n${what}: ${secret}\n(shown once: only its hash is stored)\n`;

export function integer(v: string, name: string): number {
  if (!/^\d+$/.test(v)) throw new CliError(`--${name} must be a whole number`, EXIT.usage.code);
  return Number(v);
}
