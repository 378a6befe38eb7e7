"""Official Python SDK (azure-iot-hub 2.7.0) against `hubdeck sim`: registry, statistics, twin
read and query. Usage: python hub_registry.py READY_FILE (REQUESTS_CA_BUNDLE must name the CA)."""

import json
import sys

from azure.iot.hub import IoTHubRegistryManager
from azure.iot.hub.models import AuthenticationMechanism, ExportImportDevice, QuerySpecification, SymmetricKey
from msrest.exceptions import HttpOperationError

KEY_A = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
KEY_B = "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4="


def expect_status(status, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except HttpOperationError as error:
        assert error.response.status_code == status, f"expected {status}, got {error.response.status_code}: {error.response.text}"
        return error.response
    raise AssertionError(f"expected HTTP {status}, the call succeeded")


def query_all(manager, sql, page_size):
    items, pages, token = [], 0, None
    while True:
        result = manager.query_iot_hub(QuerySpecification(query=sql), token, page_size)
        items.extend(result.items)
        pages += 1
        token = result.continuation_token
        if not token:
            return items, pages


def main():
    ready = json.load(open(sys.argv[1]))
    manager = IoTHubRegistryManager.from_connection_string(ready["connectionStrings"]["iothubowner"])
    fleet = ready["deviceCount"]

    # create with keys, create without keys (the service generates them)
    with_keys = manager.create_device_with_sas("py-keys", KEY_A, KEY_B, "enabled")
    assert with_keys.authentication.symmetric_key.primary_key == KEY_A
    assert with_keys.status == "enabled" and with_keys.connection_state == "Disconnected"
    generated = manager.create_device_with_sas("py-gen", None, None, "enabled")
    assert len(generated.authentication.symmetric_key.primary_key) == 44
    assert generated.authentication.symmetric_key.primary_key != generated.authentication.symmetric_key.secondary_key
    conflict = expect_status(409, manager.create_device_with_sas, "py-keys", KEY_A, KEY_B, "enabled")
    assert conflict.headers["iothub-errorcode"] == "DeviceAlreadyExists"

    # get, update with etag, stale etag refused
    fetched = manager.get_device("py-keys")
    assert fetched.etag == with_keys.etag and fetched.generation_id == with_keys.generation_id
    updated = manager.update_device_with_sas("py-keys", fetched.etag, KEY_A, KEY_B, "disabled", status_reason="lost")
    assert updated.status == "disabled" and updated.status_reason == "lost"
    assert updated.etag != fetched.etag
    stale = expect_status(412, manager.update_device_with_sas, "py-keys", fetched.etag, KEY_A, KEY_B, "enabled")
    assert "PreconditionFailed" in stale.text
    assert manager.get_device("py-keys").status == "disabled"

    # list and bulk
    listed = manager.get_devices(10)
    assert len(listed) == 10 and len({device.device_id for device in listed}) == 10
    bulk = [
        ExportImportDevice(id=f"py-bulk-{index}", import_mode="create", status="enabled",
                           authentication=AuthenticationMechanism(type="sas", symmetric_key=SymmetricKey(primary_key=KEY_A, secondary_key=KEY_B)))
        for index in range(3)
    ]
    result = manager.bulk_create_or_update_devices(bulk)
    assert result.is_successful, result.errors
    again = manager.bulk_create_or_update_devices(bulk[:1])
    assert not again.is_successful and again.errors[0].error_code == "DeviceAlreadyExists"

    # statistics
    statistics = manager.get_device_registry_statistics()
    assert statistics.total_device_count == fleet + 5, statistics
    assert statistics.disabled_device_count >= 1
    service = manager.get_service_statistics()
    assert service.connected_device_count > 0

    # twin
    twin = manager.get_twin("py-gen")
    assert twin.device_id == "py-gen" and twin.etag == "AAAAAAAAAAE=" and twin.version == 2
    assert twin.properties.desired["$version"] == 1 and twin.properties.reported["$version"] == 1
    assert twin.device_etag == generated.etag
    fleet_twin = manager.get_twin(listed[0].device_id)
    assert "building" in fleet_twin.tags and "firmware" in fleet_twin.properties.reported

    # query: page size 2 across several pages, then the whole registry
    ours, pages = query_all(manager, "SELECT * FROM devices WHERE STARTSWITH(deviceId, 'py-')", 2)
    assert pages == 3, pages
    assert sorted(twin.device_id for twin in ours) == ["py-bulk-0", "py-bulk-1", "py-bulk-2", "py-gen", "py-keys"]
    assert all(twin.etag and twin.properties.desired["$version"] >= 1 for twin in ours)
    everything, pages = query_all(manager, "SELECT * FROM devices", 100)
    assert len(everything) == fleet + 5 and len({twin.device_id for twin in everything}) == fleet + 5, len(everything)
    # (The Python SDK turns every query row into a Twin, so aggregates are checked in the Node run.)
    disabled, _ = query_all(manager, "SELECT * FROM devices WHERE status = 'disabled'", 1000)
    assert len(disabled) == statistics.disabled_device_count
    bad = expect_status(400, manager.query_iot_hub, QuerySpecification(query="SELECT * FROM devices WHERE tags.x = = 1"))
    assert "line 1, column" in bad.text

    # delete without etag (the SDK sends "*"), with etag, and the 404 after
    manager.delete_device("py-gen")
    current = manager.get_device("py-keys")
    expect_status(412, manager.delete_device, "py-keys", etag=fetched.etag)
    manager.delete_device("py-keys", etag=current.etag)
    gone = expect_status(404, manager.get_device, "py-keys")
    assert gone.headers["iothub-errorcode"] == "DeviceNotFound"
    removal = manager.bulk_create_or_update_devices([ExportImportDevice(id=f"py-bulk-{index}", import_mode="delete") for index in range(3)])
    assert removal.is_successful
    assert manager.get_device_registry_statistics().total_device_count == fleet
    print("python azure-iot-hub 2.7.0: registry, statistics, twin and query conformance passed")


if __name__ == "__main__":
    main()
