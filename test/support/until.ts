import { setTimeout as sleep } from "node:timers/promises";

/**
 * Wait until `check` holds, looking again every 20 ms. There is no deadline of its own: the
 * test's timeout ends a wait that never comes true, so a loaded machine only makes a test
 * slower, never wrong.
 */
export async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await sleep(20);
}
