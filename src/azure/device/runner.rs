//! Runs one device: registers through DPS when started that way, connects with the retry rules,
//! reports its state, acknowledges desired changes, answers methods, sends telemetry, renews its
//! password before it expires, reboots and re-provisions on request, until told to stop. What
//! happens is told to a [`Reporter`] (the command prints it, the fleet counts it).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::{Semaphore, SemaphorePermit, watch};

use super::client::{DeviceClient, DeviceMessage, HubIdentity};
use super::door_app::{AfterAnswer, DesiredChange, DoorApp, acknowledge_desired, pending_acknowledgements};
use super::error::{ConnectFailure, DeviceError};
use super::provisioning::{ProvisioningSettings, register};
use super::reconnect::{Connector, ReconnectPolicy, RetryNote, establish};
use super::transport::TransportSettings;

/// Where the device's identity comes from.
#[derive(Clone, Debug)]
pub enum IdentitySource {
    /// A device connection string: one hub, for good.
    ConnectionString(HubIdentity),
    /// DPS: the hub is whatever DPS assigns, asked again when the hub refuses the device.
    Dps(ProvisioningSettings),
}

impl IdentitySource {
    /// The device id or registration id, for messages.
    pub fn label(&self) -> &str {
        match self {
            Self::ConnectionString(identity) => &identity.device_id,
            Self::Dps(settings) => &settings.registration_id,
        }
    }
}

/// How one device runs.
#[derive(Clone, Debug)]
pub struct DeviceSettings {
    /// Who it is.
    pub source: IdentitySource,
    /// How it connects.
    pub transport: TransportSettings,
    /// Telemetry every this long (`None`: no telemetry).
    pub telemetry_interval: Option<Duration>,
    /// How long a `reboot` keeps the device away.
    pub reboot_delay: Duration,
    /// The retry rules.
    pub policy: ReconnectPolicy,
    /// Bounds how many devices connect or register at once (a fleet shares one).
    pub connect_gate: Option<Arc<Semaphore>>,
}

/// What happened to a device.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceEvent {
    /// DPS assigned it.
    Provisioned {
        /// The hub.
        assigned_hub: String,
        /// The device id there.
        device_id: String,
    },
    /// Connected.
    Connected {
        /// `hub {HostName}`.
        endpoint: String,
        /// Where (`mqtts://…`, `wss://…`).
        url: String,
    },
    /// Waiting before the next attempt.
    Retrying(RetryNote),
    /// Its state was reported.
    StateReported {
        /// The reported section's version.
        version: Option<u64>,
    },
    /// A desired property changed (and was acknowledged).
    DesiredChanged {
        /// The desired section's version.
        version: Option<u64>,
        /// What changed.
        change: DesiredChange,
    },
    /// A direct method was answered.
    MethodAnswered {
        /// The method.
        name: String,
        /// The status sent back.
        status: u16,
        /// The payload sent back.
        payload: Value,
    },
    /// A telemetry message was accepted (PUBACK).
    TelemetrySent {
        /// Its message id.
        message_id: String,
        /// Its body.
        body: Value,
    },
    /// A cloud-to-device message arrived.
    CloudToDevice {
        /// Its properties.
        properties: Vec<(String, String)>,
        /// Its body, as text.
        body: String,
    },
    /// The connection ended.
    Disconnected {
        /// Why.
        reason: String,
    },
    /// Rebooting: away for the delay.
    Rebooting {
        /// How long.
        delay: Duration,
    },
    /// Registering again through DPS.
    Reprovisioning,
    /// A request failed while the connection lived on.
    Problem(String),
    /// The retry rules gave up.
    GaveUp(String),
}

impl fmt::Display for DeviceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Provisioned { assigned_hub, device_id } => write!(f, "DPS assigned device '{device_id}' to hub {assigned_hub}"),
            Self::Connected { endpoint, url } => write!(f, "connected to {endpoint} ({url})"),
            Self::Retrying(note) => {
                let then = match note.then {
                    super::reconnect::Step::Provision => "registering through DPS",
                    super::reconnect::Step::Connect => "connecting",
                };
                write!(f, "{}; {then} again in {:.1} s", note.failure, note.wait.as_secs_f64())
            }
            Self::StateReported { version } => match version {
                Some(version) => write!(f, "reported properties updated (reported $version {version})"),
                None => write!(f, "reported properties updated"),
            },
            Self::DesiredChanged { version, change } => {
                let version = version.map_or_else(String::new, |version| format!(" ($version {version})"));
                if change.value.is_null() {
                    write!(f, "desired '{}' removed{version}; acknowledged", change.name)
                } else {
                    write!(f, "desired '{}' = {}{version}; acknowledged", change.name, change.value)
                }
            }
            Self::MethodAnswered { name, status, payload } => write!(f, "method '{name}' answered {status} {payload}"),
            Self::TelemetrySent { message_id, body } => write!(f, "telemetry {message_id} sent: {body}"),
            Self::CloudToDevice { properties, body } => {
                let properties = properties.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join(", ");
                write!(f, "cloud-to-device message [{properties}]: {body}")
            }
            Self::Disconnected { reason } => write!(f, "disconnected: {reason}"),
            Self::Rebooting { delay } => write!(f, "rebooting: back in {} s", delay.as_secs()),
            Self::Reprovisioning => write!(f, "re-provisioning through DPS"),
            Self::Problem(problem) => write!(f, "problem: {problem}"),
            Self::GaveUp(reason) => write!(f, "gave up: {reason}"),
        }
    }
}

/// Told what happens to each device (by its device or registration id).
pub trait Reporter: Send + Sync {
    /// One event.
    fn report(&self, device: &str, event: DeviceEvent);
}

/// Runs the device until `stop` turns true (or its sender is dropped), or until the retry rules
/// give up.
pub async fn run_device(settings: DeviceSettings, reporter: Arc<dyn Reporter>, mut stop: watch::Receiver<bool>) -> Result<(), DeviceError> {
    let label = settings.source.label().to_owned();
    let identity = match &settings.source {
        IdentitySource::ConnectionString(identity) => Some(identity.clone()),
        IdentitySource::Dps(_) => None,
    };
    let mut connector = HubConnector { settings: &settings, identity, reporter: reporter.as_ref(), label: &label };
    let mut app = DoorApp::new(matches!(settings.source, IdentitySource::Dps(_)));
    let mut after: Option<ConnectFailure> = None;
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let established = {
            let report_retry = |note: &RetryNote| reporter.report(&label, DeviceEvent::Retrying(note.clone()));
            tokio::select! {
                established = establish(&mut connector, &settings.policy, after.take(), report_retry) => established,
                _ = stop.changed() => return Ok(()),
            }
        };
        let mut client = match established {
            Ok(client) => client,
            Err(failure) => {
                reporter.report(&label, DeviceEvent::GaveUp(failure.to_string()));
                return Err(DeviceError::Connect(failure));
            }
        };
        reporter.report(&label, DeviceEvent::Connected { endpoint: client.endpoint().to_owned(), url: client.url().to_owned() });
        let end = serve(&mut client, &mut app, &settings, reporter.as_ref(), &label, &mut stop).await;
        let reason = match &end {
            SessionEnd::Stop => "stopping".to_owned(),
            SessionEnd::Renew => "renewing the password before it expires".to_owned(),
            SessionEnd::Reboot => "rebooting".to_owned(),
            SessionEnd::Reprovision => "re-provisioning".to_owned(),
            SessionEnd::Lost(failure) => failure.to_string(),
        };
        client.close().await;
        reporter.report(&label, DeviceEvent::Disconnected { reason });
        match end {
            SessionEnd::Stop => return Ok(()),
            SessionEnd::Renew => {}
            SessionEnd::Reboot => {
                reporter.report(&label, DeviceEvent::Rebooting { delay: settings.reboot_delay });
                tokio::select! {
                    () = tokio::time::sleep(settings.reboot_delay) => {}
                    _ = stop.changed() => return Ok(()),
                }
            }
            SessionEnd::Reprovision => {
                reporter.report(&label, DeviceEvent::Reprovisioning);
                connector.identity = None;
            }
            SessionEnd::Lost(failure) => after = Some(failure),
        }
    }
}

/// Why a connection ended.
enum SessionEnd {
    Stop,
    Renew,
    Reboot,
    Reprovision,
    Lost(ConnectFailure),
}

/// Serves one connection until it ends.
async fn serve(
    client: &mut DeviceClient,
    app: &mut DoorApp,
    settings: &DeviceSettings,
    reporter: &dyn Reporter,
    label: &str,
    stop: &mut watch::Receiver<bool>,
) -> SessionEnd {
    let connected_at = Utc::now();
    report_state_on_connect(client, app, reporter, label, connected_at).await;
    let mut telemetry = settings.telemetry_interval.map(|every| {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    let renew_at = client.renew_at();
    loop {
        tokio::select! {
            _ = stop.changed() => return SessionEnd::Stop,
            () = tokio::time::sleep_until(renew_at) => return SessionEnd::Renew,
            () = tick(telemetry.as_mut()) => send_telemetry(client, app, reporter, label).await,
            message = client.next_message() => match message {
                DeviceMessage::Closed(failure) => return SessionEnd::Lost(failure),
                DeviceMessage::MethodCall { name, rid, payload } => {
                    let answer = app.answer_method(&name, &payload, Utc::now());
                    if let Err(error) = client.respond_to_method(&rid, answer.status, &answer.payload).await {
                        reporter.report(label, DeviceEvent::Problem(format!("answering '{name}': {error}")));
                    }
                    reporter.report(label, DeviceEvent::MethodAnswered { name, status: answer.status, payload: answer.payload });
                    match answer.then {
                        AfterAnswer::Nothing => {}
                        AfterAnswer::ReportState => report(client, reporter, label, app.reported_state(Utc::now(), connected_at)).await,
                        AfterAnswer::Reboot => return SessionEnd::Reboot,
                        AfterAnswer::Reprovision => return SessionEnd::Reprovision,
                    }
                }
                DeviceMessage::DesiredPatch { version, patch } => {
                    let (acknowledgements, changes) = acknowledge_desired(&patch, version);
                    for change in changes {
                        reporter.report(label, DeviceEvent::DesiredChanged { version, change });
                    }
                    if let Some(acknowledgements) = acknowledgements {
                        report(client, reporter, label, acknowledgements).await;
                    }
                }
                DeviceMessage::CloudToDevice { properties, body } => {
                    let body = String::from_utf8_lossy(&body).into_owned();
                    reporter.report(label, DeviceEvent::CloudToDevice { properties, body });
                }
            },
        }
    }
}

/// Reads the twin, acknowledges desired changes made while the device was away and reports
/// the device's state, in one patch.
async fn report_state_on_connect(
    client: &DeviceClient,
    app: &DoorApp,
    reporter: &dyn Reporter,
    label: &str,
    connected_at: chrono::DateTime<Utc>,
) {
    let mut patch = app.reported_state(Utc::now(), connected_at);
    match client.get_twin().await {
        Ok(twin) => {
            let version = twin.get("desired").and_then(|desired| desired.get("$version")).and_then(Value::as_u64);
            let (acknowledgements, changes) = pending_acknowledgements(&twin);
            for change in changes {
                reporter.report(label, DeviceEvent::DesiredChanged { version, change });
            }
            if let (Some(Value::Object(acknowledgements)), Some(patch)) = (acknowledgements, patch.as_object_mut()) {
                patch.extend(acknowledgements);
            }
        }
        Err(error) => reporter.report(label, DeviceEvent::Problem(format!("reading the twin: {error}"))),
    }
    report(client, reporter, label, patch).await;
}

async fn report(client: &DeviceClient, reporter: &dyn Reporter, label: &str, patch: Value) {
    match client.patch_reported(&patch).await {
        Ok(version) => reporter.report(label, DeviceEvent::StateReported { version }),
        Err(error) => reporter.report(label, DeviceEvent::Problem(format!("reporting properties: {error}"))),
    }
}

async fn send_telemetry(client: &DeviceClient, app: &mut DoorApp, reporter: &dyn Reporter, label: &str) {
    let (body, properties) = app.telemetry(Utc::now(), rand::random_range(-1.0..1.0));
    let message_id = format!("{label}-{}", app.messages_sent);
    let properties: Vec<(&str, &str)> = properties.iter().map(|(name, value)| (*name, value.as_str())).collect();
    match client.send_telemetry(&message_id, &body, &properties).await {
        Ok(()) => reporter.report(label, DeviceEvent::TelemetrySent { message_id, body }),
        Err(error) => reporter.report(label, DeviceEvent::Problem(format!("sending telemetry: {error}"))),
    }
}

/// The next telemetry tick, or never without telemetry.
async fn tick(interval: Option<&mut tokio::time::Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Registers and connects for [`establish`], keeping DPS's assignment.
struct HubConnector<'a> {
    settings: &'a DeviceSettings,
    identity: Option<HubIdentity>,
    reporter: &'a dyn Reporter,
    label: &'a str,
}

async fn permit(gate: Option<&Arc<Semaphore>>) -> Option<SemaphorePermit<'_>> {
    match gate {
        Some(gate) => gate.acquire().await.ok(),
        None => None,
    }
}

impl Connector for HubConnector<'_> {
    type Connection = DeviceClient;

    fn needs_provisioning(&self) -> bool {
        self.identity.is_none()
    }

    fn via_dps(&self) -> bool {
        matches!(self.settings.source, IdentitySource::Dps(_))
    }

    async fn provision(&mut self) -> Result<(), ConnectFailure> {
        let IdentitySource::Dps(dps) = &self.settings.source else {
            return Err(ConnectFailure::Fatal { endpoint: "DPS".to_owned(), detail: "the device was not started through DPS".to_owned() });
        };
        let _permit = permit(self.settings.connect_gate.as_ref()).await;
        let assignment = register(dps, &self.settings.transport).await?;
        self.reporter.report(
            self.label,
            DeviceEvent::Provisioned { assigned_hub: assignment.assigned_hub.clone(), device_id: assignment.device_id.clone() },
        );
        self.identity = Some(assignment.identity(&dps.device_key));
        Ok(())
    }

    async fn connect(&mut self) -> Result<DeviceClient, ConnectFailure> {
        let Some(identity) = &self.identity else {
            return Err(ConnectFailure::Fatal { endpoint: "hub".to_owned(), detail: "no hub assigned yet".to_owned() });
        };
        let _permit = permit(self.settings.connect_gate.as_ref()).await;
        DeviceClient::connect(identity, &self.settings.transport).await
    }
}
