// Unit tests (node --test) for the defaults and limits (web/lib/config.js) and for the
// declared messages (web/lib/messages.js) that both ends of the protocol enforce.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DEFAULTS, LIMITS, checkPreprocess, resolveOptions, threadPolicy } from '../../../web/lib/config.js';
import { INFERENCE_REQUESTS, ORT_REQUESTS } from '../../../web/lib/messages.js';
import { WorkerChannel, serveProtocol } from '../../../web/lib/protocol.js';

test('resolveOptions fills every default and keeps what the caller set', () => {
  const resolved = resolveOptions({ model: 'm', topK: 3, cache: { maxModels: 1 }, threads: undefined });
  assert.equal(resolved.model, 'm');
  assert.equal(resolved.topK, 3);
  assert.equal(resolved.preprocess, DEFAULTS.preprocess);
  assert.equal(resolved.provider, 'wasm');
  assert.deepEqual(resolved.cache, { maxModels: 1, maxBytes: DEFAULTS.cache.maxBytes });
  assert.equal(resolved.debug, false);
  assert.deepEqual(resolveOptions({}).cache, DEFAULTS.cache);
});

test('resolveOptions refuses a bad topK or preprocessing mode, naming the value', () => {
  for (const topK of [0, -1, 2.5, '5', null]) {
    assert.throws(() => resolveOptions({ topK }), (err) => err.code === 'E_INPUT' && err.message.includes(`got ${topK}`));
  }
  assert.throws(() => resolveOptions({ preprocess: 'quick' }), { code: 'E_INPUT', message: "preprocess must be 'fast' or 'exact', got quick" });
  assert.doesNotThrow(() => checkPreprocess('exact'));
});

test('threadPolicy clamps to the cores of an isolated page and to 1 otherwise, and says why', () => {
  assert.deepEqual(threadPolicy(undefined, { isolated: true, cores: 2 }), { threads: 2, available: 2, note: null });
  assert.deepEqual(threadPolicy(undefined, { isolated: true, cores: 16 }), { threads: LIMITS.maxThreads, available: LIMITS.maxThreads, note: null });
  assert.deepEqual(threadPolicy(1, { isolated: true, cores: 2 }), { threads: 1, available: 2, note: null });
  const lowered = threadPolicy(4, { isolated: false, cores: 8 });
  assert.equal(lowered.threads, 1);
  assert.equal(lowered.note, '4 threads requested; 1 available (page is not cross-origin isolated)');
  assert.equal(threadPolicy(8, { isolated: true, cores: 2 }).note, '8 threads requested; 2 available (hardware)');
});

test('a worker serves exactly its declared requests', () => {
  const { port1 } = new MessageChannel();
  const handlers = Object.fromEntries(ORT_REQUESTS.map((name) => [name, () => null]));
  assert.doesNotThrow(() => serveProtocol(handlers, ORT_REQUESTS, port1));
  assert.throws(() => serveProtocol({ ...handlers, extra: () => null }, ORT_REQUESTS, port1), /do not match the declared requests/);
  const { load, ...missing } = handlers;
  assert.throws(() => serveProtocol(missing, ORT_REQUESTS, port1), /do not match/);
  port1.close();
});

test('a client sends only declared requests, and a served request answers', async () => {
  const { port1, port2 } = new MessageChannel();
  serveProtocol({ ...Object.fromEntries(INFERENCE_REQUESTS.map((n) => [n, () => n])), stats: () => ({ ok: 1 }) }, INFERENCE_REQUESTS, port2);
  const channel = new WorkerChannel(port1, INFERENCE_REQUESTS);
  await assert.rejects(channel.request('load', {}), { code: 'E_INTERNAL', message: 'undeclared request type load' });
  assert.deepEqual(await channel.request('stats', {}), { ok: 1 });
  channel.close();
  port2.close();
});
