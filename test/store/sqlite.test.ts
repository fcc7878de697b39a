import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../store/sqlite';
import { describeStoreContract } from './contract';
import { describeCrashInjection } from './crash';

// A file, never :memory:, because the contract opens several handles onto one database (as
// several workers on one machine would).
const dir = mkdtempSync(join(tmpdir(), 'sweep-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'nested', 'results.sqlite');

describeStoreContract('sqlite', (options) => SqliteStore.open(file, options));
describeCrashInjection('sqlite', () => file);

describe('SqliteStore specifics', () => {
  it('creates the parent directory and reopens an existing database with its data', async () => {
    const f = join(dir, 'a', 'b', 'reopen.sqlite');
    const s1 = await SqliteStore.open(f);
    await s1.upsertSweep({ name: 'kept', specHash: 'h', spec: { a: 1 }, createdAt: new Date(0).toISOString() });
    await s1.close();
    const s2 = await SqliteStore.open(f);
    try {
      expect(await s2.getSweep('kept')).toEqual({
        name: 'kept',
        specHash: 'h',
        spec: { a: 1 },
        createdAt: new Date(0).toISOString(),
      });
    } finally {
      await s2.close();
    }
  });
});
