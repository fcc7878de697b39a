import type { Kind, KubeObject, WatchEvent } from './types';

export interface StoredEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  kind: Kind;
  object: KubeObject;
}

export type Watcher = (ev: StoredEvent) => void;

/** Thrown when a watch asks for history the store no longer keeps (the client must relist). */
export class GoneError extends Error {
  constructor(readonly requested: number, readonly oldest: number) {
    super(`too old resource version: ${requested} (${oldest})`);
  }
}

const clone = <T>(o: T): T => structuredClone(o);

/**
 * etcd in miniature: one global, monotonically increasing resourceVersion shared by every kind,
 * a bounded history of change events (watch resumes from it, or gets 410 Gone), and watchers.
 */
export class ObjectStore {
  private rv = 0;
  private readonly objects = new Map<Kind, Map<string, KubeObject>>();
  private readonly history: StoredEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  /** rv of the last event dropped from history; a watch from below this is too old. */
  private compactedThrough = 0;

  constructor(private readonly historyLimit: number) {}

  get resourceVersion(): number {
    return this.rv;
  }

  private bucket(kind: Kind): Map<string, KubeObject> {
    let b = this.objects.get(kind);
    if (!b) this.objects.set(kind, (b = new Map()));
    return b;
  }

  static key(namespace: string | undefined, name: string): string {
    return `${namespace ?? ''}/${name}`;
  }

  get<T extends KubeObject>(kind: T['kind'], namespace: string | undefined, name: string): T | undefined {
    const o = this.bucket(kind).get(ObjectStore.key(namespace, name));
    return o ? (clone(o) as T) : undefined;
  }

  list<T extends KubeObject>(kind: T['kind'], namespace?: string): T[] {
    const out: T[] = [];
    for (const o of this.bucket(kind).values())
      if (namespace === undefined || o.metadata.namespace === namespace) out.push(clone(o) as T);
    return out.sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
  }

  /** Store a new or changed object; stamps its resourceVersion and records the event. */
  put<T extends KubeObject>(obj: T): T {
    const b = this.bucket(obj.kind);
    const key = ObjectStore.key(obj.metadata.namespace, obj.metadata.name);
    const type = b.has(key) ? 'MODIFIED' : 'ADDED';
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    b.set(key, stored);
    this.emit({ rv: this.rv, type, kind: obj.kind, object: stored });
    return clone(stored);
  }

  delete<T extends KubeObject>(kind: T['kind'], namespace: string | undefined, name: string): T | undefined {
    const b = this.bucket(kind);
    const key = ObjectStore.key(namespace, name);
    const old = b.get(key);
    if (!old) return undefined;
    b.delete(key);
    const gone = clone(old);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit({ rv: this.rv, type: 'DELETED', kind, object: gone });
    return clone(gone) as T;
  }

  private emit(ev: StoredEvent): void {
    this.history.push(ev);
    while (this.history.length > this.historyLimit) this.compactedThrough = this.history.shift()!.rv;
    for (const w of this.watchers) w(ev);
  }

  /**
   * Events after `fromRv` (exclusive) of one kind; throws GoneError when the history no
   * longer reaches back that far. rv 0 is "now": nothing to replay.
   */
  since(kind: Kind, fromRv: number): StoredEvent[] {
    if (fromRv < this.compactedThrough) throw new GoneError(fromRv, this.compactedThrough + 1);
    return this.history.filter((e) => e.rv > fromRv && e.kind === kind).map((e) => ({ ...e, object: clone(e.object) }));
  }

  /** Forget history up to now (tests use it to force 410 Gone). */
  compact(): void {
    this.compactedThrough = this.rv;
    this.history.length = 0;
  }

  subscribe(w: Watcher): () => void {
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }
}

export type { WatchEvent };
