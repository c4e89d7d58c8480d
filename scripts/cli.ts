import { inspect, parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../src/platform/config.js';

/** Bad command-line arguments: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict `--flag value` parsing; `--help` prints the usage and exits 0. */
export function parseFlags<O extends Options>(argv: string[], options: O, usage: string) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values as { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
}

/**
 * Runs a script's main: usage errors exit 2 with the usage text, configuration and runtime errors exit 1
 * with their message, success exits with main's code.
 */
export function runCli(name: string, usage: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) {
        console.error(`${err.message}\n${usage}`);
        process.exit(2);
      }
      console.error(err instanceof ConfigError ? err.message : `${name} failed: ${describeFailure(err)}`);
      process.exit(1);
    },
  );
}

/** Anything a promise can reject with, printable: libraries reject with undefined, strings, plain objects. */
export function describeFailure(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  if (err === undefined || err === null) return `rejected without an error (${String(err)})`;
  return typeof err === 'string' ? err : inspect(err, { depth: 4 });
}
