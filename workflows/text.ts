import type { AxisValue, Resources } from '../spec/sweepSpec';
import type { FailureClass } from '../spec/failure';
import type { FitSummary, Progress, RunInput } from '../contract';

const MAX_SUMMARY_BYTES = 200;

/** `resnet18 - imagenet - 100/class - seed 0 - 1 GPU`: the one line the Web UI lists. */
/**
 * A run's one line in the Web UI: an adaptive study's pick first says why it was chosen (the head
 * of its reason, "rank 1 of 40" or "seed design 3 of 8"; the whole reason is in its details),
 * then its axes and GPUs.
 */
export function runSummary(axes: Record<string, AxisValue>, resources: Resources, reason?: string): string {
  const parts: string[] = [];
  if (reason) parts.push(`chosen: ${reason.split(':')[0]}`);
  const known = new Set(['arch', 'dataset', 'samples_per_class', 'epochs', 'seed']);
  if (axes.arch !== undefined) parts.push(String(axes.arch));
  if (axes.dataset !== undefined) parts.push(String(axes.dataset));
  if (axes.samples_per_class !== undefined)
    parts.push(Number(axes.samples_per_class) === 0 ? 'full set' : `${axes.samples_per_class}/class`);
  if (axes.epochs !== undefined) parts.push(`${axes.epochs} ep`);
  for (const [k, v] of Object.entries(axes)) if (!known.has(k)) parts.push(`${k} ${v}`);
  if (axes.seed !== undefined) parts.push(`seed ${axes.seed}`);
  parts.push(`${resources.gpus} GPU${resources.gpus === 1 ? '' : 's'}`);
  let s = parts.join(' - ');
  // Static summaries are capped in bytes, not characters.
  while (new TextEncoder().encode(s).length > MAX_SUMMARY_BYTES) s = s.slice(0, -2) + '…';
  return s;
}

export function runDetails(input: RunInput): string {
  const rows = Object.entries(input.axes).map(([k, v]) => `| ${k} | ${v} |`);
  const r = input.resources;
  return [
    `**Run** \`${input.runId}\` of sweep \`${input.sweep}\``,
    '',
    '| axis | value |',
    '|---|---|',
    ...rows,
    '',
    `**Resources:** ${r.gpus} GPU${r.gpuType ? ` (${r.gpuType})` : ''}, ${r.cpu} CPU, ${r.memory} memory`,
    `**Executor:** ${input.spec.executor.kind} - **image:** \`${input.spec.job?.image ?? input.spec.evaluate?.image ?? '-'}\``,
    `**Retry:** up to ${input.spec.retry.maxAttempts} attempts on ${input.spec.retry.retryOn.join(', ')}`,
  ].join('\n');
}

export function runCurrentDetails(
  input: RunInput,
  phase: { phase: string; pod?: string; node?: string },
  attempt: number,
  last: { failureClass?: FailureClass; message?: string },
): string {
  const lines = [
    `**Phase:** ${phase.phase} - **attempt** ${attempt - input.firstAttempt + 1} of ${input.spec.retry.maxAttempts}`,
  ];
  if (phase.pod) lines.push(`**Job:** \`${phase.pod}\`${phase.node ? ` on node \`${phase.node}\`` : ''}`);
  if (last.failureClass) lines.push(`**Last failure:** \`${last.failureClass}\` - ${last.message ?? ''}`);
  else if (last.message) lines.push(`**Note:** ${last.message}`);
  return lines.join('\n\n');
}

const fmtDuration = (s: number) =>
  s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;

export function fitLine(f: FitSummary): string {
  const left = f.nExcluded ? `, ${f.nExcluded} left out` : '';
  if (f.error) return `${f.name} (${f.form}${left}): not fitted - ${f.error}`;
  const exps = Object.entries(f.params)
    .filter(([k]) => k === 'alpha' || k === 'beta')
    .map(([k, v]) => {
      const ci = f.intervals?.[k];
      return `${k} = ${v.toPrecision(3)}${ci ? ` [${ci[0].toPrecision(3)}, ${ci[1].toPrecision(3)}]` : ''}`;
    });
  return `${f.name} (${f.form}, ${f.nPoints} points${left}, ${f.final ? 'final' : f.stage}): ${exps.join(', ')}`;
}

/** The sweep's live details in the Web UI, as Markdown. */
export function sweepCurrentDetails(p: Progress): string {
  const s = p.byState;
  const done = s.succeeded + s.failed + s.cancelled;
  const lines = [
    `### ${p.sweep}: ${done} of ${p.total} done${p.paused ? ' (paused)' : ''}${p.cancelling ? ' (cancelling)' : ''}`,
    '',
    `| pending | running | succeeded | failed | cancelled |`,
    `|---|---|---|---|---|`,
    `| ${s.pending} | ${s.running} | ${s.succeeded} | ${s.failed} | ${s.cancelled} |`,
    '',
    `**GPU-hours:** ${p.gpuHours.toFixed(3)} - **ETA:** ${p.etaSeconds === undefined ? 'n/a' : fmtDuration(p.etaSeconds)} - **concurrency:** ${p.maxRuns} runs${p.maxGpus !== undefined ? `, ${p.maxGpus} GPUs` : ''}`,
  ];
  if (p.fits.length) lines.push('', '**Fitted laws**', '', ...p.fits.map((f) => `- ${fitLine(f)}`));
  if (p.refitError) lines.push('', `**Refit:** ${p.refitError}`);
  if (p.study) lines.push('', `**Adaptive study:** ${studyLine(p.study)}`);
  if (p.recentFailures.length)
    lines.push(
      '',
      '**Recent failures**',
      '',
      ...p.recentFailures.slice(-5).map((f) => `- \`${f.runId}\`: ${f.failureClass ?? 'unknown'} - ${f.message ?? ''}`),
    );
  return lines.join('\n');
}

/** An adaptive study in one line (the sweep's details, `sweep status`): budget spent, the target's interval, why it stopped. */
export function studyLine(study: NonNullable<Progress['study']>): string {
  return (
    // Spent is unknown for a study read back from the store after it failed or was terminated.
    `${Number.isFinite(study.spentGpuHours) ? `${study.spentGpuHours.toFixed(3)} of ${study.budgetGpuHours} GPU-hours spent` : `budget ${study.budgetGpuHours} GPU-hours`}` +
    `${study.target?.value !== undefined ? ` - target ${study.target.value.toPrecision(4)}` : ''}` +
    `${study.target?.ci ? ` [${study.target.ci.map((v) => v.toPrecision(4)).join(', ')}]` : ''}` +
    `${study.ciWidth !== undefined ? ` - target 95% interval width ${study.ciWidth.toPrecision(3)}` : ''}` +
    `${study.stop ? ` - done: ${study.stop}; ${study.skipped} cells skipped` : ''}`
  );
}
