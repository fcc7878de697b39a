#!/usr/bin/env node
// The smallest job that obeys the job contract: sleeps --seconds, then writes a result.
// Used to measure orchestration overhead (bench/orchestration) without trainer start-up cost.
import { writeFileSync } from 'node:fs';

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.slice(name.length + 3)) : fallback;
};
const seconds = arg('seconds', 0);
const run = JSON.parse(process.env.SWEEP_RUN ?? '{}');
setTimeout(() => {
  const x = Number(run.axes?.x ?? 1);
  const result = {
    metrics: { score: 1 - 0.5 * Math.pow(x, -0.3) },
    n_params: 1e6 * x,
    n_samples_seen: 1e6,
    total_flops: 6e12 * x,
  };
  writeFileSync(process.env.SWEEP_RESULT_FILE, JSON.stringify(result));
}, seconds * 1000);
