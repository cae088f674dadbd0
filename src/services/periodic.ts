/**
 * Work a process repeats on a timer, one pass at a time: `runOnce` joins the
 * pass in progress instead of starting a second; `stop` clears the timer
 * and waits for that pass (retention, the import watch).
 */
export interface Periodic<T> {
  runOnce(): Promise<T>;
  stop(): Promise<void>;
}

export function periodic<T>(pass: () => Promise<T>, everyMs: number): Periodic<T> {
  let running: Promise<T> | undefined;
  const runOnce = () => (running ??= pass().finally(() => (running = undefined)));
  const timer = setInterval(() => void runOnce(), everyMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
