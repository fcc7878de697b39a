/**
 * Simulated time: `timeScale` simulated seconds pass per real second, so a 1 h job takes
 * 36 s of wall time at timeScale 100. Timestamps the sim writes are in simulated time.
 */
export class SimClock {
  private readonly realStart = performance.now();
  private readonly simStart = Date.now();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(readonly timeScale: number) {
    if (!(timeScale > 0)) throw new Error(`timeScale must be positive, got ${timeScale}`);
  }

  /** Simulated epoch milliseconds. */
  nowMs(): number {
    return this.simStart + (performance.now() - this.realStart) * this.timeScale;
  }

  iso(ms = this.nowMs()): string {
    return new Date(ms).toISOString();
  }

  /** Run `fn` after `simSeconds` of simulated time. */
  after(simSeconds: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(
      () => {
        this.timers.delete(t);
        fn();
      },
      Math.max(0, (simSeconds * 1000) / this.timeScale),
    );
    this.timers.add(t);
    return t;
  }

  cancel(t: NodeJS.Timeout | undefined): void {
    if (!t) return;
    clearTimeout(t);
    this.timers.delete(t);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
