/**
 * Mocha's spec reporter plus the closing line CI reads: `N passed, N failed`.
 */
import Mocha = require('mocha');

const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const stats = runner.stats;
      const passed = stats?.passes ?? 0;
      const failed = stats?.failures ?? 0;
      // After Spec's own epilogue, which it prints on the same event.
      process.nextTick(() => { console.log(`${passed} passed, ${failed} failed`); });
    });
  }
}

export = SummaryReporter;
