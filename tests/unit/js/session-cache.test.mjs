// Unit tests (node --test) for the LRU session cache.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SessionCache } from '../../../web/lib/session-cache.js';

const model = (id, bytes = 10) => ({ id, bytes });

test('a cached model is returned without creating it again', async () => {
  let created = 0;
  const cache = new SessionCache({ maxModels: 2 });
  const create = async () => ({ n: ++created });
  const first = await cache.acquire(model('a'), create);
  const again = await cache.acquire(model('a'), create);
  assert.equal(first.cached, false);
  assert.equal(again.cached, true);
  assert.equal(again.session, first.session);
  assert.equal(created, 1);
});

test('evicts the least recently used model past maxModels and releases it', async () => {
  const evicted = [];
  const cache = new SessionCache({ maxModels: 2, onEvict: (e) => evicted.push(e.id) });
  const create = async () => ({});
  await cache.acquire(model('a'), create);
  await cache.acquire(model('b'), create);
  await cache.acquire(model('a'), create); // a is now the most recent
  await cache.acquire(model('c'), create);
  assert.deepEqual(evicted, ['b']);
  assert.deepEqual(cache.stats().models, ['a', 'c']);
});

test('evicts by bytes but always keeps the newest model', async () => {
  const evicted = [];
  const cache = new SessionCache({ maxModels: 5, maxBytes: 25, onEvict: (e) => evicted.push(e.id) });
  const create = async () => ({});
  await cache.acquire(model('a', 10), create);
  await cache.acquire(model('b', 10), create);
  await cache.acquire(model('huge', 100), create);
  assert.deepEqual(evicted, ['a', 'b']);
  assert.deepEqual(cache.stats().models, ['huge']);
});

test('concurrent requests for one model create it once', async () => {
  let created = 0;
  const cache = new SessionCache();
  const create = () => new Promise((resolve) => setTimeout(() => resolve({ n: ++created }), 10));
  const [x, y] = await Promise.all([cache.acquire(model('a'), create), cache.acquire(model('a'), create)]);
  assert.equal(created, 1);
  assert.equal(x.session, y.session);
});

test('a failed load is not cached and the previous models stay', async () => {
  const cache = new SessionCache();
  await cache.acquire(model('good'), async () => ({}));
  await assert.rejects(cache.acquire(model('bad'), async () => { throw new Error('integrity'); }), /integrity/);
  assert.deepEqual(cache.stats().models, ['good']);
  const retry = await cache.acquire(model('bad'), async () => ({ ok: true }));
  assert.equal(retry.cached, false);
});

test('rejects nonsensical bounds', () => {
  assert.throws(() => new SessionCache({ maxModels: 0 }), RangeError);
  assert.throws(() => new SessionCache({ maxBytes: 0 }), RangeError);
});

test('remove drops a cached model and releases it; an unknown id is a no-op', async () => {
  const evicted = [];
  const cache = new SessionCache({ maxModels: 3, onEvict: (e) => evicted.push(e.id) });
  await cache.acquire(model('a'), async () => ({}));
  await cache.acquire(model('b'), async () => ({}));
  cache.remove('a');
  cache.remove('never-loaded');
  assert.deepEqual(evicted, ['a']);
  assert.deepEqual(cache.stats().models, ['b']);
  assert.equal((await cache.acquire(model('a'), async () => ({}))).cached, false);
});
