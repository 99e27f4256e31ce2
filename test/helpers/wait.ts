// Poll until a probe returns something (a record written, a span exported, a state reached).

/** The first value `fn` returns other than undefined, polled every 2 ms; throws after `ms`. */
export async function waitFor<T>(fn: () => T | undefined, ms = 2000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The first value the async probe `fn` resolves to other than undefined, polled every 50 ms; throws after `ms`, naming `what`. */
export async function poll<T>(fn: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
