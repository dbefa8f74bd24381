// Lint rules for the whole workspace. The important block is the last one: the Raft core and the
// lock state machine must stay pure (no I/O, no clock, no randomness, no timers), because one seed
// has to replay a whole cluster's life in the simulation. See ../shared/STYLE.md "What we absorb" §1.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const pureCoreFolders = ['packages/server/src/raft/**/*.ts', 'packages/server/src/lock/**/*.ts'];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: pureCoreFolders,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'The pure core does no I/O: inject a port instead.' },
            { group: ['ws', 'lmdb', 'pino', 'msgpackr', 'nanoid', 'yargs', 'prom-client'], message: 'The pure core does no I/O: inject a port instead.' },
            { group: ['fs', 'net', 'http', 'https', 'crypto', 'os', 'timers', 'timers/*', 'perf_hooks', 'worker_threads', 'child_process'], message: 'The pure core does no I/O: inject a port instead.' },
            { group: ['**/storage/*', '**/transport/*', '**/runtime/*', '**/api/*'], message: 'The pure core may not import the adapters above it.' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'Date', message: 'No clock in the pure core: time arrives as tick().' },
        { name: 'performance', message: 'No clock in the pure core: time arrives as tick().' },
        { name: 'process', message: 'No process access in the pure core.' },
        { name: 'setTimeout', message: 'No timers in the pure core: the driver owns them.' },
        { name: 'setInterval', message: 'No timers in the pure core: the driver owns them.' },
        { name: 'setImmediate', message: 'No timers in the pure core: the driver owns them.' },
        { name: 'queueMicrotask', message: 'No scheduling in the pure core: the driver owns it.' },
        { name: 'crypto', message: 'No randomness in the pure core: use the injected Random.' },
        { name: 'fetch', message: 'No I/O in the pure core.' },
        { name: 'require', message: 'No dynamic loading in the pure core.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'No randomness in the pure core: use the injected Random.' },
        { object: 'globalThis', message: 'No ambient globals in the pure core.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: 'AwaitExpression', message: 'The pure core is synchronous: the driver owns await.' },
        { selector: 'FunctionDeclaration[async=true], FunctionExpression[async=true], ArrowFunctionExpression[async=true]', message: 'The pure core is synchronous.' },
        { selector: 'ImportExpression', message: 'No dynamic imports in the pure core.' },
      ],
    },
  },
);
