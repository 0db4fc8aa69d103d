// Layering (ARCHITECTURE.md): dependencies point downward only, and the pure layers
// (src/core, src/protocols, src/onboarding) do no I/O: they import nothing from Node and no adapter.
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'node:*',
  'fs',
  'fs/*',
  'net',
  'tls',
  'http',
  'https',
  'crypto',
  'os',
  'path',
  'child_process',
  'dgram',
  'dns',
  'worker_threads',
  'stream',
  'process',
];
const forbid = (groups, message) => ({
  'no-restricted-imports': ['error', { patterns: [{ group: groups, message }] }],
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', '.tmp/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'off',
    },
  },
  {
    // With types: a promise nobody awaits (its failure lost), or one passed where nothing awaits it.
    files: ['src/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: forbid(
      [
        ...nodeBuiltins,
        '**/protocols/**',
        '**/onboarding/**',
        '**/adapters/**',
        '**/roles/**',
        '**/app/**',
        '**/cli/**',
        'better-sqlite3',
        'kysely',
        'fastify',
        'undici',
        'pino',
      ],
      'src/core is the pure domain: no I/O, no Node built-ins, nothing from the layers above it.',
    ),
  },
  {
    files: ['src/protocols/**/*.ts'],
    rules: forbid(
      [
        ...nodeBuiltins,
        '**/onboarding/**',
        '**/adapters/**',
        '**/roles/**',
        '**/app/**',
        '**/cli/**',
        'better-sqlite3',
        'kysely',
        'fastify',
        'undici',
        'pino',
      ],
      'src/protocols holds wire formats only: no I/O, no Node built-ins, no adapters or roles.',
    ),
  },
  {
    files: ['src/onboarding/**/*.ts'],
    rules: forbid(
      [
        ...nodeBuiltins,
        '**/adapters/**',
        '**/roles/**',
        '**/app/**',
        '**/cli/**',
        'better-sqlite3',
        'kysely',
        'fastify',
        'undici',
        'pino',
      ],
      'src/onboarding holds the steps of Figure 9: it calls ports (src/core) and wire formats (src/protocols), and does no I/O itself.',
    ),
  },
  {
    files: ['src/adapters/**/*.ts'],
    rules: forbid(
      ['**/roles/**', '**/app/**', '**/cli/**'],
      'src/adapters may not depend on roles, the composition root or the CLI.',
    ),
  },
  {
    files: ['src/roles/**/*.ts'],
    rules: forbid(
      ['**/app/**', '**/cli/**'],
      'src/roles may not depend on the composition root (src/app) or the CLI.',
    ),
  },
  {
    files: ['src/app/**/*.ts'],
    rules: forbid(['**/cli/**'], 'src/app (the composition root) may not depend on the CLI.'),
  },
);
