// Official Node device SDK (azure-iot-device 1.18.4 + azure-iot-device-mqtt 1.16.4) against
// `hubdeck sim` over Mqtt (8883) and MqttWs (443): connect, answer a direct method invoked by the
// service SDK (azure-iothub Client) and one sent by a scheduled job, get the twin, patch reported
// properties, receive a desired change, send telemetry with application properties; a wrong key
// and a disabled device are refused.
// Usage: node device_mqtt.js READY_FILE (NODE_EXTRA_CA_CERTS set).
'use strict';

const assert = require('assert');
const fs = require('fs');
const { Client: DeviceClient, Message } = require('azure-iot-device');
const { Mqtt, MqttWs } = require('azure-iot-device-mqtt');
const { Client: ServiceClient, JobClient, Registry } = require('azure-iothub');

const ready = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const east = ready.hubs[0];
const owner = east.connectionStrings.iothubowner;
const registry = Registry.fromConnectionString(owner);
const service = ServiceClient.fromConnectionString(owner);
const jobs = JobClient.fromConnectionString(owner);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, predicate, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function newDevice(deviceId) {
  await registry.create({ deviceId, status: 'enabled' });
  const { responseBody } = await registry.get(deviceId);
  return responseBody.authentication.symmetricKey.primaryKey;
}

const connectionString = (deviceId, key) => `HostName=${east.deviceHostName};DeviceId=${deviceId};SharedAccessKey=${key}`;

async function run(Transport, name) {
  const deviceId = `node-dev-${name.toLowerCase()}-${Math.random().toString(16).slice(2, 8)}`;
  const key = await newDevice(deviceId);
  const client = DeviceClient.fromConnectionString(connectionString(deviceId, key), Transport);
  const calls = [];
  client.onDeviceMethod('lockDoor', (request, response) => {
    calls.push(request.payload);
    response.send(200, { locked: true, for: request.payload.lockTime }, () => {});
  });
  await client.open();
  await waitFor('connectionState Connected', async () => (await registry.get(deviceId)).responseBody.connectionState === 'Connected');

  // Direct method from the service SDK.
  const { result } = await service.invokeDeviceMethod(deviceId, { methodName: 'lockDoor', payload: { lockTime: '10m' }, responseTimeoutInSeconds: 30 });
  assert.deepStrictEqual([result.status, result.payload], [200, { locked: true, for: '10m' }]);

  // Direct method from a scheduled job.
  const jobId = `node-lock-${Math.random().toString(16).slice(2, 10)}`;
  await jobs.scheduleDeviceMethod(jobId, `deviceId = '${deviceId}'`, { methodName: 'lockDoor', payload: { lockTime: '5m' }, responseTimeoutInSeconds: 30 }, new Date(), 60);
  const job = await waitFor('the job to complete', async () => {
    const { jobStatus } = await jobs.getJob(jobId);
    return jobStatus.status === 'completed' ? jobStatus : null;
  });
  assert.strictEqual(job.deviceJobStatistics.succeededCount, 1, JSON.stringify(job));
  assert.ok(calls.some((payload) => payload.lockTime === '5m'), `the job's call did not reach the device: ${JSON.stringify(calls)}`);

  // Twin: get, reported patch, desired change.
  const twin = await client.getTwin();
  assert.ok(twin.properties.desired.$version >= 1, JSON.stringify(twin.properties));
  await new Promise((resolve, reject) => twin.properties.reported.update({ firmware: '1.18.4' }, (error) => (error ? reject(error) : resolve())));
  const reported = (await registry.getTwin(deviceId)).responseBody.properties.reported;
  assert.strictEqual(reported.firmware, '1.18.4');
  // The SDK subscribes to desired changes when the first listener is added, without telling when
  // the subscription is in place; the service pushes only to subscribed devices, so a change made
  // before then is not pushed. Changes are made until one arrives.
  const deltas = [];
  twin.on('properties.desired', (delta) => deltas.push(delta));
  let delta = null;
  for (let attempt = 1; attempt <= 10 && !delta; attempt += 1) {
    await registry.updateTwin(deviceId, { properties: { desired: { building: 43, floor: 3, attempt } } }, '*');
    delta = await waitFor(`desired change ${attempt}`, () => deltas.find((seen) => seen.attempt === attempt), 2000).catch(() => null);
  }
  assert.ok(delta && delta.building === 43 && delta.floor === 3 && delta.$version > 1, `desired change: ${JSON.stringify(deltas)}`);

  // Telemetry with application properties.
  const message = new Message(JSON.stringify({ temperature: 21.5 }));
  message.messageId = `m-${deviceId}`;
  message.contentType = 'application/json';
  message.contentEncoding = 'utf-8';
  message.properties.add('alert', 'false');
  await client.sendEvent(message);

  await client.close();
  await waitFor('connectionState Disconnected', async () => (await registry.get(deviceId)).responseBody.connectionState === 'Disconnected');
  console.log(`${name}: connect, methods (REST and job), twin, desired, telemetry passed`);
  return { deviceId, key };
}

async function refused(deviceId, key, what) {
  const client = DeviceClient.fromConnectionString(connectionString(deviceId, key), Mqtt);
  try {
    await client.open();
  } catch (error) {
    console.log(`${what} refused: ${error.constructor.name}`);
    return;
  } finally {
    await client.close().catch(() => {});
  }
  throw new Error(`${what}: the device connected`);
}

async function main() {
  const { deviceId, key } = await run(Mqtt, 'Mqtt');
  const { deviceId: wsDeviceId } = await run(MqttWs, 'MqttWs');
  await refused(deviceId, Buffer.alloc(32, 7).toString('base64'), 'a wrong key');
  const { responseBody: device } = await registry.get(deviceId);
  await registry.update({ deviceId, status: 'disabled', etag: device.etag });
  await refused(deviceId, key, 'a disabled device');
  // The other scripts count the fleet: leave it as it was.
  await registry.delete(deviceId);
  await registry.delete(wsDeviceId);
  console.log('node azure-iot-device 1.18.4 + azure-iot-device-mqtt 1.16.4: device conformance over Mqtt and MqttWs passed');
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
