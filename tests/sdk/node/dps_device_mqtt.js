// Official Node DPS device SDK over MQTT (azure-iot-provisioning-device 1.9.1 +
// azure-iot-provisioning-device-mqtt 1.8.1, symmetric key) against `hubdeck sim`: a device of an
// individual enrollment registers over Mqtt and one of a symmetric-key group over MqttWs; each then
// connects to the hub DPS assigned with azure-iot-device-mqtt. The individual enrollment is moved
// to the second hub, the device registers again and reconnects there.
// Usage: node dps_device_mqtt.js READY_FILE (NODE_EXTRA_CA_CERTS set).
'use strict';

const assert = require('assert');
const crypto = require('crypto');
const fs = require('fs');
const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const { Mqtt: ProvisioningMqtt, MqttWs: ProvisioningMqttWs } = require('azure-iot-provisioning-device-mqtt');
const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');
const { Client: DeviceClient } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { ProvisioningServiceClient } = require('azure-iot-provisioning-service');
const { Registry } = require('azure-iothub');

const ready = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const [east, west] = ready.hubs;
const service = ProvisioningServiceClient.fromConnectionString(ready.dps.connectionStrings.provisioningserviceowner);
const hubByHost = Object.fromEntries(ready.hubs.map((hub) => [hub.deviceHostName, hub]));
const KEY_A = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64');
const KEY_B = Buffer.from(Array.from({ length: 32 }, (_, i) => 100 + i)).toString('base64');

async function register(registrationId, key, Transport) {
  const client = ProvisioningDeviceClient.create(ready.dps.deviceHostName, ready.dps.idScope, new Transport(), new SymmetricKeySecurityClient(registrationId, key));
  const result = await client.register();
  assert.strictEqual(result.status, 'assigned', JSON.stringify(result));
  return result;
}

async function connect(result, key) {
  const connectionString = `HostName=${result.assignedHub};DeviceId=${result.deviceId};SharedAccessKey=${key}`;
  const client = DeviceClient.fromConnectionString(connectionString, Mqtt);
  await client.open();
  const registry = Registry.fromConnectionString(hubByHost[result.assignedHub].connectionStrings.iothubowner);
  const { responseBody } = await registry.get(result.deviceId);
  assert.strictEqual(responseBody.connectionState, 'Connected', `${result.deviceId} on ${result.assignedHub}`);
  return { client, registry };
}

async function main() {
  const suffix = crypto.randomBytes(3).toString('hex');
  const individualId = `node-dps-mqtt-${suffix}`;
  await service.createOrUpdateIndividualEnrollment({
    registrationId: individualId,
    attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY_A, secondaryKey: KEY_B } },
    allocationPolicy: 'static',
    iotHubs: [east.deviceHostName],
    reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: true },
  });
  const first = await register(individualId, KEY_A, ProvisioningMqtt);
  assert.strictEqual(first.assignedHub, east.deviceHostName);
  const individual = await connect(first, KEY_A);
  console.log(`individual enrollment: registered over Mqtt, connected to ${first.assignedHub}`);

  const groupId = `node-grp-mqtt-${suffix}`;
  await service.createOrUpdateEnrollmentGroup({
    enrollmentGroupId: groupId,
    attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: KEY_B, secondaryKey: KEY_A } },
    allocationPolicy: 'static',
    iotHubs: [west.deviceHostName],
  });
  const groupDeviceId = `node-grp-dev-${suffix}`;
  const derived = crypto.createHmac('sha256', Buffer.from(KEY_B, 'base64')).update(groupDeviceId).digest('base64');
  const grouped = await register(groupDeviceId, derived, ProvisioningMqttWs);
  assert.strictEqual(grouped.assignedHub, west.deviceHostName);
  const groupDevice = await connect(grouped, derived);
  console.log(`group enrollment: registered over MqttWs, connected to ${grouped.assignedHub}`);

  // Moved to the second hub by the enrollment's policy: registering again takes it there.
  const { responseBody: enrollment } = await service.getIndividualEnrollment(individualId);
  enrollment.iotHubs = [west.deviceHostName];
  await service.createOrUpdateIndividualEnrollment(enrollment);
  await individual.client.close();
  const moved = await register(individualId, KEY_A, ProvisioningMqtt);
  assert.strictEqual(moved.assignedHub, west.deviceHostName, JSON.stringify(moved));
  assert.strictEqual(moved.substatus, 'deviceDataMigrated', JSON.stringify(moved));
  const reconnected = await connect(moved, KEY_A);
  console.log(`re-provisioned to ${moved.assignedHub} (${moved.substatus}) and reconnected there`);

  // Leave DPS and the hubs as they were: the other scripts count.
  await reconnected.client.close();
  await groupDevice.client.close();
  await reconnected.registry.delete(moved.deviceId);
  await groupDevice.registry.delete(grouped.deviceId);
  await service.deleteIndividualEnrollment(individualId);
  await service.deleteEnrollmentGroup(groupId);
  console.log('node azure-iot-provisioning-device-mqtt 1.8.1: DPS registration over Mqtt and MqttWs passed');
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
