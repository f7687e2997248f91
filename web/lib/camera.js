/**
 * Live camera classification, shared by the demo page and <edge-classifier>.
 *
 * One frame in flight at a time: grab the current frame, classify it, wait for the answer,
 * then wait for the next new video frame. The camera can never queue frames faster than the
 * runtime classifies them, and the frame rate shown is the rate of finished classifications.
 */
import { EdgeInferError, ErrorCode } from './errors.js';

/** Error code for a camera that is missing, refused or busy (not in errors.js: camera only). */
export const CAMERA_ERROR = 'E_CAMERA';

const FPS_WINDOW_MS = 2000;

/**
 * @typedef {object} CameraOptions
 * @property {HTMLVideoElement} [video] where to show the stream; a detached one is made if omitted
 * @property {MediaTrackConstraints|boolean} [constraints] `video` constraints for getUserMedia
 *   (default: the rear camera when there is one, about 640×480)
 * @property {number} [topK] classes per result
 * @property {string} [model] manifest model id for these frames
 * @property {(result: object, stats: CameraStats) => void} [onResult] after each classified frame
 * @property {(error: Error) => void} [onError] a frame failed; the loop goes on unless stopped
 * @property {() => void} [onStop] once, after the camera was released (by `stop()` or a fatal error)
 */

/**
 * @typedef {object} CameraStats
 * @property {number} fps classifications finished per second, over the last 2 s
 * @property {number} frames classifications finished since start
 * @property {number} maxInFlight most frames ever in flight at once (1 by construction)
 */

/**
 * Open the camera and classify its frames continuously until `stop()`.
 * @param {{classify: (input: any, opts?: object) => Promise<object>}} classifier
 * @param {CameraOptions} [options]
 * @returns {Promise<CameraSession>} once the camera streams; rejects with code E_CAMERA when
 *   there is no camera or permission is refused
 */
export async function startCamera(classifier, options = {}) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new EdgeInferError(CAMERA_ERROR, 'this browser (or an insecure http: page) offers no camera access');
  }
  const constraints = options.constraints ?? { facingMode: 'environment', width: { ideal: 640 }, height: { ideal: 480 } };
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: constraints, audio: false });
  } catch (err) {
    throw new EdgeInferError(CAMERA_ERROR, `the camera is not available: ${err.name}: ${err.message}`);
  }
  const video = options.video ?? document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  try {
    await video.play();
  } catch (err) {
    stopStream(stream, video);
    throw new EdgeInferError(CAMERA_ERROR, `the camera stream does not play: ${err.message}`);
  }
  return new CameraSession(classifier, stream, video, options);
}

/** A running camera loop. */
export class CameraSession {
  #classifier;
  #stream;
  #options;
  #controller = new AbortController();
  #finished = [];
  #inFlight = 0;
  #stopped = false;

  constructor(classifier, stream, video, options) {
    this.#classifier = classifier;
    this.#stream = stream;
    this.#options = options;
    /** The element showing the stream. */
    this.video = video;
    /** @type {CameraStats} */
    this.stats = { fps: 0, frames: 0, maxInFlight: 0 };
    // The stream may end on its own (camera unplugged, permission revoked).
    for (const track of stream.getVideoTracks()) track.addEventListener('ended', () => this.stop(), { once: true });
    /** Resolves when the loop has ended and the camera is released. */
    this.done = this.#loop();
  }

  /** Whether the camera is still running. */
  get running() {
    return !this.#stopped;
  }

  /** Stop: cancel the frame in flight, stop the camera tracks, detach the stream. Idempotent. */
  stop() {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#controller.abort();
    stopStream(this.#stream, this.video);
    this.#options.onStop?.();
  }

  async #loop() {
    const { signal } = this.#controller;
    const clock = new FrameClock(this.video, signal);
    while (!this.#stopped) {
      await clock.next();
      if (this.#stopped) break;
      this.#inFlight += 1;
      this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.#inFlight);
      try {
        const result = await this.#classifier.classify(this.video, { signal, topK: this.#options.topK, model: this.#options.model });
        this.#count();
        this.#options.onResult?.(result, { ...this.stats });
      } catch (err) {
        if (this.#stopped) break;
        this.#options.onError?.(err);
        // A gone classifier or runtime will not come back by itself: release the camera.
        if (err?.code === ErrorCode.DISPOSED || err?.code === ErrorCode.WORKER_CRASHED || err?.code === ErrorCode.RUNTIME_LOAD) this.stop();
        else await delay(250, signal); // do not spin on a failing frame
      } finally {
        this.#inFlight -= 1;
      }
    }
  }

  #count() {
    const now = performance.now();
    this.#finished.push(now);
    while (this.#finished.length > 2 && now - this.#finished[0] > FPS_WINDOW_MS) this.#finished.shift();
    const span = now - this.#finished[0];
    this.stats.frames += 1;
    this.stats.fps = this.#finished.length > 1 && span > 0 ? ((this.#finished.length - 1) * 1000) / span : 0;
  }
}

function stopStream(stream, video) {
  for (const track of stream.getTracks()) track.stop();
  if (video.srcObject === stream) video.srcObject = null;
}

/**
 * Tells when the video has a frame not classified yet. With requestVideoFrameCallback it
 * counts presented frames, so a frame that arrived during the last classification is used at
 * once; elsewhere it waits one animation frame.
 */
class FrameClock {
  #video;
  #signal;
  #presented = 0;
  #used = 0;
  #wake = null;
  #handle = 0;

  constructor(video, signal) {
    this.#video = video;
    this.#signal = signal;
    this.rvfc = typeof video.requestVideoFrameCallback === 'function';
    if (this.rvfc) this.#watch();
    signal.addEventListener('abort', () => {
      if (this.rvfc) video.cancelVideoFrameCallback(this.#handle);
      this.#wake?.();
    }, { once: true });
  }

  #watch() {
    this.#handle = this.#video.requestVideoFrameCallback((_now, meta) => {
      this.#presented = meta.presentedFrames;
      this.#wake?.();
      if (!this.#signal.aborted) this.#watch();
    });
  }

  /** Resolve when a frame newer than the last one taken is showing (or on abort). */
  async next() {
    if (this.#signal.aborted) return;
    if (!this.rvfc) {
      await new Promise((resolve) => {
        this.#wake = resolve;
        requestAnimationFrame(() => resolve());
      });
    } else if (this.#presented <= this.#used) {
      await new Promise((resolve) => {
        this.#wake = resolve;
      });
    }
    this.#wake = null;
    this.#used = this.#presented;
  }
}

function delay(ms, signal) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Wire a toggle button to a camera loop: press to start, press again to stop. Keeps the
 * button's `aria-pressed` and text in step, and reports each frame.
 * @param {HTMLButtonElement} button
 * @param {{classify: Function}} classifier
 * @param {CameraOptions & {onState?: (running: boolean) => void, labels?: {start: string, stop: string}}} [options]
 * @returns {{start: () => Promise<CameraSession|null>, stop: () => void, readonly session: CameraSession|null}}
 */
export function bindCameraButton(button, classifier, options = {}) {
  const labels = options.labels ?? { start: 'Start camera', stop: 'Stop camera' };
  let session = null;
  let starting = null;
  let cancelled = false;
  const show = (running) => {
    button.setAttribute('aria-pressed', String(running));
    button.textContent = running ? labels.stop : labels.start;
    options.onState?.(running);
  };
  const onStop = () => {
    session = null;
    show(false);
    options.onStop?.();
  };
  const start = () => {
    if (session) return Promise.resolve(session);
    starting ??= (async () => {
      cancelled = false;
      button.disabled = true;
      try {
        const s = await startCamera(classifier, { ...options, onStop });
        session = s;
        show(true);
        if (cancelled) s.stop(); // stop() was called while the camera was opening
        return session;
      } catch (err) {
        options.onError?.(err);
        return null;
      } finally {
        starting = null;
        button.disabled = false;
      }
    })();
    return starting;
  };
  const stop = () => {
    cancelled = true;
    session?.stop();
  };
  button.addEventListener('click', () => (session ? stop() : start()));
  show(false);
  return {
    start,
    stop,
    get session() {
      return session;
    },
  };
}
