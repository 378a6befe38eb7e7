"""Official Python SDK (azure-iot-hub 2.7.0) against an S1 `hubdeck sim` (run.sh starts a second
simulator with `--tier S1 --daily-messages 3`): a second concurrent job is refused with 429
ThrottlingMaxActiveJobCountExceeded in the service's body, and once the day's messages are used a
twin update is refused with 403002 IotHubQuotaExceeded.
Usage: python hub_quotas.py READY_FILE (REQUESTS_CA_BUNDLE must name the CA)."""

import json
import sys
from datetime import datetime, timezone

from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import JobRequest, Twin, TwinProperties
from msrest.exceptions import HttpOperationError

FUTURE = datetime(2030, 1, 1, tzinfo=timezone.utc)


def scheduled_twin_job(job_id):
    return JobRequest(
        job_id=job_id,
        type="scheduleUpdateTwin",
        update_twin=Twin(properties=TwinProperties(desired={"wave": 1}), etag="*"),
        query_condition="deviceId IN ['nobody']",
        start_time=FUTURE,
        max_execution_time_in_seconds=3600,
    )


def refused(call, status):
    try:
        call()
    except HttpOperationError as error:
        assert error.response.status_code == status, (error.response.status_code, error.response.text)
        return error.response
    raise AssertionError(f"expected {status}, the call succeeded")


def main():
    ready = json.load(open(sys.argv[1]))
    assert (ready["tier"], ready["units"]) == ("S1", 1), (ready["tier"], ready["units"])
    connection_string = ready["connectionStrings"]["iothubowner"]
    manager = IoTHubRegistryManager.from_connection_string(connection_string)
    jobs = IoTHubJobManager.from_connection_string(connection_string)

    # S1 runs one job at a time.
    jobs.create_scheduled_job("wave-1", scheduled_twin_job("wave-1"))
    response = refused(lambda: jobs.create_scheduled_job("wave-2", scheduled_twin_job("wave-2")), 429)
    assert response.headers.get("iothub-errorcode") == "ThrottlingMaxActiveJobCountExceeded", response.headers
    body = json.loads(response.text)
    assert body["Message"].startswith("ErrorCode:ThrottlingMaxActiveJobCountExceeded;"), body
    assert "Tracking ID:" in body["ExceptionMessage"], body
    jobs.cancel_scheduled_job("wave-1")

    # Three messages a day: three one-chunk twin updates, then 403002 until midnight UTC.
    manager.create_device_with_sas("quota-1", None, None, "enabled")
    for value in range(3):
        manager.update_twin("quota-1", Twin(properties=TwinProperties(desired={"v": value})), "*")
    response = refused(lambda: manager.update_twin("quota-1", Twin(properties=TwinProperties(desired={"v": 9})), "*"), 403)
    assert response.headers.get("iothub-errorcode") == "IotHubQuotaExceeded", response.headers
    assert json.loads(response.text)["Message"].startswith("ErrorCode:IotHubQuotaExceeded;"), response.text
    print("hub_quotas: 429004 and 403002 as the service answers them")


if __name__ == "__main__":
    main()
