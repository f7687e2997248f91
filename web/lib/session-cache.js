/**
 * A least-recently-used cache of model sessions, bounded by count and by model bytes.
 * Switching back to a cached model costs nothing; an evicted session is released.
 */
import { DEFAULTS } from './config.js';

/**
 * @template S
 * @typedef {{id: string, bytes: number, session: S}} CacheEntry
 */

/** @template S */
export class SessionCache {
  /**
   * @param {object} [options]
   * @param {number} [options.maxModels] most sessions kept (at least 1)
   * @param {number} [options.maxBytes] most model bytes kept; the newest model always stays
   * @param {(entry: CacheEntry<S>) => void} [options.onEvict] releases an evicted session
   */
  constructor({ maxModels = DEFAULTS.cache.maxModels, maxBytes = DEFAULTS.cache.maxBytes, onEvict = () => {} } = {}) {
    if (!(Number.isInteger(maxModels) && maxModels >= 1)) throw new RangeError(`maxModels must be an integer >= 1, got ${maxModels}`);
    if (!(maxBytes > 0)) throw new RangeError(`maxBytes must be > 0, got ${maxBytes}`);
    this.maxModels = maxModels;
    this.maxBytes = maxBytes;
    this.onEvict = onEvict;
    /** @type {Map<string, CacheEntry<S>>} insertion order = least to most recently used */
    this.entries = new Map();
    /** @type {Map<string, Promise<CacheEntry<S>>>} loads in progress, so each id loads once */
    this.loading = new Map();
  }

  /**
   * The session for `model`, creating it with `create()` when not cached.
   * @param {{id: string, bytes: number}} model manifest entry
   * @param {() => Promise<S>} create fetches, verifies and creates the session
   * @returns {Promise<{session: S, cached: boolean}>}
   */
  async acquire(model, create) {
    const hit = this.entries.get(model.id);
    if (hit) {
      this.entries.delete(model.id); // re-insert: now the most recently used
      this.entries.set(model.id, hit);
      return { session: hit.session, cached: true };
    }
    let pending = this.loading.get(model.id);
    if (!pending) {
      pending = create().then((session) => this.#insert({ id: model.id, bytes: model.bytes, session }));
      this.loading.set(model.id, pending);
      pending.finally(() => this.loading.delete(model.id)).catch(() => {});
    }
    const entry = await pending;
    return { session: entry.session, cached: false };
  }

  /** Add an already created session (the one made during boot). */
  put(model, session) {
    this.#insert({ id: model.id, bytes: model.bytes, session });
  }

  /**
   * Drop `id`'s session, if cached, releasing it as an eviction would (a model registered
   * again under the same id replaces it).
   * @param {string} id
   */
  remove(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.onEvict(entry);
  }

  /** Ids from least to most recently used, and the bytes they hold. */
  stats() {
    return { models: [...this.entries.keys()], bytes: this.#bytes(), maxModels: this.maxModels, maxBytes: this.maxBytes };
  }

  #insert(entry) {
    this.entries.set(entry.id, entry);
    for (const [id, old] of this.entries) {
      if (this.entries.size <= this.maxModels && this.#bytes() <= this.maxBytes) break;
      if (id === entry.id) continue;
      this.entries.delete(id);
      this.onEvict(old);
    }
    return entry;
  }

  #bytes() {
    let total = 0;
    for (const e of this.entries.values()) total += e.bytes;
    return total;
  }
}
