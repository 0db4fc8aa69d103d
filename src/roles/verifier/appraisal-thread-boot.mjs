// The appraisal thread's start when Airlock runs from its TypeScript sources (not bundled):
// tsx's module hooks first, then the thread's module (appraisal-thread.ts), which serves.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
