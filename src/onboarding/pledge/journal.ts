/**
 * The device's journal: every NIST IR 8350 Figure 9 step it performed, by number and name, with
 * the time it was done. It is the device's account of its onboarding (OnboardingReport.steps).
 */
import type { Clock } from '../../core/ports.js';
import { stepName, type OnboardingStepNumber } from '../../core/onboarding-steps.js';

export interface JournalEntry {
  step: OnboardingStepNumber;
  name: string;
  at: string;
}

export class Journal {
  readonly entries: JournalEntry[] = [];

  constructor(private readonly clock: Clock) {}

  /** Records `step` as done now. */
  done(step: OnboardingStepNumber): void {
    this.entries.push({ step, name: stepName[step], at: this.clock.now().toISOString() });
  }
}
