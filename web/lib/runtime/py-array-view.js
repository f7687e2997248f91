/**
 * A long-lived JS view of a numpy array that Python owns and reuses: a model's input tensor
 * or its logits buffer. Taking a fresh PyProxy and buffer per image cost about 0.25 ms a
 * classification; this keeps one of each per array.
 *
 * Pyodide's memory growth detaches every view of its heap, so `data` takes the view again
 * when its buffer was detached. Read `data` after the last Python call and use it at once:
 * any later Python call may grow the heap.
 */
export class PyArrayView {
  /** @param {object} proxy a PyProxy of a C-contiguous numpy array (owned by this view) */
  constructor(proxy) {
    this.proxy = proxy;
    this.buffer = proxy.getBuffer();
  }

  /** The typed array over the numpy array's memory, valid until Python next runs. */
  get data() {
    if (this.buffer.data.byteLength === 0) {
      this.buffer.release();
      this.buffer = this.proxy.getBuffer();
    }
    return this.buffer.data;
  }

  /** Let go of the view and the PyProxy (the array itself belongs to Python). */
  release() {
    this.buffer.release();
    this.proxy.destroy();
  }
}
