/** Run until SIGINT/SIGTERM, then close; a second signal exits at once. */
export function untilSignal(close: () => Promise<void>, logger: { info: (o: object, m: string) => void }): Promise<void> {
  return new Promise((resolve) => {
    let closing = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (closing) process.exit(130);
      closing = true;
      logger.info({ signal }, "stopping: finishing in-flight batches (send the signal again to exit at once)");
      close().then(resolve, (error: unknown) => {
        console.error(error);
        process.exitCode = 1;
        resolve();
      });
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
