"""Python azure-iot-device 2.14.0 ProvisioningDeviceClient over MQTT against the simulated DPS:
a device with an individual enrollment (MQTT) and one in a symmetric-key group (MQTT over
WebSocket) register, connect to the
hub DPS assigned; then the individual enrollment's policy moves it to the second hub, the service
sends it a `reprovision` direct method, and the device registers again and reconnects there.

Usage: dps_device_mqtt.py READY_FILE (the ready file of `hubdeck sim --port 443`).
"""

import base64
import hashlib
import hmac
import json
import sys
import threading
import uuid

from azure.iot.device import IoTHubDeviceClient, MethodResponse, ProvisioningDeviceClient
from azure.iot.deviceprovisioning import DeviceProvisioningClient
from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import CloudToDeviceMethod

ready = json.load(open(sys.argv[1]))
ca_pem = open(ready["caFile"]).read()
east, west = ready["hubs"][0], ready["hubs"][1]
dps_info = ready["dps"]
dps = DeviceProvisioningClient.from_connection_string(dps_info["connectionStrings"]["provisioningserviceowner"])
hub_of = {hub["deviceHostName"]: hub for hub in ready["hubs"]}

KEY_A = base64.b64encode(bytes(range(32))).decode()
KEY_B = base64.b64encode(bytes(range(32, 64))).decode()


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def sym(primary="", secondary=""):
    return {"type": "symmetricKey", "symmetricKey": {"primaryKey": primary, "secondaryKey": secondary}}


def register(registration_id, key, websockets=False):
    client = ProvisioningDeviceClient.create_from_symmetric_key(
        websockets=websockets,
        provisioning_host=dps_info["deviceHostName"],
        registration_id=registration_id,
        id_scope=dps_info["idScope"],
        symmetric_key=key,
        server_verification_cert=ca_pem,
    )
    result = client.register()
    check(result.status == "assigned", "registration of {}: {}".format(registration_id, result))
    return result.registration_state


class Device:
    """A device app as the SDK samples write it: registers, connects, and registers again when
    asked to (`reprovision`)."""

    def __init__(self, registration_id, key, websockets=False):
        self.registration_id, self.key, self.websockets = registration_id, key, websockets
        self.client = None
        self.moved = threading.Event()
        self.connect(register(registration_id, key, websockets))

    def connect(self, state):
        self.state = state
        client = IoTHubDeviceClient.create_from_symmetric_key(
            symmetric_key=self.key, hostname=state.assigned_hub, device_id=state.device_id, server_verification_cert=ca_pem,
            websockets=self.websockets,
        )
        client.on_method_request_received = self.on_method
        client.connect()
        self.client = client

    def on_method(self, request):
        if request.name != "reprovision":
            self.client.send_method_response(MethodResponse.create_from_method_request(request, 501, None))
            return
        self.client.send_method_response(MethodResponse.create_from_method_request(request, 200, {"registering": True}))
        threading.Thread(target=self.reprovision).start()

    def reprovision(self):
        old = self.client
        state = register(self.registration_id, self.key, self.websockets)
        old.shutdown()
        self.connect(state)
        self.moved.set()

    def registry(self):
        return IoTHubRegistryManager(hub_of[self.state.assigned_hub]["connectionStrings"]["iothubowner"])

    def check_connected(self):
        device = self.registry().get_device(self.state.device_id)
        check(device.connection_state == "Connected", "{} on {}: {}".format(self.state.device_id, self.state.assigned_hub,
                                                                          device.connection_state))


# An individual enrollment, on the first hub.
suffix = uuid.uuid4().hex[:6]
individual_id = "py-dps-mqtt-" + suffix
dps.enrollment.create_or_update(individual_id, {
    "registrationId": individual_id,
    "attestation": sym(KEY_A, KEY_B),
    "allocationPolicy": "static",
    "iotHubs": [east["deviceHostName"]],
    "reprovisionPolicy": {"updateHubAssignment": True, "migrateDeviceData": True},
})
individual = Device(individual_id, KEY_A)
check(individual.state.assigned_hub == east["deviceHostName"], "assigned to {}".format(individual.state.assigned_hub))
individual.check_connected()
print("individual enrollment: registered over MQTT and connected to", individual.state.assigned_hub)

# A device of a symmetric-key group, with its derived key.
group_id = "py-grp-mqtt-" + suffix
dps.enrollment_group.create_or_update(group_id, {
    "enrollmentGroupId": group_id,
    "attestation": sym(KEY_B, KEY_A),
    "allocationPolicy": "static",
    "iotHubs": [west["deviceHostName"]],
})
group_device_id = "py-grp-dev-" + suffix
derived = base64.b64encode(hmac.new(base64.b64decode(KEY_B), group_device_id.encode(), hashlib.sha256).digest()).decode()
grouped = Device(group_device_id, derived, websockets=True)
check(grouped.state.assigned_hub == west["deviceHostName"], "group device assigned to {}".format(grouped.state.assigned_hub))
grouped.check_connected()
print("group enrollment: registered over MQTT on WebSocket and connected to", grouped.state.assigned_hub)

# The policy moves the individual device to the second hub; `reprovision` makes it register again.
current = dps.enrollment.get(individual_id)
current["iotHubs"] = [west["deviceHostName"]]
dps.enrollment.create_or_update(individual_id, current, if_match=current["etag"])
answer = individual.registry().invoke_device_method(
    individual.state.device_id, CloudToDeviceMethod(method_name="reprovision", payload={}, response_timeout_in_seconds=30)
)
check(answer.status == 200, "reprovision answer: {}".format(answer.status))
check(individual.moved.wait(60), "the device did not register again and reconnect")
check(individual.state.assigned_hub == west["deviceHostName"], "re-provisioned to {}".format(individual.state.assigned_hub))
individual.check_connected()
record = dps.device_registration_state.get(individual_id)
check(record["assignedHub"] == west["deviceHostName"], "registration record: {}".format(record))
print("re-provisioned by policy and `reprovision` to", individual.state.assigned_hub, "and reconnected there")

# The other scripts count devices and enrollments: leave both as they were.
for device in (individual, grouped):
    device.client.shutdown()
    device.registry().delete_device(device.state.device_id)
dps.enrollment.delete(individual_id)
dps.enrollment_group.delete(group_id)
print("python azure-iot-device 2.14.0: DPS over MQTT (individual, group, re-provisioning) passed")
