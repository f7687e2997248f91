/**
 * Per-owner FIFO queues served round-robin, at most `limit` requests in the worker at once:
 * one busy classifier (a camera, a batch drop) cannot starve another on the same page.
 */
import { abortError } from './errors.js';
import { closePrepared } from './inputs.js';

/**
 * Per-owner FIFO queues served round-robin, at most `limit` requests in the worker at once.
 *
 * A job waits in its owner's queue until its input is prepared and its owner's turn comes.
 * Map order is the rotation: an owner that was just served moves to the back.
 */
export class FairQueue {
  /**
   * @param {WorkerChannel} channel
   * @param {number} limit
   */
  constructor(channel, limit) {
    this.channel = channel;
    this.limit = limit;
    this.inFlight = 0;
    /** @type {Map<object, Job[]>} */
    this.queues = new Map();
    /** @type {Set<Job>} */
    this.running = new Set();
  }

  /**
   * Queue one classification for `owner`.
   * @param {object} owner the classifier
   * @param {Promise<{image: any, name: string, decodeMs: number, transfer: Transferable[]}>} prepared
   * @param {object} payload model, topK, preprocess
   * @param {AbortSignal} [signal]
   * @returns {Promise<object>}
   */
  submit(owner, prepared, payload, signal) {
    return new Promise((resolve, reject) => {
      const job = { owner, payload, prepared: null, controller: new AbortController(), settled: false };
      const settle = (fn, value) => {
        if (job.settled) return;
        job.settled = true;
        signal?.removeEventListener('abort', onAbort);
        fn(value);
      };
      job.resolve = (value) => settle(resolve, value);
      job.reject = (err) => settle(reject, err);
      const onAbort = () => this.#cancel(job, abortError(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) return onAbort();

      if (!this.queues.has(owner)) this.queues.set(owner, []);
      this.queues.get(owner).push(job);
      prepared.then(
        (value) => {
          if (job.settled) return closePrepared(value); // cancelled while preparing
          job.prepared = value;
          this.#pump();
        },
        (err) => this.#cancel(job, signal?.aborted ? abortError(signal) : err),
      );
    });
  }

  /** Reject every unfinished job of `owner` with `reason` (its classifier was disposed). */
  dropOwner(owner, reason) {
    for (const job of [...(this.queues.get(owner) ?? [])]) this.#cancel(job, reason);
    for (const job of [...this.running]) if (job.owner === owner) this.#cancel(job, reason);
  }

  /** The worker died: reject everything still waiting. */
  failAll(reason) {
    for (const jobs of [...this.queues.values()]) for (const job of [...jobs]) this.#cancel(job, reason);
  }

  /** Remove a job wherever it is; a running job's request is cancelled in the worker too. */
  #cancel(job, reason) {
    if (job.settled) return;
    const jobs = this.queues.get(job.owner);
    const at = jobs ? jobs.indexOf(job) : -1;
    if (at >= 0) {
      jobs.splice(at, 1);
      if (!jobs.length) this.queues.delete(job.owner);
      if (job.prepared) closePrepared(job.prepared);
    }
    job.reject(reason);
    if (this.running.has(job)) job.controller.abort(); // settles the channel request: frees the slot
    this.#pump();
  }

  #pump() {
    while (this.inFlight < this.limit) {
      const job = this.#next();
      if (!job) return;
      this.#send(job);
    }
  }

  /** The first owner (in rotation order) whose head job is prepared gives up that job. */
  #next() {
    for (const [owner, jobs] of this.queues) {
      if (!jobs[0].prepared) continue; // FIFO per owner: never skip its head
      const job = jobs.shift();
      this.queues.delete(owner);
      if (jobs.length) this.queues.set(owner, jobs); // to the back of the rotation
      return job;
    }
    return null;
  }

  #send(job) {
    const { image, name, decodeMs, transfer } = job.prepared;
    this.inFlight += 1;
    this.running.add(job);
    this.channel
      .request('classify', { ...job.payload, image, name, decodeMs }, { signal: job.controller.signal, transfer })
      .then(job.resolve, job.reject)
      .finally(() => {
        this.running.delete(job);
        this.inFlight -= 1;
        this.#pump();
      });
  }
}

