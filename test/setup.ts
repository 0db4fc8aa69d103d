import 'reflect-metadata';
import { afterAll } from 'vitest';
import { removeLeftoverSystems } from './support/harness.js';
import { removeTempDirs } from './support/wire.js';

// No key material outlives a test file: systems left open and temporary directories go.
afterAll(() => {
  removeLeftoverSystems();
  removeTempDirs();
});
