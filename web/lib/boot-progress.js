/**
 * Boot progress for every `init` caller: which stages run now, and bytes downloaded of the
 * total a default boot fetches (see messages.js BootProgress).
 */

/** Reports are throttled to one per this many ms while bytes arrive. */
const BYTES_REPORT_MS = 50;

/**
 * @returns {{subscribe: (fn: Function) => () => void, start: (stage: string) => void,
 *   done: (...stages: string[]) => void, bytes: (n: number) => void,
 *   setTotal: (n: number) => void, finish: () => void, fail: () => void}}
 */
export function createBootProgress() {
  const listeners = new Set();
  const active = new Set();
  let loaded = 0;
  let total = 0;
  let state = 'loading';
  let lastEmit = 0;
  const emit = () => {
    const p = { state, stages: [...active], loaded, total: Math.max(total, loaded) };
    for (const fn of listeners) fn(p);
  };
  return {
    /** Call `fn` with every report until the returned function is called. */
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    /** A stage started. */
    start(stage) {
      active.add(stage);
      emit();
    },
    /** Stages ended. */
    done(...stages) {
      for (const s of stages) active.delete(s);
      emit();
    },
    /** `n` more bytes arrived. */
    bytes(n) {
      loaded += n;
      const now = performance.now();
      if (now - lastEmit > BYTES_REPORT_MS) {
        lastEmit = now;
        emit();
      }
    },
    /** The boot will download `n` bytes in all. */
    setTotal(n) {
      total = n;
      emit();
    },
    /** The runtime is ready. */
    finish() {
      active.clear();
      state = 'ready';
      emit();
    },
    /** The boot failed. */
    fail() {
      active.clear();
      state = 'error';
      emit();
    },
  };
}
