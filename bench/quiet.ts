// Imported first by benchmarks: quiet logs before any logger is created.
process.env.SWEEP_LOG_LEVEL ??= 'warn';
