/** Waiting in tests: poll until a probe's value is acceptable, or fail saying what was awaited and the last value. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until<T>(what: string, probe: () => T | Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms (last: ${JSON.stringify(last)?.slice(0, 300)})`);
    await sleep(25);
    last = await probe();
  }
  return last;
}

/** The first value the probe gives that is not undefined. */
export async function eventually<T>(what: string, probe: () => T | undefined, ms = 10_000): Promise<T> {
  return (await until(what, probe, (v) => v !== undefined, ms)) as T;
}
