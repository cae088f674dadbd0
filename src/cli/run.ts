/**
 * Argument parsing, help and dispatch for the CLI: finds the command in
 * src/cli/commands.ts, checks its arguments and options (node:util
 * parseArgs), sends its request and prints the answer.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AdminClient, defaultRosterUrl } from './client.js';
import { commands, type Command, type Input, type OptionSpec } from './commands.js';
import { CliError, EXIT } from './exit-codes.js';
import { json } from './output.js';

export interface Io {
  env: Record<string, string | undefined>;
  out(text: string): void;
  err(text: string): void;
  signal: AbortSignal;
}

/** Commands that work on the database itself instead of a running server (src/cli.ts). */
export interface LocalCommand {
  name: string;
  summary: string;
  run(io: Io): Promise<void>;
}

const globalOptions: Record<string, OptionSpec> = {
  url: { type: 'string', value: '<url>', description: `the server's base URL (env ROSTER_URL, default http://127.0.0.1:$PORT, PORT as the server reads it)` },
  token: { type: 'string', value: '<token>', description: 'admin bearer token (env ADMIN_TOKEN)' },
  json: { type: 'boolean', description: "print the server's JSON answer unchanged (for scripts)" },
  help: { type: 'boolean', description: 'show help' },
};

const parseConfig = (options: Record<string, OptionSpec>): ParseArgsConfig['options'] =>
  Object.fromEntries(Object.entries(options).map(([k, o]) => [k, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(k === 'help' ? { short: 'h' } : {}) }]));

/** Runs one command line; resolves to the exit code. */
export async function runCli(argv: string[], io: Io, local: LocalCommand[] = []): Promise<number> {
  try {
    return await dispatch(argv, io, local);
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`roster: ${err.message}\n`);
      return err.exitCode;
    }
    io.err(`roster: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.failure.code;
  }
}

async function dispatch(argv: string[], io: Io, local: LocalCommand[]): Promise<number> {
  // First pass, lenient: only to find the command words among the arguments.
  const all = Object.assign({}, globalOptions, ...commands.map((c) => c.options ?? {})) as Record<string, OptionSpec>;
  const loose = parseArgs({ args: argv, options: parseConfig(all), strict: false, allowPositionals: true });
  const [w1, w2] = loose.positionals;
  const localCommand = local.find((l) => l.name === w1);
  if (localCommand) {
    if (loose.values.help) {
      io.out(`roster ${localCommand.name}\n  ${localCommand.summary}\n`);
      return EXIT.ok.code;
    }
    await localCommand.run(io);
    return EXIT.ok.code;
  }
  const command = commands.find((c) => c.name === `${w1} ${w2}`);
  if (!command) {
    if (w1 === undefined || w1 === 'help') {
      io.out(usage(local));
      return w1 === undefined && !loose.values.help ? EXIT.usage.code : EXIT.ok.code;
    }
    const group = commands.filter((c) => c.name.startsWith(`${w1} `));
    if (group.length && (w2 === undefined || loose.values.help)) {
      io.out(group.map(commandHelp).join('\n'));
      return loose.values.help ? EXIT.ok.code : EXIT.usage.code;
    }
    throw new CliError(`unknown command: ${loose.positionals.slice(0, 2).join(' ')} (see roster --help)`, EXIT.usage.code);
  }
  if (loose.values.help) {
    io.out(commandHelp(command));
    return EXIT.ok.code;
  }

  const input = parseCommand(command, argv);
  const ctx = {
    client: new AdminClient((input.opts.url as string | undefined) ?? io.env.ROSTER_URL ?? defaultRosterUrl(io.env), (input.opts.token as string | undefined) ?? io.env.ADMIN_TOKEN),
    json: input.opts.json === true,
    out: io.out,
    signal: io.signal,
  };
  if (command.run) {
    await command.run(input, ctx);
    return EXIT.ok.code;
  }
  const { body } = await ctx.client.send(command.request!(input));
  io.out(ctx.json ? (body === undefined ? '' : json(body)) : command.show!(body, input));
  return EXIT.ok.code;
}

/** Strict parse against the command's own options; arity and required options checked. */
function parseCommand(command: Command, argv: string[]): Input {
  const options = { ...globalOptions, ...command.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: parseConfig(options), strict: true, allowPositionals: true });
  } catch (err) {
    throw new CliError(`${(err as Error).message} (see roster ${command.name} --help)`, EXIT.usage.code);
  }
  const given = parsed.positionals.slice(command.name.split(' ').length);
  const names = command.args ?? [];
  const needed = names.filter((a) => !a.endsWith('?')).length;
  if (given.length < needed || given.length > names.length) {
    throw new CliError(`usage: roster ${signature(command)}`, EXIT.usage.code);
  }
  for (const [name, o] of Object.entries(command.options ?? {})) {
    if (o.required && parsed.values[name] === undefined) throw new CliError(`--${name} is required (usage: roster ${signature(command)})`, EXIT.usage.code);
  }
  const args = Object.fromEntries(given.map((v, i) => [names[i]!.replace(/\?$/, ''), v]));
  return { args, opts: parsed.values as Input['opts'] };
}

const optionSignature = ([name, o]: [string, OptionSpec]) => {
  const s = `--${name}${o.type === 'string' ? ` ${o.value ?? `<${name}>`}` : ''}`;
  return o.required ? s : `[${s}]`;
};

function signature(c: Command, opts: 'full' | 'short' = 'full'): string {
  const args = (c.args ?? []).map((a) => (a.endsWith('?') ? `[<${a.slice(0, -1)}>]` : `<${a}>`));
  const options = Object.entries(c.options ?? {});
  const shown = opts === 'full' ? options.map(optionSignature) : options.filter(([, o]) => o.required).map(optionSignature).concat(options.some(([, o]) => !o.required) ? ['[options]'] : []);
  return [c.name, ...args, ...shown].join(' ');
}

function commandHelp(c: Command): string {
  const opts = Object.entries(c.options ?? {}).map(([name, o]) => `    ${optionSignature([name, o]).replace(/^\[|\]$/g, '').padEnd(34)} ${o.description}\n`);
  return `roster ${signature(c)}\n  ${c.summary}\n${opts.join('')}`;
}

export function usage(local: LocalCommand[] = []): string {
  const rows = [...commands.map((c) => [signature(c, 'short'), c.summary]), ...local.map((l) => [l.name, l.summary])];
  const width = Math.max(...rows.map(([s]) => s!.length));
  const line = ([s, d]: string[]) => `  roster ${s!.padEnd(width)}  ${d}\n`;
  return [
    'Roster CLI: works against a running Roster through its admin API.\n\n',
    'usage (roster <command> --help for its options):\n',
    ...rows.map(line),
    '\noptions for every command:\n',
    ...Object.entries(globalOptions).map(([n, o]) => `  ${optionSignature([n, o]).replace(/^\[|\]$/g, '').padEnd(18)} ${o.description}\n`),
    '\nexit codes:\n',
    ...Object.values(EXIT).map((e) => `  ${String(e.code).padEnd(3)} ${e.meaning}\n`),
  ].join('');
}
