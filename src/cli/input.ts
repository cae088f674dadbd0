/** Reading a command's options, shared by the command tables. */
import type { Input } from './commands.js';

export const str = (i: Input, name: string): string | undefined => i.opts[name] as string | undefined;
/** A comma-separated or repeated option as a list. */
export const list = (i: Input, name: string): string[] | undefined => {
  const v = i.opts[name] as string[] | undefined;
  return v?.length ? v.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean) : undefined;
};
export const defined = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
export const shownOnce = (what: string, secret: string) => `\n${what}: ${secret}\n(shown once: only its hash is stored)\n`;
