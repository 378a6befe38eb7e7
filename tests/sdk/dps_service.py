"""Official Python DPS service SDK (azure-iot-deviceprovisioning 1.0.0b1) against `hubdeck sim`:
individual enrollments and enrollment groups (create_or_update, get, if_match, delete), attestation
mechanisms, paged queries, bulk operations, device registration states (get, group query, delete)
and access rights of the enrollmentread policy. Registration records are made by registering over
the DPS device REST API with plain `requests` (there is no Python DPS device SDK in the lock file);
the devices they create are removed from the hub with azure-iot-hub at the end.
Usage: python dps_service.py READY_FILE (REQUESTS_CA_BUNDLE must name the CA)."""

import base64
import hashlib
import hmac
import json
import sys
import time
import urllib.parse

import requests
from azure.core.exceptions import HttpResponseError
from azure.iot.deviceprovisioning import DeviceProvisioningClient
from azure.iot.hub import IoTHubRegistryManager

KEY_A = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
KEY_B = "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4="
# A device api-version late enough for the reprovisionedToInitialAssignment substatus (>= 2019-04-15).
DEVICE_API = "2021-06-01"


def expect_status(status, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except HttpResponseError as error:
        assert error.status_code == status, f"expected {status}, got {error.status_code}: {error.response.text()}"
        body = error.response.json()
        assert len(str(body["errorCode"])) == 6 and str(body["errorCode"]).isdigit(), body
        assert body["trackingId"] and body["message"] and body["timestampUtc"], body
        return error
    raise AssertionError(f"expected HTTP {status}, the call succeeded")


def sym(primary="", secondary=""):
    return {"type": "symmetricKey", "symmetricKey": {"primaryKey": primary, "secondaryKey": secondary}}


def enrollment(registration_id, **extra):
    body = {
        "registrationId": registration_id,
        "attestation": sym(),
        "provisioningStatus": "enabled",
        "reprovisionPolicy": {"updateHubAssignment": True, "migrateDeviceData": True},
        "allocationPolicy": "hashed",
        "capabilities": {"iotEdge": False},
    }
    body.update(extra)
    return body


def no_keys(record):
    keys = (record.get("attestation") or {}).get("symmetricKey") or {}
    return not keys.get("primaryKey") and not keys.get("secondaryKey")


def all_pages(paged):
    items, pages = [], 0
    for page in paged.by_page():
        page = list(page)
        assert len(page) <= 2, f"page {pages + 1} has {len(page)} items"
        items.extend(page)
        pages += 1
        assert pages < 1000, "the query never ends"
    return items, pages


def derived_key(group_key, registration_id):
    return base64.b64encode(hmac.new(base64.b64decode(group_key), registration_id.encode(), hashlib.sha256).digest()).decode()


def register(ready, registration_id, key):
    """DPS device registration over HTTPS: PUT …/register, then poll …/operations/{id}."""
    scope = ready["dps"]["idScope"]
    sr = urllib.parse.quote(f"{scope}/registrations/{registration_id}", safe="")
    se = str(int(time.time()) + 3600)
    sig = base64.b64encode(hmac.new(base64.b64decode(key), f"{sr}\n{se}".encode(), hashlib.sha256).digest()).decode()
    token = f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote(sig, safe='')}&se={se}&skn=registration"
    base = f"https://{ready['dps']['hostName']}/{scope}/registrations/{registration_id}"
    headers = {"Authorization": token, "Content-Type": "application/json"}
    answer = requests.put(f"{base}/register", params={"api-version": DEVICE_API}, headers=headers,
                          json={"registrationId": registration_id}, timeout=30)
    assert answer.status_code == 202, (answer.status_code, answer.text)
    operation = answer.json()
    assert operation["status"] == "assigning" and operation["operationId"], operation
    for _ in range(30):
        time.sleep(float(answer.headers.get("Retry-After", "1")))
        answer = requests.get(f"{base}/operations/{operation['operationId']}", params={"api-version": DEVICE_API},
                              headers=headers, timeout=30)
        assert answer.status_code in (200, 202), (answer.status_code, answer.text)
        if answer.status_code == 200:
            result = answer.json()
            assert result["status"] == "assigned", result
            return result["registrationState"]
    raise AssertionError(f"registration of {registration_id} never finished")


def main():
    ready = json.load(open(sys.argv[1]))
    east = ready["hubs"][0]
    client = DeviceProvisioningClient.from_connection_string(ready["dps"]["connectionStrings"]["provisioningserviceowner"])
    reader = DeviceProvisioningClient.from_connection_string(ready["dps"]["connectionStrings"]["enrollmentread"])
    registry = IoTHubRegistryManager.from_connection_string(east["connectionStrings"]["iothubowner"])

    # individual enrollment: create (keys generated), get (keys stripped), attestation mechanism
    print("enrollment create_or_update / get / get_attestation_mechanism")
    created = client.enrollment.create_or_update("reg-py-svc-1", enrollment(
        "reg-py-svc-1", deviceId="dev-py-svc-1",
        initialTwin={"tags": {"env": "test"}, "properties": {"desired": {"color": "blue"}}}))
    assert created["registrationId"] == "reg-py-svc-1" and created["deviceId"] == "dev-py-svc-1"
    keys = created["attestation"]["symmetricKey"]
    for key in (keys["primaryKey"], keys["secondaryKey"]):
        assert 16 <= len(base64.b64decode(key, validate=True)) <= 64, key
    assert keys["primaryKey"] != keys["secondaryKey"]
    assert created["etag"] and created["createdDateTimeUtc"] and created["lastUpdatedDateTimeUtc"], created
    fetched = client.enrollment.get("reg-py-svc-1")
    assert fetched["etag"] == created["etag"]
    assert no_keys(fetched), f"get must not return keys: {fetched['attestation']}"
    assert fetched["initialTwin"]["tags"] == {"env": "test"}
    mechanism = client.enrollment.get_attestation_mechanism("reg-py-svc-1")
    assert mechanism["type"] == "symmetricKey"
    assert mechanism["symmetricKey"] == {"primaryKey": keys["primaryKey"], "secondaryKey": keys["secondaryKey"]}, mechanism

    # update with if_match, stale etag, delete
    print("enrollment update with if_match; stale etag refused; delete")
    changed = dict(created, provisioningStatus="disabled")
    updated = client.enrollment.create_or_update("reg-py-svc-1", changed, if_match=created["etag"])
    assert updated["provisioningStatus"] == "disabled" and updated["etag"] != created["etag"]
    assert updated["createdDateTimeUtc"] == created["createdDateTimeUtc"]
    expect_status(412, client.enrollment.create_or_update, "reg-py-svc-1", dict(created, provisioningStatus="enabled"), if_match=created["etag"])
    assert client.enrollment.get("reg-py-svc-1")["provisioningStatus"] == "disabled"
    expect_status(412, client.enrollment.delete, "reg-py-svc-1", if_match=created["etag"])
    client.enrollment.delete("reg-py-svc-1", if_match=updated["etag"])
    expect_status(404, client.enrollment.get, "reg-py-svc-1")

    # the enrollmentread policy reads but cannot write
    print("enrollmentread policy: read allowed, write refused")
    assert reader.enrollment.get("b43-lobby-lock-01")["registrationId"] == "b43-lobby-lock-01"
    expect_status(401, reader.enrollment.create_or_update, "reg-py-svc-ro", enrollment("reg-py-svc-ro"))
    expect_status(404, client.enrollment.get, "reg-py-svc-ro")

    # enrollment group
    print("enrollment_group create_or_update / get / attestation / if_match / delete")
    group = client.enrollment_group.create_or_update("grp-py-svc-1", {
        "enrollmentGroupId": "grp-py-svc-1",
        "attestation": sym(KEY_A, KEY_B),
        "provisioningStatus": "enabled",
        "reprovisionPolicy": {"updateHubAssignment": True, "migrateDeviceData": True},
        "allocationPolicy": "static",
        "iotHubs": [east["hostName"]],
    })
    assert group["enrollmentGroupId"] == "grp-py-svc-1" and group["etag"]
    assert group["attestation"]["symmetricKey"]["primaryKey"] == KEY_A
    group_fetched = client.enrollment_group.get("grp-py-svc-1")
    assert group_fetched["etag"] == group["etag"] and no_keys(group_fetched), group_fetched["attestation"]
    group_mechanism = client.enrollment_group.get_attestation_mechanism("grp-py-svc-1")
    assert group_mechanism["symmetricKey"] == {"primaryKey": KEY_A, "secondaryKey": KEY_B}, group_mechanism
    group_updated = client.enrollment_group.create_or_update("grp-py-svc-1", dict(group, initialTwin={"tags": {"fleet": "py"}}),
                                                             if_match=group["etag"])
    assert group_updated["etag"] != group["etag"] and group_updated["initialTwin"]["tags"] == {"fleet": "py"}
    expect_status(412, client.enrollment_group.create_or_update, "grp-py-svc-1", group, if_match=group["etag"])
    expect_status(412, client.enrollment_group.delete, "grp-py-svc-1", if_match=group["etag"])

    # bulk
    print("enrollment run_bulk_operation create / per-item error / update / delete")
    bulk_ids = [f"reg-py-bulk-{index}" for index in range(1, 6)]
    result = client.enrollment.run_bulk_operation({"mode": "create", "enrollments": [enrollment(i) for i in bulk_ids]})
    assert result["isSuccessful"] is True and not result.get("errors"), result
    duplicate = client.enrollment.run_bulk_operation({"mode": "create", "enrollments": [enrollment(bulk_ids[0]), enrollment("reg-py-bulk-6")]})
    assert duplicate["isSuccessful"] is False, duplicate
    assert [error["registrationId"] for error in duplicate["errors"]] == [bulk_ids[0]], duplicate
    assert duplicate["errors"][0]["errorCode"], duplicate
    bulk_ids.append("reg-py-bulk-6")
    current = [client.enrollment.get(i) for i in bulk_ids]
    result = client.enrollment.run_bulk_operation({"mode": "update", "enrollments": [dict(item, provisioningStatus="disabled") for item in current]})
    assert result["isSuccessful"] is True, result
    assert all(client.enrollment.get(i)["provisioningStatus"] == "disabled" for i in bulk_ids)
    expect_status(400, client.enrollment.run_bulk_operation, {"mode": "create", "enrollments": [enrollment(f"reg-py-x{i}") for i in range(11)]})

    print("enrollment_group run_bulk_operation create / delete")
    groups = [{"enrollmentGroupId": f"grp-py-bulk-{index}", "attestation": sym(), "provisioningStatus": "enabled"} for index in (1, 2)]
    result = client.enrollment_group.run_bulk_operation({"mode": "create", "enrollmentGroups": groups})
    assert result["isSuccessful"] is True, result
    assert client.enrollment_group.get("grp-py-bulk-2")["enrollmentGroupId"] == "grp-py-bulk-2"

    # paged queries (top=2)
    ids_items, pages = all_pages(client.enrollment.query({"query": "SELECT * FROM enrollments"}, top=2))
    ids = [item["registrationId"] for item in ids_items]
    print(f"enrollment query: {len(ids)} items in {pages} pages")
    assert len(set(ids)) == len(ids), f"an enrollment was returned twice: {ids}"
    assert set(bulk_ids) <= set(ids) and "b43-lobby-lock-01" in ids and "reg-py-svc-1" not in ids, ids
    assert pages == (len(ids) + 1) // 2
    assert all(no_keys(item) for item in ids_items), "query must not return keys"
    group_items, pages = all_pages(client.enrollment_group.query({"query": "SELECT * FROM enrollmentGroups"}, top=2))
    group_ids = [item["enrollmentGroupId"] for item in group_items]
    print(f"enrollment_group query: {len(group_ids)} items in {pages} pages")
    assert len(set(group_ids)) == len(group_ids), group_ids
    assert {"building-43-locks", "lobby-thermostats", "field-kits", "grp-py-svc-1", "grp-py-bulk-1", "grp-py-bulk-2"} <= set(group_ids), group_ids

    result = client.enrollment.run_bulk_operation({"mode": "delete", "enrollments": [{"registrationId": i, "attestation": sym()} for i in bulk_ids]})
    assert result["isSuccessful"] is True, result
    for i in bulk_ids:
        expect_status(404, client.enrollment.get, i)
    result = client.enrollment_group.run_bulk_operation({"mode": "delete", "enrollmentGroups": groups})
    assert result["isSuccessful"] is True, result
    expect_status(404, client.enrollment_group.get, "grp-py-bulk-1")

    # device registration states
    print("device_registration_state get / query / delete")
    client.enrollment.create_or_update("reg-py-svc-reg", enrollment(
        "reg-py-svc-reg", deviceId="dev-py-svc-reg", attestation=sym(KEY_A, KEY_B), allocationPolicy="static", iotHubs=[east["hostName"]]))
    state = register(ready, "reg-py-svc-reg", KEY_A)
    assert state["assignedHub"] == east["hostName"] and state["deviceId"] == "dev-py-svc-reg", state
    assert state["substatus"] == "initialAssignment", state
    record = client.device_registration_state.get("reg-py-svc-reg")
    assert record["registrationId"] == "reg-py-svc-reg" and record["deviceId"] == "dev-py-svc-reg", record
    assert record["assignedHub"] == east["hostName"] and record["status"] == "assigned" and record["etag"], record

    grouped = register(ready, "reg-py-grp-1", derived_key(KEY_A, "reg-py-grp-1"))
    assert grouped["assignedHub"] == east["hostName"] and grouped["deviceId"] == "reg-py-grp-1", grouped
    assert (grouped.get("symmetricKey") or {}).get("enrollmentGroupId") == "grp-py-svc-1", grouped
    group_records, pages = all_pages(client.device_registration_state.query("grp-py-svc-1", top=2))
    assert [item["registrationId"] for item in group_records] == ["reg-py-grp-1"], group_records
    seeded, pages = all_pages(client.device_registration_state.query("building-43-locks", top=2))
    seeded_ids = [item["registrationId"] for item in seeded]
    assert len(set(seeded_ids)) == len(seeded_ids) and "reg-py-grp-1" not in seeded_ids, seeded_ids
    print(f"group registration query: {len(seeded_ids)} seeded records in {pages} pages")

    expect_status(412, client.device_registration_state.delete, "reg-py-svc-reg", if_match='"stale"')
    client.device_registration_state.delete("reg-py-svc-reg", if_match=record["etag"])
    expect_status(404, client.device_registration_state.get, "reg-py-svc-reg")
    assert registry.get_device("dev-py-svc-reg").device_id == "dev-py-svc-reg", "deleting a record must not touch the hub"

    # no record, but the identity exists on the hub (api-version >= 2019-04-15)
    again = register(ready, "reg-py-svc-reg", KEY_A)
    print(f"registered again without a record: {again['substatus']}")
    assert again["assignedHub"] == east["hostName"] and again["substatus"] == "reprovisionedToInitialAssignment", again

    # clean up
    client.device_registration_state.delete("reg-py-svc-reg")
    client.device_registration_state.delete("reg-py-grp-1")
    client.enrollment.delete("reg-py-svc-reg")
    client.enrollment_group.delete("grp-py-svc-1")
    registry.delete_device("dev-py-svc-reg")
    registry.delete_device("reg-py-grp-1")
    print("python azure-iot-deviceprovisioning 1.0.0b1: DPS service conformance passed")


if __name__ == "__main__":
    main()
