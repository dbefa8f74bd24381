import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// One project per package plus the cross-package `test/` ring. Sources are resolved through the
// `@raftlock/source` export condition, so tests run against src/ without a build step.
const sourceConditions = ['@raftlock/source'];

export default defineConfig({
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: sourceConditions } },
  test: {
    // Vitest leaves one core idle by default; on the 2-core CI machine the simulation wants both.
    maxWorkers: availableParallelism(),
    projects: [
      { extends: true, test: { name: 'protocol', include: ['packages/protocol/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'server', include: ['packages/server/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'client', include: ['packages/client/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'cli', include: ['packages/cli/src/**/*.test.ts'] } },
      { extends: true, test: { name: 'cluster', include: ['test/**/*.test.ts'], testTimeout: 120_000 } },
    ],
  },
});
