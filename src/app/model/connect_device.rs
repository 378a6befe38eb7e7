//! "Connect a device…": the device's connection string and the exact command lines that run it
//! against the hub in use — `hubdeck device`, a Python `azure-iot-device` script and a Node
//! `azure-iot-device-mqtt` script —, built from the device's key (read on demand, kept in a
//! [`Secret`]) and how devices reach the hub ([`DeviceSide`]). Pure text building, so every
//! line is unit-tested; the view shows them masked until asked.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::command::{Command, DeviceCommand, RequestId};
use super::loadable::Loadable;
use crate::azure::secret::Secret;
use crate::azure::wire::{AuthenticationType, Device};

/// The MQTT port device SDKs use unless told otherwise (the Python SDK cannot be told).
pub const DEFAULT_MQTT_PORT: u16 = 8883;
/// What stands for the key on screen until "Show" is clicked.
pub const MASK: &str = "••••••••••••";

/// How device code reaches the hub in use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceSide {
    /// The host name devices connect to: the hub's, without a port (device SDKs take none).
    pub host: String,
    /// The CA certificate devices must trust (the simulator's, or the profile's CA file);
    /// `None` for a real hub, whose certificate devices already trust.
    pub ca_file: Option<PathBuf>,
    /// The MQTT port when it is not [`DEFAULT_MQTT_PORT`] (the simulator started elsewhere).
    pub mqtt_port: Option<u16>,
}

impl DeviceSide {
    /// A real hub or a simulator reached at `host_name` (a port, if any, is dropped).
    pub fn new(host_name: &str, ca_file: Option<PathBuf>, mqtt_port: Option<u16>) -> Self {
        Self { host: device_host(host_name).to_owned(), ca_file, mqtt_port: mqtt_port.filter(|port| *port != DEFAULT_MQTT_PORT) }
    }
}

/// `host` of `host:port` (and of `[v6]:port`); device SDKs cannot take a port in `HostName`.
pub fn device_host(host_name: &str) -> &str {
    if host_name.starts_with('[') {
        return host_name.split_once(']').map_or(host_name, |(address, _)| &host_name[..=address.len()]);
    }
    match host_name.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => host_name,
    }
}

/// The device's credential as far as a connection string goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceCredential {
    /// Its primary symmetric key.
    SymmetricKey(Secret),
    /// No connection string can be built; why, in words.
    NoKey(String),
}

impl DeviceCredential {
    /// The credential of an identity read from the registry.
    pub fn of(device: &Device) -> Self {
        let kind = device.authentication.as_ref().map_or(AuthenticationType::Sas, |auth| auth.kind);
        match (kind, device.primary_key()) {
            (AuthenticationType::Sas, Some(key)) => Self::SymmetricKey(key.clone()),
            (AuthenticationType::Sas, None) => Self::NoKey("This device has no symmetric key, so it has no connection string.".to_owned()),
            (AuthenticationType::SelfSigned | AuthenticationType::CertificateAuthority, _) => Self::NoKey(
                "This device authenticates with an X.509 certificate, not a shared access key: device code connects it with its \
                 certificate and private key, so there is no connection string to show."
                    .to_owned(),
            ),
            (AuthenticationType::None, _) => Self::NoKey("This device has no credential, so it cannot connect on its own.".to_owned()),
        }
    }
}

/// Which way of running the device the dialog shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectTab {
    /// `hubdeck device`.
    #[default]
    Hubdeck,
    /// Python `azure-iot-device`.
    Python,
    /// Node `azure-iot-device-mqtt`.
    Node,
}

impl ConnectTab {
    /// Every tab, in order.
    pub const ALL: [Self; 3] = [Self::Hubdeck, Self::Python, Self::Node];

    /// The tab's title.
    pub fn label(self) -> &'static str {
        match self {
            Self::Hubdeck => "hubdeck device",
            Self::Python => "Python",
            Self::Node => "Node.js",
        }
    }
}

/// The dialog.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectDialog {
    /// The device.
    pub device_id: Arc<str>,
    /// Its key, read when the dialog opened.
    pub credential: Loadable<DeviceCredential>,
    /// Show the key in clear (never by default: screenshots must not show it).
    pub reveal: bool,
    /// The way of running it shown.
    pub tab: ConnectTab,
}

impl ConnectDialog {
    /// Opens the dialog for `device_id` and asks for its key.
    pub fn open(device_id: Arc<str>, out: &mut Vec<Command>) -> Self {
        let request = RequestId::fresh();
        let mut credential = Loadable::Idle;
        credential.start(request);
        out.push(DeviceCommand::LoadCredential { request, device_id: Arc::clone(&device_id) }.into());
        Self { device_id, credential, reveal: false, tab: ConnectTab::default() }
    }

    /// The answer to the key read; false when it is stale.
    pub fn finish(&mut self, request: RequestId, device_id: &str, result: Result<DeviceCredential, super::error::AppError>) -> bool {
        *self.device_id == *device_id && self.credential.finish(request, result)
    }
}

/// The connection string and the command lines, with the key in clear or masked.
#[derive(Clone, PartialEq, Eq)]
pub struct Snippets {
    /// `HostName=…;DeviceId=…;SharedAccessKey=…`.
    pub connection_string: String,
    /// `hubdeck device --connection-string "…" [--ca-file …] [--mqtt-port N]`.
    pub hubdeck: String,
    /// A Python `azure-iot-device` script (`device.py`).
    pub python: String,
    /// How to run it.
    pub python_run: String,
    /// A Node `azure-iot-device-mqtt` script (`device.js`).
    pub node: String,
    /// How to run it (`NODE_EXTRA_CA_CERTS=… node device.js`).
    pub node_run: String,
}

impl fmt::Debug for Snippets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Snippets(***)") // they hold the device key
    }
}

impl Snippets {
    /// Everything for `device_id` with `key` (the real one, or [`MASK`] for the screen).
    pub fn build(device_id: &str, key: &str, side: &DeviceSide) -> Self {
        let connection_string = format!("HostName={};DeviceId={device_id};SharedAccessKey={key}", side.host);
        let ca = side.ca_file.as_ref().map(|path| path.display().to_string());
        let mut words = vec![format!("hubdeck device --connection-string {}", shell_quote(&connection_string))];
        words.extend(ca.as_ref().map(|ca| format!("--ca-file {}", shell_word(ca))));
        words.extend(side.mqtt_port.map(|port| format!("--mqtt-port {port}")));
        let hubdeck = words.join(" ");
        Self {
            python: python_script(&connection_string, ca.as_deref(), side.mqtt_port),
            python_run: "pip install azure-iot-device\npython3 device.py".to_owned(),
            node: node_script(&connection_string, &side.host, side.mqtt_port),
            node_run: match &ca {
                Some(ca) => {
                    format!("npm install azure-iot-device azure-iot-device-mqtt\nNODE_EXTRA_CA_CERTS={} node device.js", shell_word(ca))
                }
                None => "npm install azure-iot-device azure-iot-device-mqtt\nnode device.js".to_owned(),
            },
            hubdeck,
            connection_string,
        }
    }
}

fn python_script(connection_string: &str, ca: Option<&str>, mqtt_port: Option<u16>) -> String {
    let mut lines = vec![
        "import time\n\nfrom azure.iot.device import IoTHubDeviceClient, MethodResponse\n".to_owned(),
        format!("CONNECTION_STRING = {}", literal(connection_string)),
    ];
    lines.extend(ca.map(|ca| format!("CA_FILE = {}", literal(ca))));
    lines.extend(mqtt_port.map(|port| {
        format!("# The Python SDK always connects to port {DEFAULT_MQTT_PORT} (443 with websockets=True); this MQTT endpoint is on {port}.")
    }));
    let mut script = lines.join("\n");
    script.push_str("\n\n");
    script.push_str(if ca.is_some() {
        "client = IoTHubDeviceClient.create_from_connection_string(\n    CONNECTION_STRING, server_verification_cert=open(CA_FILE).read()\n)\n"
    } else {
        "client = IoTHubDeviceClient.create_from_connection_string(CONNECTION_STRING)\n"
    });
    script.push_str(
        "\n\ndef on_method(request):\n    print(\"method\", request.name, request.payload)\n    \
         response = MethodResponse.create_from_method_request(request, 200, {\"result\": \"ok\"})\n    \
         client.send_method_response(response)\n\n\n\
         def on_desired(patch):\n    print(\"desired\", patch)\n\n\n\
         client.on_method_request_received = on_method\n\
         client.on_twin_desired_properties_patch_received = on_desired\n\
         client.connect()\n\
         print(\"connected; Ctrl+C to stop\")\n\
         while True:\n    time.sleep(60)\n",
    );
    script
}

fn node_script(connection_string: &str, host: &str, mqtt_port: Option<u16>) -> String {
    // The Node MQTT transport takes a port through GatewayHostName.
    let connection_string = match mqtt_port {
        Some(port) => format!("{connection_string};GatewayHostName={host}:{port}"),
        None => connection_string.to_owned(),
    };
    format!(
        "const {{ Client }} = require('azure-iot-device');\n\
         const {{ Mqtt }} = require('azure-iot-device-mqtt');\n\n\
         const client = Client.fromConnectionString({}, Mqtt);\n\n\
         client.onDeviceMethod('lockDoor', (request, response) => {{\n  \
         console.log('lockDoor', request.payload);\n  \
         response.send(200, {{ result: 'locked' }}, () => {{}});\n\
         }});\n\n\
         client.open()\n  \
         .then(() => client.getTwin())\n  \
         .then((twin) => {{\n    \
         console.log('connected; Ctrl+C to stop');\n    \
         twin.on('properties.desired', (patch) => console.log('desired', patch));\n  \
         }})\n  \
         .catch((error) => {{\n    \
         console.error(error.message);\n    \
         process.exit(1);\n  \
         }});\n",
        literal(&connection_string)
    )
}

/// A string literal valid in Python and JavaScript alike (JSON's escapes are both's).
fn literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

/// `"…"` for a POSIX shell: `\`, `"`, `$` and `` ` `` escaped.
fn shell_quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// A path as one shell word: bare when it needs no quoting, else [`shell_quote`]d.
fn shell_word(text: &str) -> String {
    let plain =
        !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | ':' | '+' | ',' | '@'));
    if plain { text.to_owned() } else { shell_quote(text) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn simulator() -> DeviceSide {
        DeviceSide::new("localhost:8443", Some(PathBuf::from("/home/ops/.local/share/hubdeck/sim/ca.pem")), None)
    }

    #[test]
    fn the_device_host_has_no_port() {
        assert_eq!(device_host("localhost:8443"), "localhost");
        assert_eq!(device_host("contoso.azure-devices.net"), "contoso.azure-devices.net");
        assert_eq!(device_host("127.0.0.2:443"), "127.0.0.2");
        assert_eq!(device_host("[::1]:8443"), "[::1]");
        assert_eq!(device_host("::1"), "::1");
        assert_eq!(DeviceSide::new("localhost:8443", None, Some(8883)).mqtt_port, None, "the default port is not spelled out");
    }

    #[test]
    fn command_lines_for_the_simulator() {
        let snippets = Snippets::build("b43-f3-lock-00017", "a2V5", &simulator());
        assert_eq!(snippets.connection_string, "HostName=localhost;DeviceId=b43-f3-lock-00017;SharedAccessKey=a2V5");
        assert_eq!(
            snippets.hubdeck,
            "hubdeck device --connection-string \"HostName=localhost;DeviceId=b43-f3-lock-00017;SharedAccessKey=a2V5\" \
             --ca-file /home/ops/.local/share/hubdeck/sim/ca.pem"
        );
        assert!(snippets.python.contains("CONNECTION_STRING = \"HostName=localhost;DeviceId=b43-f3-lock-00017;SharedAccessKey=a2V5\""));
        assert!(snippets.python.contains("CA_FILE = \"/home/ops/.local/share/hubdeck/sim/ca.pem\""));
        assert!(
            snippets
                .python
                .contains("create_from_connection_string(\n    CONNECTION_STRING, server_verification_cert=open(CA_FILE).read()")
        );
        assert!(
            snippets
                .node
                .contains("Client.fromConnectionString(\"HostName=localhost;DeviceId=b43-f3-lock-00017;SharedAccessKey=a2V5\", Mqtt)")
        );
        assert!(snippets.node.contains("require('azure-iot-device-mqtt')"));
        assert!(snippets.node_run.ends_with("NODE_EXTRA_CA_CERTS=/home/ops/.local/share/hubdeck/sim/ca.pem node device.js"));
        assert!(!format!("{snippets:?}").contains("a2V5"), "Debug hides the key");
    }

    #[test]
    fn a_real_hub_needs_no_ca_and_another_mqtt_port_is_spelled_out() {
        let real = DeviceSide::new("contoso.azure-devices.net", None, None);
        let snippets = Snippets::build("d1", "a2V5", &real);
        assert_eq!(
            snippets.hubdeck,
            "hubdeck device --connection-string \"HostName=contoso.azure-devices.net;DeviceId=d1;SharedAccessKey=a2V5\""
        );
        assert!(!snippets.python.contains("CA_FILE") && !snippets.python.contains("server_verification_cert"));
        assert_eq!(snippets.node_run, "npm install azure-iot-device azure-iot-device-mqtt\nnode device.js");

        let elsewhere = DeviceSide::new("localhost:8443", Some(PathBuf::from("/tmp/my sim/ca.pem")), Some(18_883));
        let snippets = Snippets::build("d1", "a2V5", &elsewhere);
        assert!(snippets.hubdeck.ends_with(" --ca-file \"/tmp/my sim/ca.pem\" --mqtt-port 18883"), "{}", snippets.hubdeck);
        assert!(snippets.node.contains(";GatewayHostName=localhost:18883\""));
        assert!(snippets.python.contains("this MQTT endpoint is on 18883"));
    }

    #[test]
    fn odd_characters_are_quoted_for_each_language() {
        let snippets = Snippets::build("it's$a\"device", "a2V5", &simulator());
        assert!(snippets.hubdeck.contains("DeviceId=it's\\$a\\\"device;"), "{}", snippets.hubdeck);
        assert!(snippets.python.contains("DeviceId=it's$a\\\"device;"));
    }

    #[test]
    fn the_mask_hides_the_key_everywhere() {
        let snippets = Snippets::build("d1", MASK, &simulator());
        for text in [&snippets.connection_string, &snippets.hubdeck, &snippets.python, &snippets.node] {
            assert!(text.contains(MASK));
        }
    }

    #[test]
    fn only_symmetric_keys_make_a_connection_string() {
        let sas: Device = serde_json::from_value(json!({"deviceId": "d1", "authentication": {"type": "sas",
            "symmetricKey": {"primaryKey": "cHJpbWFyeQ==", "secondaryKey": "c2Vjb25kYXJ5"}}}))
        .unwrap();
        assert_eq!(DeviceCredential::of(&sas), DeviceCredential::SymmetricKey(Secret::new("cHJpbWFyeQ==")));
        let x509: Device = serde_json::from_value(json!({"deviceId": "d2", "authentication": {"type": "selfSigned",
            "x509Thumbprint": {"primaryThumbprint": "AB12"}}}))
        .unwrap();
        assert!(matches!(DeviceCredential::of(&x509), DeviceCredential::NoKey(why) if why.contains("X.509")));
        let keyless: Device = serde_json::from_value(json!({"deviceId": "d3", "authentication": {"type": "sas"}})).unwrap();
        assert!(matches!(DeviceCredential::of(&keyless), DeviceCredential::NoKey(why) if why.contains("no symmetric key")));
    }
}
