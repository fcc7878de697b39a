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

  /** Objects of a kind (in a namespace), filtered before they are copied: lists stay cheap. */
  list<T extends KubeObject>(kind: T['kind'], namespace?: string, filter?: (o: T) => boolean): T[] {
    const out: T[] = [];
    for (const o of this.bucket(kind).values())
      if ((namespace === undefined || o.metadata.namespace === namespace) && (!filter || filter(o as T))) out.push(clone(o) as T);
    return out.sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
  }

  /**
   * Read-only views of a kind's objects (no copies), in resourceVersion order like list(): for the
   * sim's own hot paths (the scheduler reads every node on every pass). Callers must not mutate them.
   */
  scan<T extends KubeObject>(kind: T['kind'], filter?: (o: Readonly<T>) => boolean): Readonly<T>[] {
    const out: T[] = [];
    for (const o of this.bucket(kind).values()) if (!filter || filter(o as T)) out.push(o as T);
    return out.sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
  }

  /** Read-only view of a stored object (no copy): callers must not mutate it. */
  peek<T extends KubeObject>(kind: T['kind'], namespace: string | undefined, name: string): Readonly<T> | undefined {
    return this.bucket(kind).get(ObjectStore.key(namespace, name)) as T | undefined;
  }

  /** Store a new or changed object; stamps its resourceVersion and records the event. The result is read-only. */
  put<T extends KubeObject>(obj: T): T {
    const b = this.bucket(obj.kind);
    const key = ObjectStore.key(obj.metadata.namespace, obj.metadata.name);
    const type = b.has(key) ? 'MODIFIED' : 'ADDED';
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    b.set(key, stored);
    this.emit({ rv: this.rv, type, kind: obj.kind, object: stored });
    // The stored object itself (read-only to callers, never changed in place): a third copy per write was a hot spot.
    return stored;
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
    // Trim in batches: shifting a long array on every event is quadratic.
    if (this.history.length > this.historyLimit + (this.historyLimit >> 4)) {
      const drop = this.history.length - this.historyLimit;
      this.compactedThrough = this.history[drop - 1].rv;
      this.history.splice(0, drop);
    }
    for (const w of this.watchers) w(ev);
  }

  /**
   * Events after `fromRv` (exclusive) of one kind; throws GoneError when the history no
   * longer reaches back that far. rv 0 is "now": nothing to replay.
   */
  since(kind: Kind, fromRv: number): StoredEvent[] {
    if (fromRv < this.compactedThrough) throw new GoneError(fromRv, this.compactedThrough + 1);
    // History is ordered by rv: binary-search the first event after fromRv.
    let lo = 0;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid].rv <= fromRv) lo = mid + 1;
      else hi = mid;
    }
    const out: StoredEvent[] = [];
    for (let i = lo; i < this.history.length; i++) if (this.history[i].kind === kind) out.push(this.history[i]);
    return out;
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
