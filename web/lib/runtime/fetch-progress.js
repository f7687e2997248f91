/**
 * Byte-level download progress for everything the worker fetches, including the fetches
 * that Pyodide and onnxruntime-web make internally.
 *
 * The response handed back is the original one (so streaming WebAssembly compilation and
 * its code cache keep working); bytes are counted on a clone of its body.
 */

/**
 * Replace the worker's `fetch` with one that reports body bytes as they arrive.
 * @param {(url: string, bytes: number) => void} onBytes called per received chunk
 * @param {(url: string) => boolean} [shouldCount] which URLs to count
 * @returns {() => void} restores the original fetch
 */
export function countFetchedBytes(onBytes, shouldCount = () => true) {
  const original = globalThis.fetch;
  globalThis.fetch = async function countingFetch(input, init) {
    const response = await original.call(globalThis, input, init);
    const url = response.url || String(input?.url ?? input);
    if (response.body && response.ok && shouldCount(url)) {
      drain(response.clone().body, (n) => onBytes(url, n));
    }
    return response;
  };
  return () => {
    globalThis.fetch = original;
  };
}

async function drain(body, onChunk) {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onChunk(value.byteLength);
    }
  } catch {
    // The original consumer saw the same failure and reports it.
  }
}

/**
 * Fetch a URL to bytes, failing with a message that names the file.
 * @param {string} url
 * @param {{signal?: AbortSignal}} [opts]
 * @returns {Promise<Uint8Array>}
 */
export async function fetchBytes(url, { signal } = {}) {
  let response;
  try {
    response = await fetch(url, { signal });
  } catch (err) {
    throw new Error(`cannot fetch ${url}: ${err.message}`);
  }
  if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Hex sha256 of bytes (SubtleCrypto).
 * @param {BufferSource} bytes
 * @returns {Promise<string>}
 */
export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}
