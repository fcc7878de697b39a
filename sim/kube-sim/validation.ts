/** The API server's validation of what kube-sim accepts (answers 422 Invalid with causes). */
export interface FieldCause {
  field: string;
  message: string;
  reason: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueNotSupported';
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length > 0 && s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length > 0 && s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

export function isValidLabelValue(v: string): boolean {
  return v === '' || (v.length <= 63 && LABEL_NAME.test(v));
}

export function isValidLabelKey(k: string): boolean {
  const slash = k.lastIndexOf('/');
  const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
  const name = slash >= 0 ? k.slice(slash + 1) : k;
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) return false;
  return name.length > 0 && name.length <= 63 && LABEL_NAME.test(name);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkLabels(path: string, labels: unknown, causes: FieldCause[]): void {
  if (labels === undefined) return;
  if (!isRecord(labels)) {
    causes.push({ field: path, message: 'must be a map of strings', reason: 'FieldValueInvalid' });
    return;
  }
  for (const [k, v] of Object.entries(labels)) {
    if (!isValidLabelKey(k)) causes.push({ field: `${path}`, message: `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.'`, reason: 'FieldValueInvalid' });
    if (typeof v !== 'string' || !isValidLabelValue(v))
      causes.push({ field: `${path}`, message: `Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (max 63)`, reason: 'FieldValueInvalid' });
  }
}

/**
 * Validate a Job create body. Job names must be DNS-1123 labels of at most 63 characters
 * (the name becomes the pods' `job-name` label value).
 */
export function validateJob(body: unknown): FieldCause[] {
  const causes: FieldCause[] = [];
  if (!isRecord(body)) return [{ field: '', message: 'body must be an object', reason: 'FieldValueInvalid' }];
  const meta = body.metadata;
  const name = isRecord(meta) ? meta.name : undefined;
  if (typeof name !== 'string' || name === '') causes.push({ field: 'metadata.name', message: 'Required value: name or generateName is required', reason: 'FieldValueRequired' });
  else if (!isDns1123Label(name))
    causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 63 characters`, reason: 'FieldValueInvalid' });
  if (isRecord(meta)) checkLabels('metadata.labels', meta.labels, causes);
  const spec = body.spec;
  if (!isRecord(spec)) {
    causes.push({ field: 'spec', message: 'Required value', reason: 'FieldValueRequired' });
    return causes;
  }
  for (const f of ['backoffLimit', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished'] as const) {
    const v = spec[f];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || (f === 'activeDeadlineSeconds' && v === 0)))
      causes.push({ field: `spec.${f}`, message: `Invalid value: ${JSON.stringify(v)}: must be a non-negative integer`, reason: 'FieldValueInvalid' });
  }
  const tpl = spec.template;
  if (!isRecord(tpl)) {
    causes.push({ field: 'spec.template', message: 'Required value', reason: 'FieldValueRequired' });
    return causes;
  }
  if (isRecord(tpl.metadata)) checkLabels('spec.template.metadata.labels', tpl.metadata.labels, causes);
  const pod = tpl.spec;
  if (!isRecord(pod)) {
    causes.push({ field: 'spec.template.spec', message: 'Required value', reason: 'FieldValueRequired' });
    return causes;
  }
  if (pod.restartPolicy !== 'Never' && pod.restartPolicy !== 'OnFailure')
    causes.push({ field: 'spec.template.spec.restartPolicy', message: `Unsupported value: ${JSON.stringify(pod.restartPolicy)}: supported values: "OnFailure", "Never"`, reason: 'FieldValueNotSupported' });
  const containers = pod.containers;
  if (!Array.isArray(containers) || containers.length === 0) {
    causes.push({ field: 'spec.template.spec.containers', message: 'Required value', reason: 'FieldValueRequired' });
    return causes;
  }
  containers.forEach((c: unknown, i) => {
    const p = `spec.template.spec.containers[${i}]`;
    if (!isRecord(c)) return causes.push({ field: p, message: 'must be an object', reason: 'FieldValueInvalid' });
    if (typeof c.name !== 'string' || !isDns1123Label(c.name))
      causes.push({ field: `${p}.name`, message: `Invalid value: ${JSON.stringify(c.name)}: must be a DNS-1123 label`, reason: c.name ? 'FieldValueInvalid' : 'FieldValueRequired' });
    if (typeof c.image !== 'string' || c.image.trim() === '')
      causes.push({ field: `${p}.image`, message: 'Required value', reason: 'FieldValueRequired' });
    if (c.env !== undefined && !Array.isArray(c.env)) causes.push({ field: `${p}.env`, message: 'must be a list', reason: 'FieldValueInvalid' });
    if (Array.isArray(c.volumeMounts))
      c.volumeMounts.forEach((m: unknown, j) => {
        const sub = isRecord(m) ? m.subPath : undefined;
        // As the real API: a subPath is relative and never climbs out of its volume.
        if (sub !== undefined && (typeof sub !== 'string' || sub.startsWith('/') || sub.split('/').includes('..')))
          causes.push({ field: `${p}.volumeMounts[${j}].subPath`, message: `Invalid value: ${JSON.stringify(sub)}: must be a relative path without '..'`, reason: 'FieldValueInvalid' });
      });
  });
  const grace = pod.terminationGracePeriodSeconds;
  if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0))
    causes.push({ field: 'spec.template.spec.terminationGracePeriodSeconds', message: `Invalid value: ${JSON.stringify(grace)}: must be a non-negative integer`, reason: 'FieldValueInvalid' });
  return causes;
}

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Validate a Service create body: a DNS-1035 name, labels, and owner references naming their owner. */
export function validateService(body: unknown): FieldCause[] {
  const causes: FieldCause[] = [];
  if (!isRecord(body)) return [{ field: '', message: 'body must be an object', reason: 'FieldValueInvalid' }];
  const meta = body.metadata;
  const name = isRecord(meta) ? meta.name : undefined;
  if (typeof name !== 'string' || name === '') causes.push({ field: 'metadata.name', message: 'Required value: name or generateName is required', reason: 'FieldValueRequired' });
  else if (name.length > 63 || !DNS1035_LABEL.test(name))
    causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character`, reason: 'FieldValueInvalid' });
  if (isRecord(meta)) {
    checkLabels('metadata.labels', meta.labels, causes);
    const owners: unknown = meta.ownerReferences;
    if (owners !== undefined)
      (Array.isArray(owners) ? owners : [owners]).forEach((o: unknown, i) => {
        if (!isRecord(o) || typeof o.uid !== 'string' || !o.uid || typeof o.name !== 'string' || typeof o.kind !== 'string' || typeof o.apiVersion !== 'string')
          causes.push({ field: `metadata.ownerReferences[${i}]`, message: 'Required value: apiVersion, kind, name and uid', reason: 'FieldValueRequired' });
      });
  }
  const spec = body.spec;
  if (!isRecord(spec)) causes.push({ field: 'spec', message: 'Required value', reason: 'FieldValueRequired' });
  else if (spec.clusterIP !== undefined && spec.clusterIP !== 'None' && typeof spec.clusterIP !== 'string')
    causes.push({ field: 'spec.clusterIP', message: 'Invalid value', reason: 'FieldValueInvalid' });
  return causes;
}
