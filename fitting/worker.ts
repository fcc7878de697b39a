/** Worker thread body: run fit tasks posted by FitPool. */
import { parentPort } from 'node:worker_threads';
import { runTask } from './runTask';
import type { ReplyMessage, TaskMessage } from './protocol';

if (!parentPort) throw new Error('fitting/worker.ts must run in a worker thread');
const port = parentPort;
port.on('message', (msg: TaskMessage) => {
  let reply: ReplyMessage;
  try {
    reply = { id: msg.id, ok: true, result: runTask(msg.task) };
  } catch (e) {
    reply = { id: msg.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port.postMessage(reply);
});
