"""Official Python SDK (azure-iot-hub 2.7.0) against `hubdeck sim`: twin read, update with an
etag, a stale etag refused, `$` keys refused, replace, and a simulated device acknowledging a desired change.
Usage: python hub_twins.py READY_FILE (REQUESTS_CA_BUNDLE must name the CA)."""

import json
import sys
import time

from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import QuerySpecification, Twin, TwinProperties
from msrest.exceptions import HttpOperationError


def main():
    ready = json.load(open(sys.argv[1]))
    manager = IoTHubRegistryManager.from_connection_string(ready["connectionStrings"]["iothubowner"])
    manager.create_device_with_sas("py-twin", None, None, "enabled")

    twin = manager.get_twin("py-twin")
    assert twin.etag == "AAAAAAAAAAE=" and twin.version == 2, twin
    updated = manager.update_twin("py-twin", Twin(tags={"building": 43}, properties=TwinProperties(desired={"floor": 3, "mode": "eco"})), twin.etag)
    assert updated.etag != twin.etag
    assert updated.tags == {"building": 43}
    assert updated.properties.desired["floor"] == 3 and updated.properties.desired["$version"] == 2
    assert updated.properties.desired["$metadata"]["floor"]["$lastUpdatedVersion"] == 2

    try:
        manager.update_twin("py-twin", Twin(properties=TwinProperties(desired={"floor": 4})), twin.etag)
        raise AssertionError("a stale etag must be refused")
    except HttpOperationError as error:
        assert error.response.status_code == 412, error.response.status_code
        assert "PreconditionFailed" in error.response.text

    deleted = manager.update_twin("py-twin", Twin(properties=TwinProperties(desired={"mode": None})), updated.etag)
    assert "mode" not in deleted.properties.desired, "a null deletes the key"

    # A `$` key other than the echoed $metadata/$version is refused, and nothing changes.
    for bad in (Twin(properties=TwinProperties(desired={"$bad": 1})), Twin(tags={"$bad": 1})):
        try:
            manager.update_twin("py-twin", bad, "*")
            raise AssertionError("a $-prefixed key must be refused")
        except HttpOperationError as error:
            assert error.response.status_code == 400, error.response.status_code
            assert "ArgumentInvalid" in error.response.text and "'$'" in error.response.text, error.response.text
    assert manager.get_twin("py-twin").properties.desired["$version"] == 3, "the refused patches did not bump $version"

    replaced = manager.replace_twin("py-twin", Twin(tags={"room": 12}, properties=TwinProperties(desired={"target": 21})))
    assert replaced.tags == {"room": 12}
    assert "floor" not in replaced.properties.desired and replaced.properties.desired["target"] == 21
    assert replaced.properties.desired["$version"] == 4

    # A connected thermostat of the simulated fleet acknowledges a desired change.
    query = "SELECT * FROM devices WHERE tags.deviceType = 'thermostat' AND connectionState = 'Connected' AND status = 'enabled'"
    thermostat = manager.query_iot_hub(QuerySpecification(query=query), None, 1).items[0]
    written = manager.update_twin(thermostat.device_id, Twin(properties=TwinProperties(desired={"targetTemperature": 24})), thermostat.etag)
    version = written.properties.desired["$version"]
    deadline = time.time() + 10
    while True:
        ack = manager.get_twin(thermostat.device_id).properties.reported.get("targetTemperature", {})
        if ack.get("av", 0) >= version:
            break
        assert time.time() < deadline, f"no acknowledgement of $version {version}: {ack}"
        time.sleep(0.2)
    assert ack["value"] == 24 and ack["ac"] == 200, ack
    manager.delete_device("py-twin")
    print("python azure-iot-hub 2.7.0: twin conformance passed")


if __name__ == "__main__":
    main()
