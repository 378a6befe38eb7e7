"""Python azure-iot-device 2.14.0 against the simulator's device endpoint, over MQTT (8883) and
over MQTT on WebSocket (443): connect, answer a direct method invoked by the service SDK and one
sent by a scheduled job, get the twin, patch reported properties, receive a desired change, send
telemetry with application properties; a wrong key and a disabled device are refused.

Usage: device_mqtt.py READY_FILE (the ready file of `hubdeck sim --port 443`).
"""

import json
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

from azure.iot.device import IoTHubDeviceClient, Message, MethodResponse
from azure.iot.device.exceptions import ClientError, ConnectionFailedError, CredentialError
from azure.iot.hub import IoTHubJobManager, IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod, JobRequest, Twin, TwinProperties

ready = json.load(open(sys.argv[1]))
east = ready["hubs"][0]
ca_pem = open(ready["caFile"]).read()
owner = east["connectionStrings"]["iothubowner"]
registry = IoTHubRegistryManager(owner)
jobs = IoTHubJobManager(owner)
host = east["deviceHostName"]


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def wait_for(what, predicate, timeout_secs=20):
    deadline = time.time() + timeout_secs
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def new_device(device_id):
    registry.create_device_with_sas(device_id, None, None, "enabled")
    registry.update_twin(device_id, Twin(tags={"building": 43, "suite": "python-device"}), "*")
    return registry.get_device(device_id).authentication.symmetric_key.primary_key


def connection_string(device_id, key):
    return "HostName={};DeviceId={};SharedAccessKey={}".format(host, device_id, key)


def run(websockets):
    transport = "MQTT over WebSocket" if websockets else "MQTT"
    device_id = "py-dev-{}-{}".format("ws" if websockets else "mqtt", uuid.uuid4().hex[:6])
    key = new_device(device_id)
    client = IoTHubDeviceClient.create_from_connection_string(
        connection_string(device_id, key), server_verification_cert=ca_pem, websockets=websockets
    )
    desired_seen = []
    method_calls = []
    desired_event = threading.Event()

    def on_method(request):
        method_calls.append((request.name, request.payload))
        if request.name == "lockDoor":
            status, payload = 200, {"locked": True, "for": request.payload.get("lockTime")}
        else:
            status, payload = 501, {"error": "no handler for " + request.name}
        client.send_method_response(MethodResponse.create_from_method_request(request, status, payload))

    def on_desired(patch):
        desired_seen.append(patch)
        desired_event.set()

    client.on_method_request_received = on_method
    client.on_twin_desired_properties_patch_received = on_desired
    client.connect()

    # Connected, as the service sees it.
    wait_for("connectionState Connected", lambda: registry.get_device(device_id).connection_state == "Connected")

    # A direct method invoked by the service SDK.
    answer = registry.invoke_device_method(
        device_id, CloudToDeviceMethod(method_name="lockDoor", payload={"lockTime": "10m"}, response_timeout_in_seconds=30)
    )
    check(answer.status == 200 and answer.payload == {"locked": True, "for": "10m"}, "method answer: {}".format(answer))
    unknown = registry.invoke_device_method(device_id, CloudToDeviceMethod(method_name="selfDestruct", payload=None))
    check(unknown.status == 501, "unknown method status: {}".format(unknown.status))

    # A method sent by a scheduled job reaches the device and its answer is the job's result.
    job_id = "py-lock-" + uuid.uuid4().hex[:8]
    job = JobRequest(
        job_id=job_id,
        type="scheduleDeviceMethod",
        cloud_to_device_method=CloudToDeviceMethod(method_name="lockDoor", payload={"lockTime": "5m"}, response_timeout_in_seconds=30),
        query_condition="deviceId = '{}'".format(device_id),
        start_time=datetime.now(timezone.utc),
        max_execution_time_in_seconds=60,
    )
    jobs.create_scheduled_job(job_id, job)
    finished = wait_for("the job to complete", lambda: (lambda j: j if j.status == "completed" else None)(jobs.get_scheduled_job(job_id)))
    check(finished.device_job_statistics.succeeded_count == 1, "job statistics: {}".format(finished.device_job_statistics))
    check(("lockDoor", {"lockTime": "5m"}) in method_calls, "the job's call did not reach the device: {}".format(method_calls))

    # Twin get, reported patch, desired change.
    twin = client.get_twin()
    check("desired" in twin and "reported" in twin and "$version" in twin["desired"], "twin: {}".format(twin))
    client.patch_twin_reported_properties({"firmware": "2.14.0", "door": {"locked": True}})
    reported = registry.get_twin(device_id).properties.reported
    check(reported.get("firmware") == "2.14.0" and reported["door"]["locked"] is True, "reported: {}".format(reported))
    registry.update_twin(device_id, Twin(properties=TwinProperties(desired={"building": 43, "floor": 3})), "*")
    check(desired_event.wait(20), "no desired-property patch arrived")
    patch = desired_seen[-1]
    check(patch.get("building") == 43 and patch.get("floor") == 3 and "$version" in patch, "desired patch: {}".format(patch))

    # Telemetry with application properties is accepted (PUBACK), and counts as activity.
    message = Message(json.dumps({"temperature": 21.5}), message_id="m-" + uuid.uuid4().hex[:6], content_encoding="utf-8",
                      content_type="application/json")
    message.custom_properties["alert"] = "false"
    client.send_message(message)

    client.shutdown()
    wait_for("connectionState Disconnected", lambda: registry.get_device(device_id).connection_state == "Disconnected")
    print("{}: connect, methods (REST and job), twin, desired, telemetry passed".format(transport))
    return device_id, key


def refused(device_id, key, websockets):
    client = IoTHubDeviceClient.create_from_connection_string(
        connection_string(device_id, key), server_verification_cert=ca_pem, websockets=websockets,
        connection_retry=False,
    )
    try:
        client.connect()
    except (ClientError, ConnectionFailedError, CredentialError) as error:
        return type(error).__name__
    finally:
        client.shutdown()
    raise AssertionError("{} connected with a wrong key or while disabled".format(device_id))


device_id, key = run(websockets=False)
ws_device_id, _ = run(websockets=True)

# A wrong key is refused; so is a disabled device with its right key.
wrong_key = registry.get_device(device_id).authentication.symmetric_key.secondary_key[::-1]
print("wrong key refused:", refused(device_id, "A" + wrong_key[1:], websockets=False))
device = registry.get_device(device_id)
registry.update_device_with_sas(device_id, device.etag, key, device.authentication.symmetric_key.secondary_key, "disabled")
print("disabled device refused:", refused(device_id, key, websockets=False))

# The other scripts count the fleet: leave it as it was.
for created in (device_id, ws_device_id):
    registry.delete_device(created)
print("python azure-iot-device 2.14.0: device conformance over MQTT and WebSocket passed")
