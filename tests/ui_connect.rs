//! The device list's live connection state and "Connect a device…", driven through the real views
//! with `egui_kittest` against the in-process simulator (which the test also reaches with its own
//! client, to take a device offline and to read its key).

// Test code: a failed unwrap is a failed test, with the panic message as the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::console::{Console, ConsoleSetup, sim_config};
use common::mqtt::{Via, connect, device_password, device_username, in_an_hour};
use egui::accesskit::Role;
use egui_kittest::kittest::{Queryable as _, by};
use hubdeck::app::model::connect_device::MASK;
use hubdeck::app::model::live::ConnectionsRoute;
use hubdeck::azure::wire::{AuthenticationMechanism, AuthenticationType, CloudToDeviceMethod, ConnectionState, Device, X509Thumbprint};
use hubdeck::sim::SimConfig;
use hubdeck::sim::methods::MethodConfig;

/// A console on the built-in profile with 20 demo devices (all on screen), where a rebooted
/// device stays offline long enough to be seen.
fn start() -> Console {
    let methods = MethodConfig { reboot_offline: Duration::from_mins(2), ..MethodConfig::default() };
    Console::start(ConsoleSetup::built_in(SimConfig { dps_demo: false, methods, ..sim_config(20) }))
}

/// The first connected, enabled device (by id).
fn online_device(console: &Console) -> String {
    let client = console.hub_client("contoso-east");
    let query = "SELECT * FROM devices WHERE connectionState = 'Connected' AND status = 'enabled'";
    let page = console.runtime.block_on(client.query_page::<hubdeck::azure::wire::Twin>(query, None, None)).unwrap();
    let mut ids: Vec<String> = page.items.into_iter().map(|twin| twin.device_id).collect();
    ids.sort();
    ids.into_iter().next().expect("the seeded fleet has an online device")
}

/// `· just now` or `· 7 s ago`: a change seconds ago, as the Connection column shows it.
fn is_recent(label: &str) -> bool {
    label == "· just now"
        || label.strip_prefix("· ").and_then(|rest| rest.strip_suffix(" s ago")).is_some_and(|seconds| seconds.parse::<u32>().is_ok())
}

fn wait_first_live_poll(console: &mut Console) {
    console.wait_for("the first live refresh", |app| app.state.devices.live.route != ConnectionsRoute::Unknown);
}

/// Selects `device_id` in the list and opens "Connect a device…", waiting for its key.
fn open_connect(console: &mut Console, device_id: &str) {
    console.click_label(device_id);
    console.click(Role::Button, "Connect a device…");
    console.wait_for("the device's key", |app| app.state.connect_device.as_ref().is_some_and(|dialog| !dialog.credential.is_loading()));
}

#[test]
fn the_list_shows_connection_state_and_follows_a_device_going_offline() {
    let mut console = start();
    let device_id = online_device(&console);
    wait_first_live_poll(&mut console);
    assert_eq!(console.app().state.devices.live.route, ConnectionsRoute::Offered, "the simulator reports connections");
    assert!(console.app().state.status.last_error.is_none(), "{:?}", console.app().state.status.last_error);
    console.harness.get_by_label("Connected with");
    assert!(!console.harness.query_all_by_label("Connected").collect::<Vec<_>>().is_empty());
    console.wait_for("when the rows in view last changed state", |app| {
        app.state.devices.rows.iter().all(|row| row.connection_since.is_some())
    });

    // Another device stays selected, the list sorted by id, while the device drops off.
    console.click(Role::Button, "Device ID");
    let other = console.view_ids().into_iter().find(|id| *id != device_id).unwrap();
    console.click_label(&other);
    let order = console.view_ids();
    let reboot = CloudToDeviceMethod {
        method_name: "reboot".to_owned(),
        payload: serde_json::Value::Null,
        response_timeout_in_seconds: Some(30),
        connect_timeout_in_seconds: Some(5),
    };
    let client = console.hub_client("contoso-east");
    assert_eq!(console.runtime.block_on(client.invoke_method(&device_id, &reboot)).unwrap().status, 200);
    console.wait_for("the rebooting device to show as disconnected", |app| {
        app.state.devices.row_by_id(&device_id).is_some_and(|row| row.connection_state == ConnectionState::Disconnected)
    });
    console.wait_for("since when it is disconnected", |app| {
        app.state.devices.row_by_id(&device_id).is_some_and(|row| row.connection_since.is_some())
    });
    assert!(
        console.harness.query_all(by().predicate(|node| node.value().is_some_and(|text| is_recent(&text)))).next().is_some(),
        "the change time is shown"
    );
    assert!(console.app().state.devices.selection.contains(&std::sync::Arc::from(other.as_str())), "the selection stays");
    assert_eq!(console.view_ids(), order, "the sort stays");

    // "Connected only" leaves it out.
    console.click(Role::CheckBox, "Connected only");
    let connected = console.view_ids();
    assert!(!connected.contains(&device_id) && !connected.is_empty(), "{connected:?}");
    console.click(Role::CheckBox, "Connected only");

    // The details say so too, with the time of the change.
    console.click_label(&device_id);
    console.click(Role::Button, "Details");
    console.wait_for("the details", |app| app.state.devices.details.as_ref().is_some_and(|details| details.loaded.is_loaded()));
    console.harness.get_by_label("Connection changed");
    let since = console.app().state.devices.row_by_id(&device_id).and_then(|row| row.connection_since).unwrap();
    console.harness.get_by_label_contains(&format!("{} (", since.to_wire()));
}

#[test]
fn connect_a_device_shows_the_connection_string_masked_until_show() {
    let mut console = start();
    let device_id = online_device(&console);
    let device = console.runtime.block_on(console.hub_client("contoso-east").get_device(&device_id)).unwrap();
    let key = device.primary_key().unwrap().expose().to_owned();
    open_connect(&mut console, &device_id);
    let ca = console.sim.ca_path().display().to_string();
    let host = console.sim.hub_device_host_name("contoso-east").unwrap();
    // The test's simulator listens for MQTT on a free port, so the command names it.
    let port = console.sim.hub_mqtt_address("contoso-east").unwrap().port();

    let masked = format!("HostName={host};DeviceId={device_id};SharedAccessKey={MASK}");
    console.harness.get_by_label(&masked);
    assert!(console.harness.query_all_by_label_contains(&key).next().is_none(), "the key is not on screen by default");
    let command = format!("hubdeck device --connection-string \"{masked}\" --ca-file {ca} --mqtt-port {port}");
    console.harness.get_by_label(&command);

    console.click(Role::Button, "Show");
    let clear = format!("HostName={host};DeviceId={device_id};SharedAccessKey={key}");
    console.harness.get_by_label(&clear);
    console.harness.get_by_label(&format!("hubdeck device --connection-string \"{clear}\" --ca-file {ca} --mqtt-port {port}"));
    console.click(Role::Button, "Hide");
    assert!(console.harness.query_all_by_label_contains(&key).next().is_none(), "hidden again");

    // Copy copies the real command, key included, whatever the screen shows.
    console.harness.get_by_role_and_label(Role::Button, "Copy command").click();
    console.harness.step();
    let copied: Vec<String> = console
        .harness
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|command| match command {
            egui::OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(copied, vec![format!("hubdeck device --connection-string \"{clear}\" --ca-file {ca} --mqtt-port {port}")]);

    console.click_label("Python");
    console
        .harness
        .get_by_label_contains(&format!("CONNECTION_STRING = \"HostName=localhost;DeviceId={device_id};SharedAccessKey={MASK}\""));
    console.harness.get_by_label_contains(&format!("CA_FILE = \"{ca}\""));
    console.harness.get_by_label_contains("server_verification_cert=open(CA_FILE).read()");
    console.click_label("Node.js");
    console.harness.get_by_label_contains("require('azure-iot-device-mqtt')");
    console.harness.get_by_label_contains(&format!("NODE_EXTRA_CA_CERTS={ca} node device.js"));
}

#[test]
fn an_x509_device_has_no_connection_string_and_says_why() {
    let mut console = start();
    let device = Device {
        device_id: "x509-door".to_owned(),
        authentication: Some(AuthenticationMechanism {
            symmetric_key: None,
            x509_thumbprint: Some(X509Thumbprint {
                primary_thumbprint: Some("9F1D3A7B9F1D3A7B9F1D3A7B9F1D3A7B9F1D3A7B".to_owned()),
                secondary_thumbprint: Some("1B2C3D4E1B2C3D4E1B2C3D4E1B2C3D4E1B2C3D4E".to_owned()),
            }),
            kind: AuthenticationType::SelfSigned,
        }),
        ..Device::default()
    };
    console.runtime.block_on(console.hub_client("contoso-east").create_device(&device)).unwrap();
    console.type_into(Role::TextInput, "Query", "deviceId = 'x509-door'");
    console.click(Role::Button, "Run");
    console.wait_for("the X.509 device", |app| app.state.devices.load_settled() && app.state.devices.rows.len() == 1);
    open_connect(&mut console, "x509-door");
    console.harness.get_by_label_contains("authenticates with an X.509 certificate");
    assert!(console.harness.query_all_by_label_contains("SharedAccessKey=").next().is_none());
    assert!(console.harness.query_by_label("Copy command").is_none());
}

#[test]
fn a_real_device_connected_over_mqtt_shows_its_protocol_and_client_live() {
    let mut console = start();
    let client = console.hub_client("contoso-east");
    let created = console.runtime.block_on(client.create_device(&Device::new_with_generated_keys("door-real"))).unwrap();
    let key = created.primary_key().unwrap().clone();
    console.type_into(Role::TextInput, "Query", "deviceId = 'door-real'");
    console.click(Role::Button, "Run");
    console.wait_for("the new device", |app| app.state.devices.load_settled() && app.state.devices.rows.len() == 1);
    assert_eq!(console.app().state.devices.rows[0].connection_state, ConnectionState::Disconnected);

    // Real device code connects over MQTT/TLS, as the Python SDK does.
    let host = console.sim.hub_device_host_name("contoso-east").unwrap();
    let address = console.sim.hub_mqtt_address("contoso-east").unwrap();
    let mut device = {
        let _runtime = console.runtime.enter();
        connect(
            Via::Tls(address),
            console.sim.ca_path(),
            "door-real",
            &device_username(&host, "door-real"),
            &device_password(&host, "door-real", &key, in_an_hour()),
        )
    };
    assert_eq!(console.runtime.block_on(device.connack()), rumqttc::ConnectReturnCode::Success);
    console.wait_for("the list to show the connection", |app| {
        app.state.devices.live.connection("door-real").is_some() && app.state.devices.rows[0].connection_state == ConnectionState::Connected
    });
    console.harness.get_by_label("MQTT · Python SDK 2.14.0");
    console.harness.get_by_label("Connected with");
    console.click(Role::CheckBox, "Connected only");
    assert_eq!(console.view_ids(), ["door-real"]);
    console.click(Role::CheckBox, "Connected only");

    // The details name the protocol and client too.
    console.click_label("door-real");
    console.click(Role::Button, "Details");
    console.wait_for("the details", |app| app.state.devices.details.as_ref().is_some_and(|details| details.loaded.is_loaded()));
    console.harness.get_by_label("MQTT");
    console.harness.get_by_label("Python SDK 2.14.0");
    console.harness.get_by_label("azure-iot-device-py/2.14.0(test)");

    // It leaves: the list follows.
    console.runtime.block_on(device.client.disconnect()).unwrap();
    console.wait_for("the list to show it gone", |app| {
        app.state.devices.live.connection("door-real").is_none()
            && app.state.devices.rows[0].connection_state == ConnectionState::Disconnected
    });
    assert!(console.harness.query_by_label("MQTT · Python SDK 2.14.0").is_none());
}
