"""The classic "simDevice" sample of the IoT Hub jobs tutorial, as azure-iot-device 2.14 writes it:
a device app that answers the `lockDoor` direct method and prints desired-property changes.

Usage: sim_device.py   (env: IOTHUB_DEVICE_CONNECTION_STRING, CA_FILE)
Prints one JSON line per event on stdout, so a test can follow what the device saw.
"""

import json
import os
import signal
import sys
import threading

from azure.iot.device import IoTHubDeviceClient, MethodResponse


def emit(event, **fields):
    print(json.dumps(dict(event=event, **fields)), flush=True)


def main():
    client = IoTHubDeviceClient.create_from_connection_string(
        os.environ["IOTHUB_DEVICE_CONNECTION_STRING"], server_verification_cert=open(os.environ["CA_FILE"]).read()
    )

    def method_request_handler(request):
        if request.name == "lockDoor":
            emit("method", name=request.name, payload=request.payload)
            payload = {"result": "locking the door", "lockTime": (request.payload or {}).get("lockTime")}
            client.send_method_response(MethodResponse.create_from_method_request(request, 200, payload))
        else:
            client.send_method_response(MethodResponse.create_from_method_request(request, 404, {"result": "unknown method"}))

    def desired_handler(patch):
        emit("desired", patch=patch)

    client.on_method_request_received = method_request_handler
    client.on_twin_desired_properties_patch_received = desired_handler
    client.connect()
    emit("connected")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    client.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
