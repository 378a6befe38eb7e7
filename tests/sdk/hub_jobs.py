"""Official Python SDK (azure-iot-hub 2.7.0) against `hubdeck sim`: direct methods on an online and
an offline device, scheduled method and twin jobs (create, get, query, cancel) and jobs that run
now to completion. At most two jobs of this script are active at once (the hub allows 5).
Usage: python hub_jobs.py READY_FILE (REQUESTS_CA_BUNDLE must name the CA)."""

import json
import sys
import time
from datetime import datetime, timezone

from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod, JobRequest, QuerySpecification, Twin, TwinProperties
from msrest.exceptions import HttpOperationError

FUTURE = datetime(2030, 1, 1, tzinfo=timezone.utc)
FINAL = ("completed", "failed", "cancelled")


def lock_door(timeout=30):
    return CloudToDeviceMethod(method_name="lockDoor", payload={"lockTime": "10m"}, response_timeout_in_seconds=timeout)


def first_answering_lock(manager):
    """A connected door lock that answers lockDoor in time (a few simulated devices answer too
    slowly: those must fail with 504 GatewayTimeout, and the next one is tried)."""
    query = "SELECT * FROM devices WHERE tags.deviceType = 'doorLock' AND connectionState = 'Connected' AND status = 'enabled'"
    candidates = manager.query_iot_hub(QuerySpecification(query=query), None, 5).items
    assert candidates, "no connected door lock in the simulated fleet"
    for twin in candidates:
        assert twin.connection_state == "Connected" and twin.status == "enabled", twin
        try:
            return twin.device_id, manager.invoke_device_method(twin.device_id, lock_door(timeout=5))
        except HttpOperationError as error:
            assert error.response.status_code == 504, (twin.device_id, error.response.status_code, error.response.text)
            assert error.response.headers.get("iothub-errorcode") == "GatewayTimeout", error.response.headers
            assert "504101" in error.response.text, error.response.text
    raise AssertionError(f"none of {[twin.device_id for twin in candidates]} answered lockDoor within 5 s")


def wait_for_status(jobs, job_id, wanted, seconds=20):
    deadline = time.time() + seconds
    while True:
        job = jobs.get_scheduled_job(job_id)
        if job.status == wanted:
            return job
        assert job.status not in FINAL, f"job {job_id} ended {job.status} ({job.failure_reason}), not {wanted}"
        assert time.time() < deadline, f"job {job_id} still {job.status} after {seconds} s, not {wanted}"
        time.sleep(0.2)


def method_job(job_id, device_id, start):
    return JobRequest(
        job_id=job_id,
        type="scheduleDeviceMethod",
        cloud_to_device_method=lock_door(),
        query_condition=f"deviceId IN ['{device_id}']",
        start_time=start,
        max_execution_time_in_seconds=3600,
    )


def twin_job(job_id, device_id, start, desired, etag="*"):
    return JobRequest(
        job_id=job_id,
        type="scheduleUpdateTwin",
        update_twin=Twin(tags={"building": 43}, properties=TwinProperties(desired=desired), etag=etag),
        query_condition=f"deviceId IN ['{device_id}']",
        start_time=start,
        max_execution_time_in_seconds=3600,
    )


def main():
    ready = json.load(open(sys.argv[1]))
    connection_string = ready["connectionStrings"]["iothubowner"]
    manager = IoTHubRegistryManager.from_connection_string(connection_string)
    jobs = IoTHubJobManager.from_connection_string(connection_string)

    # Direct methods: an online lock answers, an offline device is 404 DeviceNotOnline at once.
    lock, probe = first_answering_lock(manager)
    answer = manager.invoke_device_method(lock, lock_door())
    for result in (probe, answer):
        assert result.status == 200, result.status
        assert result.payload["Response"] == "lockDoor called successfully", result.payload
    query = "SELECT * FROM devices WHERE connectionState = 'Disconnected' AND status = 'enabled'"
    offline = manager.query_iot_hub(QuerySpecification(query=query), None, 1).items[0]
    assert offline.connection_state == "Disconnected", offline
    try:
        manager.invoke_device_method(offline.device_id, lock_door())
        raise AssertionError(f"{offline.device_id} is offline: the method must fail")
    except HttpOperationError as error:
        assert error.response.status_code == 404, error.response.status_code
        assert error.response.headers.get("iothub-errorcode") == "DeviceNotOnline", error.response.headers
        assert "404103" in error.response.text, error.response.text

    # Future jobs: accepted as queued, then scheduled, listed by type and status, cancelled.
    manager.create_device_with_sas("py-jobs", None, None, "enabled")
    created = jobs.create_scheduled_job("py-method-future", method_job("py-method-future", lock, FUTURE))
    assert created.job_id == "py-method-future" and created.type == "scheduleDeviceMethod", created
    assert created.status == "queued", created.status
    assert created.cloud_to_device_method.method_name == "lockDoor", created.cloud_to_device_method
    assert created.query_condition == f"deviceId IN ['{lock}']", created.query_condition
    assert created.start_time == FUTURE and created.max_execution_time_in_seconds == 3600, created
    desired = {"targetTemperature": 21}
    created = jobs.create_scheduled_job("py-twin-future", twin_job("py-twin-future", "py-jobs", FUTURE, desired))
    assert created.type == "scheduleUpdateTwin" and created.status == "queued", created
    assert created.update_twin.etag == "*" and created.update_twin.properties.desired == desired, created.update_twin

    try:
        jobs.create_scheduled_job("py-twin-no-etag", twin_job("py-twin-no-etag", "py-jobs", FUTURE, desired, etag=None))
        raise AssertionError("a twin job without etag '*' must be refused")
    except HttpOperationError as error:
        assert error.response.status_code == 412, error.response.status_code
        assert "PreconditionFailed" in error.response.text, error.response.text

    fetched = jobs.get_scheduled_job("py-method-future")
    assert fetched.status in ("queued", "scheduled"), fetched.status
    assert fetched.end_time is None, fetched.end_time
    for job_id in ("py-method-future", "py-twin-future"):
        wait_for_status(jobs, job_id, "scheduled")
    for job_type, mine, other in (
        ("scheduleDeviceMethod", "py-method-future", "py-twin-future"),
        ("scheduleUpdateTwin", "py-twin-future", "py-method-future"),
    ):
        listed = jobs.query_scheduled_jobs(job_type, "scheduled")
        ids = [item["jobId"] for item in listed.items]
        assert mine in ids and other not in ids, (job_type, ids)
        assert all(item["type"] == job_type and item["status"] == "scheduled" for item in listed.items), listed.items
        assert listed.type == "jobResponse" and listed.continuation_token is None, (listed.type, listed.continuation_token)

    for job_id in ("py-method-future", "py-twin-future"):
        cancelled = jobs.cancel_scheduled_job(job_id)
        assert cancelled.job_id == job_id and cancelled.status == "cancelled", cancelled.status
        assert cancelled.end_time is not None, cancelled
        assert jobs.get_scheduled_job(job_id).status == "cancelled"
    listed = jobs.query_scheduled_jobs("scheduleDeviceMethod", "cancelled")
    assert "py-method-future" in [item["jobId"] for item in listed.items], listed.items
    try:
        jobs.get_scheduled_job("py-no-such-job")
        raise AssertionError("an unknown job must be 404")
    except HttpOperationError as error:
        assert error.response.status_code == 404 and "JobNotFound" in error.response.text, error.response.text

    # Jobs starting now run to the end.
    now = datetime.now(timezone.utc)
    jobs.create_scheduled_job("py-method-now", method_job("py-method-now", lock, now))
    done = wait_for_status(jobs, "py-method-now", "completed")
    stats = done.device_job_statistics
    assert (stats.device_count, stats.succeeded_count, stats.failed_count) == (1, 1, 0), stats
    assert (stats.pending_count, stats.running_count) == (0, 0), stats
    assert done.end_time is not None and done.end_time >= done.start_time, done

    desired = {"targetTemperature": 19, "mode": "eco"}
    jobs.create_scheduled_job("py-twin-now", twin_job("py-twin-now", "py-jobs", datetime.now(timezone.utc), desired))
    done = wait_for_status(jobs, "py-twin-now", "completed")
    stats = done.device_job_statistics
    assert (stats.device_count, stats.succeeded_count) == (1, 1), stats
    twin = manager.get_twin("py-jobs")
    assert twin.tags == {"building": 43}, twin.tags
    assert twin.properties.desired["targetTemperature"] == 19 and twin.properties.desired["mode"] == "eco", twin.properties.desired

    manager.delete_device("py-jobs")
    print("python azure-iot-hub 2.7.0: direct method and job conformance passed")


if __name__ == "__main__":
    main()
