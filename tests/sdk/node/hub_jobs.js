// Official Node SDK (azure-iothub 1.16.6) against `hubdeck sim` on port 443: Client.invokeDeviceMethod
// on an online and an offline device, JobClient.scheduleDeviceMethod / scheduleTwinUpdate / getJob /
// createQuery().next / cancelJob, jobs that run now to completion, and their devices.jobs rows.
// At most two jobs of this script are active at once (the hub allows 5).
// Usage: node hub_jobs.js READY_FILE (NODE_EXTRA_CA_CERTS set).
'use strict';

const assert = require('assert');
const fs = require('fs');
const { Client, JobClient, Registry } = require('azure-iothub');

const FUTURE = new Date('2030-01-01T00:00:00Z');
const FINAL = ['completed', 'failed', 'cancelled'];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const lockDoor = (responseTimeoutInSeconds) => ({ methodName: 'lockDoor', payload: { lockTime: '10m' }, responseTimeoutInSeconds });

async function queryDevices(registry, sql, pageSize) {
  return (await registry.createQuery(sql, pageSize).next()).result;
}

// A connected door lock that answers lockDoor in time (a few simulated devices answer too slowly:
// those must fail with 504 GatewayTimeout, and the next one is tried).
async function firstAnsweringLock(registry, client) {
  const sql = "SELECT * FROM devices WHERE tags.deviceType = 'doorLock' AND connectionState = 'Connected' AND status = 'enabled'";
  const candidates = await queryDevices(registry, sql, 5);
  assert.ok(candidates.length > 0, 'no connected door lock in the simulated fleet');
  for (const twin of candidates) {
    assert.strictEqual(twin.connectionState, 'Connected', twin.deviceId);
    try {
      await client.invokeDeviceMethod(twin.deviceId, lockDoor(5));
      return twin.deviceId;
    } catch (error) {
      assert.strictEqual(error.response && error.response.statusCode, 504, `${twin.deviceId}: ${error.message}`);
      assert.strictEqual(error.constructor.name, 'GatewayTimeoutError');
    }
  }
  throw new Error(`none of ${candidates.map((twin) => twin.deviceId)} answered lockDoor within 5 s`);
}

// getJob resolves to { jobStatus: <JobResponse>, response }.
async function waitForStatus(jobClient, jobId, wanted, seconds = 20) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const job = (await jobClient.getJob(jobId)).jobStatus;
    if (job.status === wanted) return job;
    assert.ok(!FINAL.includes(job.status), `job ${jobId} ended ${job.status} (${job.failureReason}), not ${wanted}`);
    assert.ok(Date.now() < deadline, `job ${jobId} still ${job.status} after ${seconds} s, not ${wanted}`);
    await sleep(200);
  }
}

// One page of GET /jobs/v2/query. The SDK hands over the body untouched; the simulator answers the
// QueryResult envelope {type, items, continuationToken} that the Python SDK needs.
async function listJobs(jobClient, jobType, jobStatus) {
  const query = jobClient.createQuery(jobType, jobStatus, 10);
  const page = await query.next();
  assert.strictEqual(page.message.statusCode, 200);
  assert.strictEqual(page.message.headers['x-ms-item-type'], 'JobResponse');
  assert.strictEqual(query.hasMoreResults, false, 'one page holds every job of this script');
  assert.ok(Array.isArray(page.result.items), JSON.stringify(page.result));
  return page.result.items;
}

async function main() {
  const ready = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const connectionString = ready.connectionStrings.iothubowner;
  const registry = Registry.fromConnectionString(connectionString);
  const client = Client.fromConnectionString(connectionString);
  const jobClient = JobClient.fromConnectionString(connectionString);

  // Direct methods. invokeDeviceMethod resolves to { result: {status, payload}, message }.
  const lock = await firstAnsweringLock(registry, client);
  const invoked = await client.invokeDeviceMethod(lock, lockDoor(30));
  assert.strictEqual(invoked.message.statusCode, 200);
  assert.strictEqual(invoked.result.status, 200);
  assert.strictEqual(invoked.result.payload.Response, 'lockDoor called successfully');
  const [offline] = await queryDevices(registry, "SELECT * FROM devices WHERE connectionState = 'Disconnected' AND status = 'enabled'", 1);
  assert.strictEqual(offline.connectionState, 'Disconnected');
  try {
    await client.invokeDeviceMethod(offline.deviceId, lockDoor(30));
    throw new Error(`${offline.deviceId} is offline: the method must fail`);
  } catch (error) {
    assert.strictEqual(error.response && error.response.statusCode, 404, error.message);
    assert.strictEqual(error.response.headers['iothub-errorcode'], 'DeviceNotOnline');
    assert.ok(error.responseBody.includes('404103'), error.responseBody);
  }

  // Future jobs: accepted as queued, then scheduled, listed by type and status, cancelled.
  await registry.create({ deviceId: 'node-jobs' });
  const condition = (deviceId) => `deviceId IN ['${deviceId}']`;
  let job = (await jobClient.scheduleDeviceMethod('node-method-future', condition(lock), lockDoor(30), FUTURE, 3600)).jobStatus;
  assert.strictEqual(job.jobId, 'node-method-future');
  assert.strictEqual(job.type, 'scheduleDeviceMethod');
  assert.strictEqual(job.status, 'queued');
  assert.strictEqual(job.queryCondition, condition(lock));
  assert.strictEqual(new Date(job.startTime).getTime(), FUTURE.getTime());
  assert.strictEqual(job.maxExecutionTimeInSeconds, 3600);
  assert.deepStrictEqual(job.cloudToDeviceMethod.payload, { lockTime: '10m' });
  const patch = { etag: '*', tags: { building: 43 }, properties: { desired: { targetTemperature: 21 } } };
  job = (await jobClient.scheduleTwinUpdate('node-twin-future', condition('node-jobs'), patch, FUTURE, 3600)).jobStatus;
  assert.strictEqual(job.type, 'scheduleUpdateTwin');
  assert.strictEqual(job.status, 'queued');
  assert.deepStrictEqual(job.updateTwin.properties.desired, { targetTemperature: 21 });

  try {
    await jobClient.scheduleTwinUpdate('node-twin-no-etag', condition('node-jobs'), { tags: { building: 43 } }, FUTURE, 3600);
    throw new Error("a twin job without etag '*' must be refused");
  } catch (error) {
    assert.strictEqual(error.response && error.response.statusCode, 412, error.message);
    assert.strictEqual(error.constructor.name, 'InvalidEtagError');
  }

  job = (await jobClient.getJob('node-method-future')).jobStatus;
  assert.ok(['queued', 'scheduled'].includes(job.status), job.status);
  await waitForStatus(jobClient, 'node-method-future', 'scheduled');
  await waitForStatus(jobClient, 'node-twin-future', 'scheduled');
  for (const [jobType, mine, other] of [
    ['scheduleDeviceMethod', 'node-method-future', 'node-twin-future'],
    ['scheduleUpdateTwin', 'node-twin-future', 'node-method-future'],
  ]) {
    const items = await listJobs(jobClient, jobType, 'scheduled');
    const ids = items.map((item) => item.jobId);
    assert.ok(ids.includes(mine) && !ids.includes(other), `${jobType}: ${ids}`);
    assert.ok(items.every((item) => item.type === jobType && item.status === 'scheduled'), JSON.stringify(items));
  }

  for (const jobId of ['node-method-future', 'node-twin-future']) {
    const cancelled = (await jobClient.cancelJob(jobId)).jobStatus;
    assert.strictEqual(cancelled.jobId, jobId);
    assert.strictEqual(cancelled.status, 'cancelled');
    assert.ok(cancelled.endTime, 'a cancelled job has an end time');
    assert.strictEqual((await jobClient.getJob(jobId)).jobStatus.status, 'cancelled');
  }
  const cancelledJobs = await listJobs(jobClient, 'scheduleDeviceMethod', 'cancelled');
  assert.ok(cancelledJobs.some((item) => item.jobId === 'node-method-future'), JSON.stringify(cancelledJobs));
  try {
    await jobClient.getJob('node-no-such-job');
    throw new Error('an unknown job must be 404');
  } catch (error) {
    assert.strictEqual(error.response && error.response.statusCode, 404, error.message);
    assert.ok(error.responseBody.includes('JobNotFound'), error.responseBody);
  }

  // Jobs starting now run to the end; the device's row in devices.jobs holds its answer.
  await jobClient.scheduleDeviceMethod('node-method-now', condition(lock), lockDoor(30), new Date(), 3600);
  job = await waitForStatus(jobClient, 'node-method-now', 'completed');
  assert.deepStrictEqual(
    job.deviceJobStatistics,
    { deviceCount: 1, failedCount: 0, succeededCount: 1, runningCount: 0, pendingCount: 0 },
  );
  const [row] = await queryDevices(registry, "SELECT * FROM devices.jobs WHERE devices.jobs.jobId = 'node-method-now'", 10);
  assert.strictEqual(row.deviceId, lock);
  assert.strictEqual(row.jobType, 'scheduleDeviceMethod');
  assert.strictEqual(row.status, 'completed');
  assert.strictEqual(row.outcome.deviceMethodResponse.status, 200);
  assert.strictEqual(row.outcome.deviceMethodResponse.payload.Response, 'lockDoor called successfully');

  const nowPatch = { etag: '*', tags: { building: 43 }, properties: { desired: { targetTemperature: 19 } } };
  await jobClient.scheduleTwinUpdate('node-twin-now', condition('node-jobs'), nowPatch, new Date(), 3600);
  job = await waitForStatus(jobClient, 'node-twin-now', 'completed');
  assert.strictEqual(job.deviceJobStatistics.succeededCount, 1);
  const twin = (await registry.getTwin('node-jobs')).responseBody;
  assert.strictEqual(twin.tags.building, 43);
  assert.strictEqual(twin.properties.desired.targetTemperature, 19);

  await registry.delete('node-jobs');
  console.log('node azure-iothub 1.16.6: direct method and job conformance passed');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
