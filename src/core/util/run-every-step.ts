/**
 * Run cleanup steps in order, each even when an earlier one failed (like BullMQ's close()),
 * so one stuck connection cannot leak the others. Rejects after the last step with the
 * failure, or an AggregateError when several failed.
 */
export async function runEveryStep(steps: readonly (() => Promise<void> | void)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} cleanup steps failed`);
}
