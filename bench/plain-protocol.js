/**
 * The message loop of the bench's plain workers (plain-js/, transformers-js/), which the
 * harness drives through PlainClassifier: `{id, type: 'init'|'classify', payload}` in,
 * `{id, ok, value|error}` out. `init` boots once; classifications run one at a time, in
 * arrival order (like the product's worker).
 */

/**
 * Answer the harness's messages in this worker.
 * @param {(options: object) => Promise<{info: object}>} boot makes the runtime (called once)
 * @param {(runtime: object, blob: Blob, topK: number) => Promise<object>} classifyWith one image
 */
export function servePlainProtocol(boot, classifyWith) {
  let runtime = null; // Promise<Runtime>
  let queue = Promise.resolve();
  const run = (type, payload) => {
    if (type === 'init') {
      runtime ??= boot(payload);
      return runtime.then((rt) => rt.info);
    }
    const job = queue.then(async () => {
      if (!runtime) throw new Error('classify before init');
      return classifyWith(await runtime, payload.blob, payload.topK);
    });
    queue = job.catch(() => {});
    return job;
  };
  self.addEventListener('message', ({ data: { id, type, payload } }) => {
    run(type, payload).then(
      (value) => self.postMessage({ id, ok: true, value }),
      (err) => self.postMessage({ id, ok: false, error: String(err?.message ?? err) }),
    );
  });
}
