import { defineSimulationSuite } from './simulation-suite.js';

// Seeds 251–500 of the 500 that `pnpm test` runs; split in two files so both cores work.
defineSimulationSuite(251, 250);
