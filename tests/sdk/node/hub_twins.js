// Official Node SDK (azure-iothub 1.16.6) against `hubdeck sim` on port 443: Registry.getTwin,
// Twin.update (PATCH with the twin's etag), Registry.updateTwin with a stale etag.
// Usage: node hub_twins.js READY_FILE (NODE_EXTRA_CA_CERTS set).
'use strict';

const assert = require('assert');
const fs = require('fs');
const { Registry } = require('azure-iothub');

async function main() {
  const ready = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const registry = Registry.fromConnectionString(ready.connectionStrings.iothubowner);
  await registry.create({ deviceId: 'node-twin' });

  const twin = (await registry.getTwin('node-twin')).responseBody;
  assert.strictEqual(twin.deviceId, 'node-twin');
  assert.strictEqual(twin.etag, 'AAAAAAAAAAE=');
  const staleEtag = twin.etag;

  // Twin.update resolves to { result: <the same Twin, refreshed from the answer>, message }.
  const updated = (await twin.update({ tags: { building: 43 }, properties: { desired: { floor: 3 } } })).result;
  assert.strictEqual(updated.tags.building, 43);
  assert.strictEqual(updated.properties.desired.floor, 3);
  assert.strictEqual(updated.properties.desired.$version, 2);
  assert.notStrictEqual(updated.etag, staleEtag);

  try {
    await registry.updateTwin('node-twin', { properties: { desired: { floor: 4 } } }, staleEtag);
    throw new Error('a stale etag must be refused');
  } catch (error) {
    assert.strictEqual(error.response && error.response.statusCode, 412, error.message);
    assert.strictEqual(error.constructor.name, 'InvalidEtagError');
  }

  const fresh = (await registry.getTwin('node-twin')).responseBody;
  const cleared = (await registry.updateTwin('node-twin', { properties: { desired: { floor: null } } }, fresh.etag)).responseBody;
  assert.strictEqual(cleared.properties.desired.floor, undefined);
  await registry.delete('node-twin');
  console.log('node azure-iothub 1.16.6: twin conformance passed');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
