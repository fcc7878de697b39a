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

/**
 * A deep copy of a JSON-shaped object (what the store holds: plain objects, arrays, strings,
 * numbers, booleans, null). Several times faster than structuredClone, which serialises through
 * V8's value serializer: copies on every put and get were the sim's largest cost at 4,000 Jobs.
 */
export function deepCopy<T>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = deepCopy(v[i] as unknown);
    return out as T;
  }
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(src)) out[k] = deepCopy(src[k]);
  return out as T;
}

const clone = deepCopy;

/** The index values of an object (client-go's IndexFunc): none keeps it out of the index. */
export type IndexFn = (o: Readonly<KubeObject>) => readonly string[];

interface Index {
  kind: Kind;
  fn: IndexFn;
  /** index value -> keys of the objects that have it */
  byValue: Map<string, Set<string>>;
}

const byRv = (a: KubeObject, b: KubeObject) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion);

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
  /** Secondary indexes by name, kept on every put and delete (lookups by owner, by state, without a scan of every object). */
  private readonly indexes = new Map<string, Index>();
  /** resourceVersion of the last change to each kind (caches of a kind's objects key on it). */
  private readonly changedAt = new Map<Kind, number>();

  constructor(private readonly historyLimit: number) {}

  get resourceVersion(): number {
    return this.rv;
  }

  /** resourceVersion of the last put or delete of an object of `kind` (0: none yet). */
  lastChange(kind: Kind): number {
    return this.changedAt.get(kind) ?? 0;
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
    return out.sort(byRv);
  }

  /**
   * Keep an index of a kind's objects by `fn`'s values (client-go's Indexer), so hot paths look
   * objects up by owner or state instead of scanning every object of the kind.
   */
  addIndex(kind: Kind, name: string, fn: IndexFn): void {
    if (this.indexes.has(name)) throw new Error(`index ${name} already exists`);
    const index: Index = { kind, fn, byValue: new Map() };
    this.indexes.set(name, index);
    for (const [key, o] of this.bucket(kind)) this.indexAdd(index, key, o);
  }

  private index(name: string): Index {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`no index ${name}`);
    return index;
  }

  private indexAdd(index: Index, key: string, o: KubeObject): void {
    for (const v of index.fn(o)) {
      let keys = index.byValue.get(v);
      if (!keys) index.byValue.set(v, (keys = new Set()));
      keys.add(key);
    }
  }

  private indexRemove(index: Index, key: string, o: KubeObject): void {
    for (const v of index.fn(o)) {
      const keys = index.byValue.get(v);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) index.byValue.delete(v);
    }
  }

  private reindex(kind: Kind, key: string, old: KubeObject | undefined, next: KubeObject | undefined): void {
    for (const index of this.indexes.values()) {
      if (index.kind !== kind) continue;
      if (old) this.indexRemove(index, key, old);
      if (next) this.indexAdd(index, key, next);
    }
  }

  /** Read-only views of the objects an index holds under `value`, in resourceVersion order. Callers must not mutate them. */
  scanIndexed<T extends KubeObject>(name: string, value: string): Readonly<T>[] {
    const index = this.index(name);
    const keys = index.byValue.get(value);
    if (!keys) return [];
    const b = this.bucket(index.kind);
    const out: T[] = [];
    for (const k of keys) {
      const o = b.get(k);
      if (o) out.push(o as T);
    }
    return out.sort(byRv);
  }

  /** Copies of the objects an index holds under `value`, in resourceVersion order (like list()). */
  listIndexed<T extends KubeObject>(name: string, value: string): T[] {
    return this.scanIndexed<T>(name, value).map((o) => clone(o) as T);
  }

  /**
   * Read-only views of a kind's objects (no copies), in resourceVersion order like list(): for the
   * sim's own hot paths (the scheduler reads every node on every pass). Callers must not mutate them.
   */
  scan<T extends KubeObject>(kind: T['kind'], filter?: (o: Readonly<T>) => boolean): Readonly<T>[] {
    const out: T[] = [];
    for (const o of this.bucket(kind).values()) if (!filter || filter(o as T)) out.push(o as T);
    return out.sort(byRv);
  }

  /** Read-only view of a stored object (no copy): callers must not mutate it. */
  peek<T extends KubeObject>(kind: T['kind'], namespace: string | undefined, name: string): Readonly<T> | undefined {
    return this.bucket(kind).get(ObjectStore.key(namespace, name)) as T | undefined;
  }

  /**
   * Store a new or changed object; stamps its resourceVersion and records the event. The result is
   * read-only. `handOver`: the caller built or copied `obj` for this put and never touches it
   * again, so it is stored as it is (the hot paths' copy per write was a tenth of the sim's time
   * in a burst of creates, with the garbage it left).
   */
  put<T extends KubeObject>(obj: T, handOver = false): T {
    const b = this.bucket(obj.kind);
    const key = ObjectStore.key(obj.metadata.namespace, obj.metadata.name);
    const old = b.get(key);
    const type = old ? 'MODIFIED' : 'ADDED';
    const stored = handOver ? obj : clone(obj);
    stored.metadata.resourceVersion = String(++this.rv);
    b.set(key, stored);
    this.reindex(obj.kind, key, old, stored);
    this.changedAt.set(obj.kind, this.rv);
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
    this.reindex(kind, key, old, undefined);
    const gone = clone(old);
    gone.metadata.resourceVersion = String(++this.rv);
    this.changedAt.set(kind, this.rv);
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
