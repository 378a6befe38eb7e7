// Official Node DPS device SDK (azure-iot-provisioning-device 1.9.1 + -http 1.9.1 +
// azure-iot-security-symmetric-key 1.8.2) against `hubdeck sim` on port 443, with enrollments made
// by azure-iot-provisioning-service 1.11.2: registration through an individual enrollment and a
// group (derived key), a wrong key, re-provisioning under migrate / reset / never, and a disabled
// enrollment. The east hub is checked with azure-iothub 1.16.6; the west hub (another port, which
// the Node SDKs cannot reach) with raw HTTPS requests signed with its iothubowner key.
// Usage: node dps_device.js READY_FILE (NODE_EXTRA_CA_CERTS set).
'use strict';

const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const { ProvisioningServiceClient } = require('azure-iot-provisioning-service');
const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const { Http } = require('azure-iot-provisioning-device-http');
const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');
const { Registry } = require('azure-iothub');
const { expectStatus } = require('./lib/expect');

const KEY_A = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const KEY_B = 'HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=';
const INITIAL_TWIN = { tags: { site: 'lab', ring: 1 }, properties: { desired: { interval: 30 } } };

function parseConnectionString(text) {
  return Object.fromEntries(text.split(';').map((part) => {
    const at = part.indexOf('=');
    return [part.slice(0, at), part.slice(at + 1)];
  }));
}

// A hub reached without the SDK: hostName may carry a port ("localhost:444").
function rawHub(hub) {
  const cs = parseConnectionString(hub.connectionStrings.iothubowner);
  const [host, port] = cs.HostName.split(':');
  const sas = () => {
    const sr = encodeURIComponent(cs.HostName);
    const se = Math.floor(Date.now() / 1000) + 3600;
    const sig = crypto.createHmac('sha256', Buffer.from(cs.SharedAccessKey, 'base64')).update(`${sr}\n${se}`).digest('base64');
    return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=${cs.SharedAccessKeyName}`;
  };
  const call = (method, path, body) => new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = { Authorization: sas(), 'If-Match': '*' };
    if (payload) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
    const request = https.request({ host, port: Number(port || 443), method, path: `${path}?api-version=2021-04-12`, headers }, (response) => {
      let text = '';
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, body: text ? JSON.parse(text) : undefined }));
    });
    request.on('error', reject);
    request.end(payload);
  });
  return {
    getDevice: (id) => call('GET', `/devices/${encodeURIComponent(id)}`),
    getTwin: (id) => call('GET', `/twins/${encodeURIComponent(id)}`),
    patchTwin: (id, patch) => call('PATCH', `/twins/${encodeURIComponent(id)}`, patch),
    deleteDevice: (id) => call('DELETE', `/devices/${encodeURIComponent(id)}`),
  };
}

function withoutMetadata(value) {
  return Object.fromEntries(Object.entries(value || {}).filter(([key]) => !key.startsWith('$')));
}

function derivedKey(groupKey, registrationId) {
  return crypto.createHmac('sha256', Buffer.from(groupKey, 'base64')).update(registrationId).digest('base64');
}

function register(ready, registrationId, key) {
  const client = ProvisioningDeviceClient.create(ready.dps.hostName, ready.dps.idScope, new Http(),
    new SymmetricKeySecurityClient(registrationId, key));
  return client.register();
}

async function setPolicy(service, registrationId, hubHostName, updateHubAssignment, migrateDeviceData) {
  const current = (await service.getIndividualEnrollment(registrationId)).responseBody;
  const next = Object.assign({}, current, {
    allocationPolicy: 'static',
    iotHubs: [hubHostName],
    reprovisionPolicy: { updateHubAssignment, migrateDeviceData },
  });
  // get strips the keys, so the update sends them again
  next.attestation = { type: 'symmetricKey', symmetricKey: { primaryKey: KEY_A, secondaryKey: KEY_B } };
  const updated = (await service.createOrUpdateIndividualEnrollment(next)).responseBody;
  assert.deepStrictEqual(updated.reprovisionPolicy, { updateHubAssignment, migrateDeviceData });
  assert.deepStrictEqual(updated.iotHubs, [hubHostName]);
}

async function main() {
  const ready = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const [east, west] = ready.hubs;
  const service = ProvisioningServiceClient.fromConnectionString(ready.dps.connectionStrings.provisioningserviceowner);
  const eastRegistry = Registry.fromConnectionString(east.connectionStrings.iothubowner);
  const westRaw = rawHub(west);
  const started = Date.now();

  // (a) individual enrollment, static to the east hub, with an initial twin
  await service.createOrUpdateIndividualEnrollment({
    registrationId: 'reg-node-dev-1',
    deviceId: 'dev-node-dev-1',
    attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY_A, secondaryKey: KEY_B } },
    provisioningStatus: 'enabled',
    reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: true },
    allocationPolicy: 'static',
    iotHubs: [east.hostName],
    initialTwin: INITIAL_TWIN,
    capabilities: { iotEdge: false },
  });
  const first = await register(ready, 'reg-node-dev-1', KEY_A);
  console.log(`(a) individual enrollment registered: ${first.assignedHub} / ${first.deviceId} / ${first.substatus}`);
  assert.strictEqual(first.registrationId, 'reg-node-dev-1');
  assert.strictEqual(first.assignedHub, east.hostName);
  assert.strictEqual(first.deviceId, 'dev-node-dev-1');
  assert.strictEqual(first.status, 'assigned');
  assert.strictEqual(first.substatus, 'initialAssignment');
  const onEast = (await eastRegistry.get('dev-node-dev-1')).responseBody;
  assert.strictEqual(onEast.deviceId, 'dev-node-dev-1');
  const eastTwin = (await eastRegistry.getTwin('dev-node-dev-1')).responseBody;
  assert.deepStrictEqual(eastTwin.tags, INITIAL_TWIN.tags);
  assert.deepStrictEqual(withoutMetadata(eastTwin.properties.desired), INITIAL_TWIN.properties.desired);
  assert.strictEqual((await westRaw.getDevice('dev-node-dev-1')).status, 404, 'the device must not exist on west');
  const record = (await service.getDeviceRegistrationState('reg-node-dev-1')).responseBody;
  assert.strictEqual(record.assignedHub, east.hostName);
  assert.strictEqual(record.deviceId, 'dev-node-dev-1');
  console.log('(a) device exists on east with the initial twin; service-side record matches');

  // a wrong key is refused
  const wrongKey = crypto.randomBytes(32).toString('base64');
  let refused;
  try {
    await register(ready, 'reg-node-dev-1', wrongKey);
  } catch (error) {
    refused = error;
  }
  assert.ok(refused, 'registration with a wrong key must fail');
  assert.strictEqual(refused.constructor.name, 'UnauthorizedError', `${refused.constructor.name}: ${refused.message}`);
  console.log('registration with a wrong key refused (UnauthorizedError)');

  // (c) migrate: change the twin on east, move the enrollment to west with {true, true}
  await eastRegistry.updateTwin('dev-node-dev-1', { tags: { ring: 2 }, properties: { desired: { interval: 60 } } }, '*');
  await setPolicy(service, 'reg-node-dev-1', west.hostName, true, true);
  const migrated = await register(ready, 'reg-node-dev-1', KEY_A);
  console.log(`(c) migrate: ${migrated.assignedHub} / ${migrated.substatus}`);
  assert.strictEqual(migrated.assignedHub, west.hostName);
  assert.strictEqual(migrated.deviceId, 'dev-node-dev-1');
  assert.strictEqual(migrated.substatus, 'deviceDataMigrated');
  await expectStatus(404, eastRegistry.get('dev-node-dev-1'), 'device on east after migration');
  const westDevice = await westRaw.getDevice('dev-node-dev-1');
  assert.strictEqual(westDevice.status, 200, JSON.stringify(westDevice.body));
  const westTwin = await westRaw.getTwin('dev-node-dev-1');
  assert.strictEqual(westTwin.status, 200);
  assert.deepStrictEqual(westTwin.body.tags, { site: 'lab', ring: 2 });
  assert.deepStrictEqual(withoutMetadata(westTwin.body.properties.desired), { interval: 60 });
  console.log('(c) migrate: device gone from east, on west with the changed tags and desired properties');

  // (c) reset: same hub (west), {true, false}; the twin is changed first and comes back as the initial twin
  await setPolicy(service, 'reg-node-dev-1', west.hostName, true, false);
  const patched = await westRaw.patchTwin('dev-node-dev-1', { tags: { ring: 3, extra: 'x' }, properties: { desired: { interval: 90, mode: 'eco' } } });
  assert.strictEqual(patched.status, 200, JSON.stringify(patched.body));
  const reset = await register(ready, 'reg-node-dev-1', KEY_A);
  console.log(`(c) reset: ${reset.assignedHub} / ${reset.substatus}`);
  assert.strictEqual(reset.assignedHub, west.hostName);
  assert.strictEqual(reset.substatus, 'deviceDataReset');
  const resetTwin = await westRaw.getTwin('dev-node-dev-1');
  assert.strictEqual(resetTwin.status, 200);
  assert.deepStrictEqual(resetTwin.body.tags, INITIAL_TWIN.tags);
  assert.deepStrictEqual(withoutMetadata(resetTwin.body.properties.desired), INITIAL_TWIN.properties.desired);
  await expectStatus(404, eastRegistry.get('dev-node-dev-1'), 'device on east after reset');
  console.log('(c) reset: twin tags and desired properties equal the initial twin again');

  // (c) never: {false, false} and static to east; the device stays on west
  await setPolicy(service, 'reg-node-dev-1', east.hostName, false, false);
  const beforeNever = await westRaw.patchTwin('dev-node-dev-1', { tags: { ring: 4 }, properties: { desired: { interval: 120 } } });
  assert.strictEqual(beforeNever.status, 200, JSON.stringify(beforeNever.body));
  const never = await register(ready, 'reg-node-dev-1', KEY_A);
  console.log(`(c) never: ${never.assignedHub} / ${never.substatus}`);
  assert.strictEqual(never.assignedHub, west.hostName);
  assert.strictEqual(never.deviceId, 'dev-node-dev-1');
  assert.strictEqual(never.status, 'assigned');
  assert.strictEqual((await westRaw.getDevice('dev-node-dev-1')).status, 200);
  const neverTwin = await westRaw.getTwin('dev-node-dev-1');
  assert.deepStrictEqual(neverTwin.body.tags, { site: 'lab', ring: 4 }, 'never must leave the twin alone');
  assert.deepStrictEqual(withoutMetadata(neverTwin.body.properties.desired), { interval: 120 }, 'never must leave the twin alone');
  await expectStatus(404, eastRegistry.get('dev-node-dev-1'), 'device on east after never');
  const neverRecord = (await service.getDeviceRegistrationState('reg-node-dev-1')).responseBody;
  assert.strictEqual(neverRecord.assignedHub, west.hostName);
  console.log('(c) never: hub unchanged');

  // (b) enrollment group with a derived device key
  await service.createOrUpdateEnrollmentGroup({
    enrollmentGroupId: 'grp-node-dev-1',
    attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY_A, secondaryKey: KEY_B } },
    provisioningStatus: 'enabled',
    reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: true },
    allocationPolicy: 'static',
    iotHubs: [east.hostName],
    initialTwin: { tags: { fleet: 'grp-node' }, properties: { desired: { interval: 15 } } },
  });
  const viaGroup = await register(ready, 'reg-node-grp-1', derivedKey(KEY_A, 'reg-node-grp-1'));
  console.log(`(b) group registration: ${viaGroup.assignedHub} / ${viaGroup.deviceId} / group ${viaGroup.symmetricKey && viaGroup.symmetricKey.enrollmentGroupId}`);
  assert.strictEqual(viaGroup.assignedHub, east.hostName);
  assert.strictEqual(viaGroup.deviceId, 'reg-node-grp-1');
  assert.strictEqual(viaGroup.status, 'assigned');
  assert.strictEqual(viaGroup.symmetricKey && viaGroup.symmetricKey.enrollmentGroupId, 'grp-node-dev-1', JSON.stringify(viaGroup));
  const groupRecords = (await service.createEnrollmentGroupDeviceRegistrationStateQuery({ query: '*' }, 'grp-node-dev-1', 10).next(undefined)).responseBody;
  assert.deepStrictEqual(groupRecords.map((item) => item.registrationId), ['reg-node-grp-1']);
  const groupTwin = (await eastRegistry.getTwin('reg-node-grp-1')).responseBody;
  assert.deepStrictEqual(groupTwin.tags, { fleet: 'grp-node' });
  assert.deepStrictEqual(withoutMetadata(groupTwin.properties.desired), { interval: 15 });
  console.log('(b) device on east with the group initial twin; service-side group query lists it');
  let groupRefused;
  try {
    await register(ready, 'reg-node-grp-2', KEY_A); // the group key itself is not a device key
  } catch (error) {
    groupRefused = error;
  }
  assert.ok(groupRefused, 'the group key must not register a device');
  console.log(`(b) the underived group key is refused (${groupRefused.constructor.name})`);

  // (d) a disabled enrollment is refused
  await service.createOrUpdateIndividualEnrollment({
    registrationId: 'reg-node-dev-off',
    deviceId: 'dev-node-dev-off',
    attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY_A, secondaryKey: KEY_B } },
    provisioningStatus: 'disabled',
    allocationPolicy: 'static',
    iotHubs: [east.hostName],
  });
  let disabled;
  let disabledResult;
  try {
    disabledResult = await register(ready, 'reg-node-dev-off', KEY_A);
  } catch (error) {
    disabled = error;
  }
  // DPS answers the operation with status "disabled"; SDK 1.9.1 knows only assigning/assigned/
  // registering/failed and rejects anything else with SyntaxError('status is disabled').
  assert.ok(disabled, `a disabled enrollment registered: ${JSON.stringify(disabledResult)}`);
  assert.ok(/disabled|failed/i.test(disabled.message) || disabled.response, `${disabled.constructor.name}: ${disabled.message}`);
  console.log(`(d) disabled enrollment refused: ${disabled.constructor.name}: ${disabled.message}`);
  try {
    const offRecord = (await service.getDeviceRegistrationState('reg-node-dev-off')).responseBody;
    assert.notStrictEqual(offRecord.status, 'assigned', JSON.stringify(offRecord));
    assert.ok(!offRecord.assignedHub, JSON.stringify(offRecord));
    console.log(`(d) service-side record: status ${offRecord.status}`);
  } catch (error) {
    assert.strictEqual(error.response && error.response.statusCode, 404, error.message);
    console.log('(d) no service-side record');
  }
  await expectStatus(404, eastRegistry.get('dev-node-dev-off'), 'device of a disabled enrollment');
  assert.strictEqual((await westRaw.getDevice('dev-node-dev-off')).status, 404);

  // clean up: leave both hubs and DPS as they were
  assert.strictEqual((await westRaw.deleteDevice('dev-node-dev-1')).status, 204);
  await eastRegistry.delete('reg-node-grp-1');
  await service.deleteIndividualEnrollment('reg-node-dev-1');
  await service.deleteIndividualEnrollment('reg-node-dev-off');
  await service.deleteEnrollmentGroup('grp-node-dev-1');
  console.log(`node azure-iot-provisioning-device 1.9.1: DPS device conformance passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error) => {
  console.error(error);
  if (error && error.responseBody) console.error('response body:', error.responseBody);
  process.exit(1);
});
