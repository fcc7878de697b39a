import Table from 'cli-table3';

/**
 * Colour only on a terminal, and never with NO_COLOR set (https://no-color.org: any non-empty
 * value). Piped or redirected output must stay plain text for grep, files and CI logs.
 */
export function colorEnabled(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return !!stream.isTTY;
}

type TableOptions = NonNullable<ConstructorParameters<typeof Table>[0]>;

/** A cli-table3 table whose heads and borders are coloured only when colour is enabled. */
export function table(opts: TableOptions): InstanceType<typeof Table> {
  const color = colorEnabled();
  return new Table({ ...opts, style: { ...opts.style, head: color ? ['red'] : [], border: color ? ['grey'] : [] } });
}
