#!/usr/bin/env node
// Starts attempt supervisors on behalf of the worker. The worker's process is large, and
// forking it costs ~15 ms of its main thread per job; forking this small process costs ~1 ms.
// Protocol: one JSON request per stdin line {id, file, args, env, cwd}; one reply per stdout
// line {id, pid} or {id, error}. Supervisors are detached: they outlive this process and the worker.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let req;
  try {
    req = JSON.parse(line);
    const child = spawn(req.file, req.args, { detached: true, stdio: 'ignore', env: req.env, cwd: req.cwd });
    child.on('error', (e) => process.stdout.write(`${JSON.stringify({ id: req.id, error: String(e) })}\n`));
    child.unref();
    if (child.pid) process.stdout.write(`${JSON.stringify({ id: req.id, pid: child.pid })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ id: req?.id ?? null, error: String(e) })}\n`);
  }
});
lines.on('close', () => process.exit(0)); // the worker is gone
