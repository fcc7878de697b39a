// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'fs', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'tls', 'dgram', 'dns', 'stream',
  'worker_threads', 'cluster', 'process', 'readline', 'zlib', 'url', 'util', 'events', 'timers', 'vm',
];

export default tseslint.config(
  { ignores: ['node_modules/', '.tools/', 'out/', 'test-artifacts/', '.sweep/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code must be deterministic: no Node built-ins, no I/O modules. The contract is
    // bundled into the workflows too.
    files: ['workflows/**/*.ts', 'contract/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.flatMap((m) => [m, `node:${m}`]),
            'better-sqlite3', 'pg', '@kubernetes/client-node', 'pino', '@temporalio/activity', 'zod',
            '@temporalio/client', '@temporalio/worker',
          ].map((name) => ({ name, message: 'Workflow code is deterministic: move I/O into an activity.' })),
          patterns: [
            { group: ['**/activities/*', '**/activities/**', '!**/activities/types'], message: 'Import activity types only (import type).', allowTypeImports: true },
            { group: ['**/store/**', '**/cli/**', '**/sim/**', '**/spec/load', '**/worker/**'], message: 'Workflow code must not import I/O modules.' },
            {
              regex: '/spec(/(index|sweepSpec|fitSpec|result))?$',
              message: 'Import zod-free spec modules (grid, duration, failure, retry); schemas are validated in activities.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', URL: 'readonly' } },
  },
);
