import { defineSimulationSuite } from './simulation-suite.js';

// Seeds 1–250 of the 500 that `pnpm test` runs; split in two files so both cores work.
defineSimulationSuite(1, 250);
