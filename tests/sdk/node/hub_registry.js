// Official Node SDK (azure-iothub 1.16.6) against `hubdeck sim` on port 443: registry,
// statistics, twin read and query. Usage: node hub_registry.js READY_FILE (NODE_EXTRA_CA_CERTS set).
'use strict';

const assert = require('assert');
const fs = require('fs');
const { Registry } = require('azure-iothub');

const KEY_A = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const KEY_B = 'HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=';

const { expectStatus } = require('./lib/expect');

async function queryAll(registry, sql, pageSize) {
  const query = registry.createQuery(sql, pageSize);
  const twins = [];
  let pages = 0;
  do {
    const result = await query.nextAsTwin();
    twins.push(...result.result);
    pages += 1;
  } while (query.hasMoreResults);
  return { twins, pages };
}

async function main() {
  const ready = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  assert.strictEqual(ready.hostName, 'localhost', 'the Node SDK only reaches port 443');
  const registry = Registry.fromConnectionString(ready.connectionStrings.iothubowner);
  const fleet = ready.deviceCount;

  // create without keys (the SDK sends empty keys) and with keys
  const generated = (await registry.create({ deviceId: 'node-gen' })).responseBody;
  assert.strictEqual(generated.authentication.symmetricKey.primaryKey.length, 44);
  const withKeys = (await registry.create({ deviceId: 'node-keys', status: 'enabled',
    authentication: { symmetricKey: { primaryKey: KEY_A, secondaryKey: KEY_B } } })).responseBody;
  assert.strictEqual(withKeys.authentication.symmetricKey.primaryKey, KEY_A);
  const conflict = await expectStatus(409, registry.create({ deviceId: 'node-keys' }));
  assert.strictEqual(conflict.constructor.name, 'DeviceAlreadyExistsError');

  // get, forced update, etag-checked bulk update with a stale etag
  const fetched = (await registry.get('node-keys')).responseBody;
  assert.strictEqual(fetched.etag, withKeys.etag);
  const updated = (await registry.update({ deviceId: 'node-keys', status: 'disabled', statusReason: 'lost',
    authentication: { symmetricKey: { primaryKey: KEY_A, secondaryKey: KEY_B } } })).responseBody;
  assert.strictEqual(updated.status, 'disabled');
  assert.notStrictEqual(updated.etag, fetched.etag);
  const staleError = await expectStatus(400, registry.updateDevices([{ deviceId: 'node-keys', status: 'enabled', etag: fetched.etag }], false));
  const staleResult = JSON.parse(staleError.responseBody);
  assert.strictEqual(staleResult.errors[0].errorCode, 'PreconditionFailed');
  const fresh = (await registry.updateDevices([{ deviceId: 'node-keys', status: 'enabled', etag: updated.etag,
    authentication: { symmetricKey: { primaryKey: KEY_A, secondaryKey: KEY_B } } }], false)).responseBody;
  assert.strictEqual(fresh.isSuccessful, true);
  assert.strictEqual((await registry.get('node-keys')).responseBody.status, 'enabled');

  // list and bulk
  const listed = (await registry.list()).responseBody;
  assert.strictEqual(listed.length, Math.min(1000, fleet + 2));
  const added = (await registry.addDevices([{ deviceId: 'node-bulk-0' }, { deviceId: 'node-bulk-1' }, { deviceId: 'node-bulk-2' }])).responseBody;
  assert.strictEqual(added.isSuccessful, true);

  // statistics and twin
  const statistics = (await registry.getRegistryStatistics()).responseBody;
  assert.strictEqual(statistics.totalDeviceCount, fleet + 5);
  const twin = (await registry.getTwin('node-gen')).responseBody;
  assert.strictEqual(twin.deviceId, 'node-gen');
  assert.strictEqual(twin.etag, 'AAAAAAAAAAE=');
  assert.strictEqual(twin.properties.desired.$version, 1);
  const fleetTwin = (await registry.getTwin(listed[0].deviceId)).responseBody;
  assert.ok(fleetTwin.tags.building >= 40);

  // query with page size 2 across several pages, then everything
  const ours = await queryAll(registry, "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'node-')", 2);
  assert.strictEqual(ours.pages, 3);
  assert.deepStrictEqual(ours.twins.map((t) => t.deviceId).sort(), ['node-bulk-0', 'node-bulk-1', 'node-bulk-2', 'node-gen', 'node-keys']);
  const all = await queryAll(registry, 'SELECT * FROM devices', 100);
  assert.strictEqual(new Set(all.twins.map((t) => t.deviceId)).size, fleet + 5);
  const counted = await registry.createQuery("SELECT COUNT() AS n FROM devices WHERE STARTSWITH(deviceId, 'node-')").next();
  assert.deepStrictEqual(counted.result, [{ n: 5 }]);
  await expectStatus(400, registry.createQuery('SELECT * FORM devices').next());

  // delete (the SDK forces "*"), bulk remove, 404 after
  await registry.delete('node-gen');
  await expectStatus(404, registry.get('node-gen'));
  const removed = (await registry.removeDevices([{ deviceId: 'node-keys' }, { deviceId: 'node-bulk-0' }, { deviceId: 'node-bulk-1' }, { deviceId: 'node-bulk-2' }], true)).responseBody;
  assert.strictEqual(removed.isSuccessful, true);
  assert.strictEqual((await registry.getRegistryStatistics()).responseBody.totalDeviceCount, fleet);
  console.log('node azure-iothub 1.16.6: registry, statistics, twin and query conformance passed');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
