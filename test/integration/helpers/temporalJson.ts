/**
 * Reading the Temporal CLI's `--output json`: workflow histories (`workflow show`), visibility
 * listings (`workflow list`), query results. Payloads there are base64 JSON.
 */
import { temporalOk } from './cli';

export interface Conn {
  address: string;
  namespace: string;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** A payload of the CLI's JSON output, decoded (json/plain encoding). */
export function decodePayload(p: JsonPayload | undefined): unknown {
  if (!p?.data) return undefined;
  return JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) as unknown;
}

interface RawEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
  workflowExecutionSignaledEventAttributes?: { signalName: string; input?: { payloads?: JsonPayload[] } };
  startChildWorkflowExecutionInitiatedEventAttributes?: { workflowId: string };
  workflowExecutionUpdateAcceptedEventAttributes?: {
    acceptedRequest?: { input?: { name?: string; args?: { payloads?: JsonPayload[] } } };
  };
}

/** The parts of a history event these tests reason about. */
export interface HistEvent {
  id: number;
  time: number;
  type: string;
  /** Signals: the signal name, and for runFinished the run id in its payload. */
  signal?: string;
  signalRunId?: string;
  /** StartChildWorkflowExecutionInitiated: the child's workflow id. */
  childWorkflowId?: string;
  /** WorkflowExecutionUpdateAccepted: the update name and its argument. */
  update?: string;
  updateArg?: unknown;
}

/** `temporal workflow show --output json` of the latest run of a workflow. */
export async function workflowHistory(conn: Conn, workflowId: string): Promise<HistEvent[]> {
  const out = await temporalOk(conn, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json']);
  const { events } = JSON.parse(out) as { events: RawEvent[] };
  return events.map((e): HistEvent => {
    const ev: HistEvent = {
      id: Number(e.eventId),
      time: Date.parse(e.eventTime),
      type: e.eventType.replace(/^EVENT_TYPE_/, ''),
    };
    const sig = e.workflowExecutionSignaledEventAttributes;
    if (sig) {
      ev.signal = sig.signalName;
      const arg = decodePayload(sig.input?.payloads?.[0]);
      if (arg && typeof arg === 'object' && 'runId' in arg) ev.signalRunId = String(arg.runId);
    }
    const child = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (child) ev.childWorkflowId = child.workflowId;
    const upd = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (upd) {
      ev.update = upd.name;
      ev.updateArg = decodePayload(upd.args?.payloads?.[0]);
    }
    return ev;
  });
}

/**
 * Every child start decided in a sweep's history, with the number of runs the sweep had in
 * flight just before it (child starts so far minus `runFinished` signals so far).
 */
export function childStarts(events: HistEvent[]): { id: number; workflowId: string; inFlightBefore: number }[] {
  const inFlight = new Set<string>();
  const out: { id: number; workflowId: string; inFlightBefore: number }[] = [];
  for (const e of events) {
    if (e.type === 'START_CHILD_WORKFLOW_EXECUTION_INITIATED' && e.childWorkflowId) {
      out.push({ id: e.id, workflowId: e.childWorkflowId, inFlightBefore: inFlight.size });
      inFlight.add(e.childWorkflowId.split('/').pop() ?? e.childWorkflowId);
    } else if (e.signal === 'runFinished' && e.signalRunId) inFlight.delete(e.signalRunId);
  }
  return out;
}

export interface ListedWorkflow {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  searchAttributes: Record<string, unknown>;
}

interface RawListed {
  execution: { workflowId: string; runId: string };
  type: { name: string };
  status: string;
  searchAttributes?: { indexedFields?: Record<string, JsonPayload> };
}

/** `temporal workflow list --query <q> --output json`, search attributes decoded. */
export async function listWorkflows(conn: Conn, query: string): Promise<ListedWorkflow[]> {
  const out = await temporalOk(conn, ['workflow', 'list', '--query', query, '--output', 'json']);
  const trimmed = out.trim();
  if (!trimmed) return [];
  // The CLI prints a JSON array (or, in some versions, one object per line).
  const raw: RawListed[] = trimmed.startsWith('[')
    ? (JSON.parse(trimmed) as RawListed[])
    : trimmed
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as RawListed);
  return raw.map((w) => ({
    workflowId: w.execution.workflowId,
    runId: w.execution.runId,
    type: w.type.name,
    status: w.status,
    searchAttributes: Object.fromEntries(
      Object.entries(w.searchAttributes?.indexedFields ?? {}).map(([k, v]) => [k, decodePayload(v)]),
    ),
  }));
}

/** `temporal workflow query --name <name> [--input <json>] --output json`: the first result. */
export async function queryWorkflow<T>(conn: Conn, workflowId: string, name: string, input?: unknown): Promise<T> {
  const args = ['workflow', 'query', '--workflow-id', workflowId, '--name', name, '--output', 'json'];
  if (input !== undefined) args.push('--input', JSON.stringify(input));
  const out = await temporalOk(conn, args);
  const parsed = JSON.parse(out) as { queryResult: T[] };
  return parsed.queryResult[0];
}
