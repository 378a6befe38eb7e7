// Official Node DPS service SDK (azure-iot-provisioning-service 1.11.2) against `hubdeck sim` on
// port 443: individual enrollments and enrollment groups (create, get, etag update, stale etag,
// delete), attestation mechanisms, paged queries, bulk operations, device registration states.
// A device is registered with azure-iot-provisioning-device 1.9.1 (HTTP) to get a registration
// record; it is removed from the hub again at the end.
// Usage: node dps_service.js READY_FILE (NODE_EXTRA_CA_CERTS set).
'use strict';

const assert = require('assert');
const fs = require('fs');
const { ProvisioningServiceClient } = require('azure-iot-provisioning-service');
const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const { Http } = require('azure-iot-provisioning-device-http');
const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');
const { expectStatus } = require('./lib/expect');
const { Registry } = require('azure-iothub');

const KEY_A = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const KEY_B = 'HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=';

function symmetricKey(primaryKey, secondaryKey) {
  return { type: 'symmetricKey', symmetricKey: { primaryKey: primaryKey || '', secondaryKey: secondaryKey || '' } };
}

function enrollment(registrationId, extra) {
  return Object.assign({
    registrationId,
    attestation: symmetricKey(),
    provisioningStatus: 'enabled',
    reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: true },
    allocationPolicy: 'hashed',
    capabilities: { iotEdge: false },
  }, extra || {});
}

function assertErrorBody(error, what) {
  const body = JSON.parse(error.responseBody);
  assert.match(String(body.errorCode), /^\d{6}$/, `${what}: errorCode ${body.errorCode}`);
  assert.ok(body.trackingId && body.message && body.timestampUtc, `${what}: error body ${error.responseBody}`);
}

// The promise form of runBulkEnrollmentOperation never settles (SDK bug): use the callback form.
function bulk(client, operation) {
  return new Promise((resolve, reject) => {
    client.runBulkEnrollmentOperation(operation, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

// Query.next() without an argument drops the continuation token (SDK bug): pass it explicitly.
async function queryAll(query, pageSize) {
  const items = [];
  let pages = 0;
  let token;
  do {
    const page = (await query.next(token)).responseBody;
    assert.ok(Array.isArray(page), 'a query page is a bare array');
    assert.ok(page.length <= pageSize, `page ${pages + 1} has ${page.length} items, page size ${pageSize}`);
    items.push(...page);
    pages += 1;
    token = query.continuationToken;
    assert.strictEqual(query.hasMoreResults, token !== undefined);
    assert.ok(pages < 1000, 'the query never ends');
  } while (token);
  return { items, pages };
}

async function main() {
  const ready = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const client = ProvisioningServiceClient.fromConnectionString(ready.dps.connectionStrings.provisioningserviceowner);
  const east = ready.hubs[0];

  // --- individual enrollment: create (keys generated), get (keys stripped), etag update, stale etag, delete
  const created = (await client.createOrUpdateIndividualEnrollment(enrollment('reg-node-svc-1', {
    deviceId: 'dev-node-svc-1',
    initialTwin: { tags: { env: 'test' }, properties: { desired: { color: 'blue' } } },
  }))).responseBody;
  console.log('individual enrollment created, keys generated');
  assert.strictEqual(created.registrationId, 'reg-node-svc-1');
  assert.strictEqual(created.deviceId, 'dev-node-svc-1');
  const generated = created.attestation.symmetricKey;
  // DPS generates 64-byte keys (88 base64 characters); the service accepts 16 to 64 bytes.
  for (const key of [generated.primaryKey, generated.secondaryKey]) {
    const bytes = Buffer.from(key, 'base64');
    assert.ok(bytes.length >= 16 && bytes.length <= 64 && bytes.toString('base64') === key, `generated key ${key}`);
  }
  assert.notStrictEqual(generated.primaryKey, generated.secondaryKey);
  assert.ok(created.etag && created.createdDateTimeUtc && created.lastUpdatedDateTimeUtc, JSON.stringify(created));

  const fetched = (await client.getIndividualEnrollment('reg-node-svc-1')).responseBody;
  console.log('get strips keys, same etag');
  assert.strictEqual(fetched.etag, created.etag);
  assert.strictEqual(fetched.attestation.type, 'symmetricKey');
  const strippedKeys = fetched.attestation.symmetricKey || {};
  assert.ok(!strippedKeys.primaryKey && !strippedKeys.secondaryKey, `get must not return keys: ${JSON.stringify(fetched.attestation)}`);
  assert.deepStrictEqual(fetched.initialTwin.tags, { env: 'test' });

  const mechanism = (await client.getIndividualEnrollmentAttestationMechanism('reg-node-svc-1')).responseBody;
  console.log('attestation mechanism returns the keys');
  assert.strictEqual(mechanism.type, 'symmetricKey');
  assert.strictEqual(mechanism.symmetricKey.primaryKey, generated.primaryKey);
  assert.strictEqual(mechanism.symmetricKey.secondaryKey, generated.secondaryKey);

  const staleEtag = created.etag;
  const changed = Object.assign({}, created, { provisioningStatus: 'disabled' });
  const updated = (await client.createOrUpdateIndividualEnrollment(changed)).responseBody;
  console.log('update with etag');
  assert.strictEqual(updated.provisioningStatus, 'disabled');
  assert.notStrictEqual(updated.etag, staleEtag);
  assert.strictEqual(updated.createdDateTimeUtc, created.createdDateTimeUtc);

  const stale = await expectStatus(412,
    client.createOrUpdateIndividualEnrollment(Object.assign({}, created, { provisioningStatus: 'enabled' })),
    'update with a stale etag');
  console.log('stale etag refused with 412');
  assert.strictEqual(stale.constructor.name, 'InvalidEtagError');
  assertErrorBody(stale, 'stale etag');
  assert.strictEqual((await client.getIndividualEnrollment('reg-node-svc-1')).responseBody.provisioningStatus, 'disabled');

  await expectStatus(412, client.deleteIndividualEnrollment('reg-node-svc-1', staleEtag), 'delete with a stale etag');
  await client.deleteIndividualEnrollment(updated);
  const gone = await expectStatus(404, client.getIndividualEnrollment('reg-node-svc-1'), 'get after delete');
  assertErrorBody(gone, 'get after delete');
  console.log('delete with etag; stale etag refused; 404 afterwards');

  // --- enrollment group
  const group = (await client.createOrUpdateEnrollmentGroup({
    enrollmentGroupId: 'grp-node-svc-1',
    attestation: symmetricKey(KEY_A, KEY_B),
    provisioningStatus: 'enabled',
    reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: true },
    allocationPolicy: 'hashed',
    initialTwin: { tags: { fleet: 'node' }, properties: { desired: {} } },
  })).responseBody;
  console.log('enrollment group created with given keys');
  assert.strictEqual(group.enrollmentGroupId, 'grp-node-svc-1');
  assert.strictEqual(group.attestation.symmetricKey.primaryKey, KEY_A);
  assert.ok(group.etag);
  const groupFetched = (await client.getEnrollmentGroup('grp-node-svc-1')).responseBody;
  assert.strictEqual(groupFetched.etag, group.etag);
  const groupStripped = groupFetched.attestation.symmetricKey || {};
  assert.ok(!groupStripped.primaryKey && !groupStripped.secondaryKey, `group get must not return keys: ${JSON.stringify(groupFetched.attestation)}`);
  const groupMechanism = (await client.getEnrollmentGroupAttestationMechanism('grp-node-svc-1')).responseBody;
  assert.strictEqual(groupMechanism.symmetricKey.primaryKey, KEY_A);
  assert.strictEqual(groupMechanism.symmetricKey.secondaryKey, KEY_B);
  console.log('group get strips keys; group attestation mechanism returns them');

  const groupUpdated = (await client.createOrUpdateEnrollmentGroup(Object.assign({}, group, { provisioningStatus: 'disabled' }))).responseBody;
  assert.strictEqual(groupUpdated.provisioningStatus, 'disabled');
  assert.notStrictEqual(groupUpdated.etag, group.etag);
  const groupStale = await expectStatus(412, client.createOrUpdateEnrollmentGroup(group), 'group update with a stale etag');
  assert.strictEqual(groupStale.constructor.name, 'InvalidEtagError');
  await expectStatus(412, client.deleteEnrollmentGroup('grp-node-svc-1', group.etag), 'group delete with a stale etag');
  await client.deleteEnrollmentGroup('grp-node-svc-1', groupUpdated.etag);
  await expectStatus(404, client.getEnrollmentGroup('grp-node-svc-1'), 'group get after delete');
  console.log('group update with etag, stale etag 412, delete, 404 afterwards');

  // --- bulk: create, per-item error, update, delete
  const bulkIds = ['reg-node-bulk-1', 'reg-node-bulk-2', 'reg-node-bulk-3', 'reg-node-bulk-4', 'reg-node-bulk-5'];
  const createResult = await bulk(client, { mode: 'create', enrollments: bulkIds.map((id) => enrollment(id)) });
  console.log('bulk create of 5');
  assert.strictEqual(createResult.isSuccessful, true, JSON.stringify(createResult));
  assert.deepStrictEqual(createResult.errors || [], []);
  for (const id of bulkIds) {
    assert.strictEqual((await client.getIndividualEnrollment(id)).responseBody.registrationId, id);
  }

  const duplicate = await bulk(client, { mode: 'create', enrollments: [enrollment('reg-node-bulk-1'), enrollment('reg-node-bulk-6')] });
  console.log('bulk create of an existing id reports a per-item error');
  assert.strictEqual(duplicate.isSuccessful, false, JSON.stringify(duplicate));
  assert.strictEqual(duplicate.errors.length, 1, JSON.stringify(duplicate));
  assert.strictEqual(duplicate.errors[0].registrationId, 'reg-node-bulk-1');
  assert.ok(duplicate.errors[0].errorCode, JSON.stringify(duplicate.errors[0]));

  const current = [];
  for (const id of bulkIds) current.push((await client.getIndividualEnrollment(id)).responseBody);
  const updateResult = await bulk(client, {
    mode: 'update',
    enrollments: current.map((item) => Object.assign({}, item, { provisioningStatus: 'disabled' })),
  });
  assert.strictEqual(updateResult.isSuccessful, true, JSON.stringify(updateResult));
  for (const id of bulkIds) {
    assert.strictEqual((await client.getIndividualEnrollment(id)).responseBody.provisioningStatus, 'disabled', id);
  }
  console.log('bulk update applied');

  const tooMany = Array.from({ length: 11 }, (_, index) => enrollment(`reg-node-bulk-x${index}`));
  await expectStatus(400, bulk(client, { mode: 'create', enrollments: tooMany }), 'bulk of 11 items');
  console.log('bulk of 11 items refused with 400');

  // --- query, page size 2, continuation token passed explicitly
  const all = await queryAll(client.createIndividualEnrollmentQuery({ query: 'SELECT * FROM enrollments' }, 2), 2);
  const ids = all.items.map((item) => item.registrationId);
  console.log(`enrollment query: ${ids.length} items in ${all.pages} pages`);
  assert.strictEqual(new Set(ids).size, ids.length, `an enrollment was returned twice: ${ids}`);
  for (const id of bulkIds.concat(['reg-node-bulk-6', 'b43-lobby-lock-01'])) {
    assert.ok(ids.includes(id), `${id} missing from the query`);
  }
  assert.ok(!ids.includes('reg-node-svc-1'), 'a deleted enrollment is still returned');
  assert.strictEqual(all.pages, Math.ceil(ids.length / 2));
  for (const item of all.items) {
    const keys = (item.attestation && item.attestation.symmetricKey) || {};
    assert.ok(!keys.primaryKey, `query must not return keys (${item.registrationId})`);
  }
  const groups = await queryAll(client.createEnrollmentGroupQuery({ query: 'SELECT * FROM enrollmentGroups' }, 2), 2);
  const groupIds = groups.items.map((item) => item.enrollmentGroupId);
  assert.strictEqual(new Set(groupIds).size, groupIds.length, `a group was returned twice: ${groupIds}`);
  for (const id of ['building-43-locks', 'lobby-thermostats', 'field-kits']) assert.ok(groupIds.includes(id), `${id} missing`);
  console.log(`group query: ${groupIds.length} items in ${groups.pages} pages`);

  const deleteResult = await bulk(client, {
    mode: 'delete',
    enrollments: bulkIds.concat(['reg-node-bulk-6']).map((id) => ({ registrationId: id, attestation: symmetricKey() })),
  });
  assert.strictEqual(deleteResult.isSuccessful, true, JSON.stringify(deleteResult));
  for (const id of bulkIds.concat(['reg-node-bulk-6'])) {
    await expectStatus(404, client.getIndividualEnrollment(id), `get ${id} after bulk delete`);
  }
  console.log('bulk delete removed all');

  // --- registration state: register a device, read, query by group, delete
  await client.createOrUpdateIndividualEnrollment(enrollment('reg-node-svc-reg', {
    deviceId: 'dev-node-svc-reg',
    attestation: symmetricKey(KEY_A, KEY_B),
    allocationPolicy: 'static',
    iotHubs: [east.hostName],
  }));
  const device = ProvisioningDeviceClient.create(ready.dps.hostName, ready.dps.idScope, new Http(),
    new SymmetricKeySecurityClient('reg-node-svc-reg', KEY_A));
  const assigned = await device.register();
  assert.strictEqual(assigned.assignedHub, east.hostName);
  assert.strictEqual(assigned.deviceId, 'dev-node-svc-reg');
  const state = (await client.getDeviceRegistrationState('reg-node-svc-reg')).responseBody;
  console.log('registration state read after a device registration');
  assert.strictEqual(state.registrationId, 'reg-node-svc-reg');
  assert.strictEqual(state.deviceId, 'dev-node-svc-reg');
  assert.strictEqual(state.assignedHub, east.hostName);
  assert.strictEqual(state.status, 'assigned');
  assert.ok(state.etag && state.createdDateTimeUtc, JSON.stringify(state));

  const seededQuery = client.createEnrollmentGroupDeviceRegistrationStateQuery({ query: 'SELECT * FROM enrollments' }, 'building-43-locks', 2);
  const seeded = await queryAll(seededQuery, 2);
  const seededIds = seeded.items.map((item) => item.registrationId);
  assert.strictEqual(new Set(seededIds).size, seededIds.length);
  assert.ok(!seededIds.includes('reg-node-svc-reg'), 'an individual registration appears under a group');
  console.log(`group registration query: ${seededIds.length} records in ${seeded.pages} pages`);

  await expectStatus(412, client.deleteDeviceRegistrationState('reg-node-svc-reg', '"stale"'), 'registration delete with a stale etag');
  await client.deleteDeviceRegistrationState(state);
  await expectStatus(404, client.getDeviceRegistrationState('reg-node-svc-reg'), 'registration get after delete');
  const eastRegistry = Registry.fromConnectionString(east.connectionStrings.iothubowner);
  assert.strictEqual((await eastRegistry.get('dev-node-svc-reg')).responseBody.deviceId, 'dev-node-svc-reg');
  console.log('registration state deleted (stale etag refused); the hub identity stays');

  // DPS has no record but the identity exists: reprovisionedToInitialAssignment needs api-version
  // 2019-04-15 or later, and the Node device SDK sends 2019-03-31, so initialAssignment it is.
  const again = await device.register();
  console.log(`registered again without a record: ${again.substatus}`);
  assert.strictEqual(again.assignedHub, east.hostName);
  assert.strictEqual(again.substatus, 'initialAssignment');
  await client.deleteDeviceRegistrationState('reg-node-svc-reg');

  await client.deleteIndividualEnrollment('reg-node-svc-reg');
  await eastRegistry.delete('dev-node-svc-reg');
  console.log('node azure-iot-provisioning-service 1.11.2: DPS service conformance passed');
}

main().catch((error) => {
  console.error(error);
  if (error && error.responseBody) console.error('response body:', error.responseBody);
  process.exit(1);
});
