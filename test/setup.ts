import 'reflect-metadata';
import { afterAll } from 'vitest';
import { removeTracked } from './support/temp-dirs.js';

// No key material outlives a test file: systems left open and temporary directories go.
afterAll(() => {
  removeTracked();
});
