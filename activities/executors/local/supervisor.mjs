#!/usr/bin/env node
// Supervises one attempt of one run, detached from the worker so the attempt outlives a
// worker crash (as a Kubernetes Job does). It takes the attempt's lock atomically, so an
// attempt is never started twice, starts the job (argv, no shell), and records its exit.
// Plain JS on purpose: it starts fast and needs no TypeScript loader.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));

try {
  mkdirSync(join(dir, 'lock'));
} catch {
  process.exit(0); // another supervisor owns this attempt: the launch is adopted
}

const writeAtomic = (name, value) => {
  const tmp = join(dir, `.${name}.${process.pid}`);
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, join(dir, name));
};

const out = openSync(join(dir, 'stdout.log'), 'a');
const err = openSync(join(dir, 'stderr.log'), 'a');
const startedAt = new Date().toISOString();
let child;
try {
  child = spawn(config.command[0], config.command.slice(1), {
    cwd: config.cwd,
    env: config.env,
    stdio: ['ignore', out, err],
  });
} catch (e) {
  writeAtomic('launch.json', { supervisorPid: process.pid, pid: null, startedAt });
  writeAtomic('exit.json', { code: 127, signal: null, finishedAt: new Date().toISOString(), error: String(e) });
  process.exit(0);
}
child.on('error', (e) => {
  writeAtomic('exit.json', { code: 127, signal: null, finishedAt: new Date().toISOString(), error: String(e) });
  process.exit(0);
});
writeAtomic('launch.json', { supervisorPid: process.pid, pid: child.pid, startedAt });
if (config.launchLog) {
  // One line per process ever started: lets tests prove no attempt was launched twice.
  appendFileSync(config.launchLog, `${JSON.stringify({ sweep: config.sweep, runId: config.runId, attempt: config.attempt, pid: child.pid, startedAt })}\n`);
}
// Preemption of the node (SIGTERM to the supervisor) is passed on to the job.
process.on('SIGTERM', () => child.kill('SIGTERM'));
process.on('SIGINT', () => child.kill('SIGTERM'));
child.on('exit', (code, signal) => {
  writeAtomic('exit.json', { code, signal, finishedAt: new Date().toISOString() });
  process.exit(0);
});
