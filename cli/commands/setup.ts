import type { Command } from 'commander';
// @temporalio/proto is CommonJS: Node's ESM loader cannot see its named exports, so take the default.
import proto from '@temporalio/proto';
import { SearchAttributeType } from '@temporalio/common';
import { SEARCH_ATTRIBUTES } from '../../contract';
import { temporalSettings } from '../../worker/settings';
import { connectClient } from '../client';

const IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;

/** Registers our search attributes on a namespace (idempotent) and says what it did. */
export async function registerSearchAttributes(namespace: string): Promise<{ added: string[]; present: string[] }> {
  const client = await connectClient();
  try {
    const op = client.connection.operatorService;
    const have = new Set(Object.keys((await op.listSearchAttributes({ namespace })).customAttributes ?? {}));
    const missing = SEARCH_ATTRIBUTES.filter((k) => !have.has(k.name));
    if (missing.length) {
      await op.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          missing.map((k) => [
            k.name,
            k.type === SearchAttributeType.INT ? IndexedValueType.INDEXED_VALUE_TYPE_INT : IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
          ]),
        ),
      });
    }
    return { added: missing.map((k) => k.name), present: SEARCH_ATTRIBUTES.filter((k) => have.has(k.name)).map((k) => k.name) };
  } finally {
    await client.connection.close();
  }
}

export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .description('register the search attributes sweeps use on the namespace (TEMPORAL_NAMESPACE)')
    .action(async () => {
      const ns = temporalSettings().namespace;
      const r = await registerSearchAttributes(ns);
      console.log(`namespace ${ns}: added ${r.added.length ? r.added.join(', ') : 'nothing'}; already present: ${r.present.join(', ') || 'none'}`);
    });
}
