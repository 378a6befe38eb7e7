//! The details side panel: identity, connection (kept live from the list: state, since when,
//! last activity, and how a real device is connected to the simulator), keys (masked, with
//! reveal and copy), and the twin's tags, desired and reported properties as read-only trees.

use std::sync::Arc;

use egui::{RichText, Ui};
use serde_json::{Map, Value};

use super::device_table::ago;
use super::theme;
use crate::app::model::{AppState, Command, DeviceCommand, DeviceRow, Now};
use crate::azure::wire::{ConnectionState, Device, DeviceConnection, Timestamp, Twin};

/// The connection as the panel shows it: the identity's, or newer from the list's live refresh.
struct Connection<'a> {
    state: ConnectionState,
    since: Option<Timestamp>,
    last_activity: Option<Timestamp>,
    real: Option<&'a DeviceConnection>,
}

impl<'a> Connection<'a> {
    fn of(device: &Device, row: Option<&DeviceRow>, real: Option<&'a DeviceConnection>) -> Self {
        let known = |time: Option<Timestamp>| time.filter(|time| !time.is_never());
        let mut connection = Self {
            state: device.connection_state.unwrap_or_default(),
            since: known(device.connection_state_updated_time),
            last_activity: known(device.last_activity_time),
            real,
        };
        // The list's row is refreshed while it is shown; the identity was read once.
        if let Some(row) = row {
            if row.connection_state == connection.state {
                connection.since = row.connection_since.or(connection.since);
            } else {
                connection.state = row.connection_state;
                connection.since = row.connection_since;
            }
            connection.last_activity = row.last_activity.max(connection.last_activity);
        }
        if let Some(real) = real {
            // Real device code connected: since then, even if a simulated app held the id before.
            connection.since = if connection.state == ConnectionState::Connected {
                connection.since.max(Some(real.connected_since))
            } else {
                Some(real.connected_since)
            };
            connection.state = ConnectionState::Connected;
        }
        connection
    }
}

/// Draws the panel; closing it clears `state.devices.details`.
pub fn details_ui(ui: &mut Ui, state: &mut AppState, now: Now, out: &mut Vec<Command>) {
    let dps_configured = state.dps_configured;
    let mut find_enrollment = false;
    let devices = &mut state.devices;
    let Some(details) = &mut devices.details else {
        return;
    };
    let row = devices.rows.iter().find(|row| row.device_id == details.device_id);
    let real = devices.live.connection(&details.device_id);
    let mut close = false;
    let mut copy_connection = false;
    let mut edit_twin = false;
    let mut connect_device = false;
    ui.horizontal(|ui| {
        ui.heading(RichText::new(&*details.device_id).strong());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button("🗙").on_hover_text("Close the details").clicked() {
                close = true;
            }
        });
    });
    match details.loaded.value().map(Box::as_ref) {
        None if details.loaded.error().is_some() => {
            let message = details.loaded.error().map(ToString::to_string).unwrap_or_default();
            ui.label(RichText::new(message).color(theme::bad(ui.visuals())));
        }
        None => {
            // No spinner: it would repaint every frame while the app should be idle.
            ui.label(RichText::new("Loading identity and twin…").color(theme::muted(ui.visuals())));
        }
        Some((device, twin)) => {
            egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
                let connection = Connection::of(device, row, real);
                identity_ui(ui, device, &connection, Timestamp(now.utc()), &mut details.reveal_keys, &mut copy_connection);
                ui.separator();
                ui.horizontal_wrapped(|ui| {
                    if ui
                        .button("Edit twin…")
                        .on_hover_text("Edit tags and desired properties, review the patch, save with the etag")
                        .clicked()
                    {
                        edit_twin = true;
                    }
                    if ui
                        .button("Connect a device…")
                        .on_hover_text("Run real device code as this device: its connection string and the command lines")
                        .clicked()
                    {
                        connect_device = true;
                    }
                    if dps_configured
                        && ui.button("Enrollment").on_hover_text("Open the DPS enrollment this device registered through").clicked()
                    {
                        find_enrollment = true;
                    }
                });
                twin_ui(ui, twin);
            });
        }
    }
    let device_id = Arc::clone(&details.device_id);
    if edit_twin {
        state.open_twin(device_id, out);
        return;
    }
    if connect_device {
        state.open_connect_device(device_id, out);
        return;
    }
    if copy_connection {
        let request = state.devices.actions.start();
        out.push(DeviceCommand::CopyConnectionString { request, device_id: Arc::clone(&device_id) }.into());
    }
    if find_enrollment {
        state.find_enrollment(device_id, out);
    }
    if close {
        state.devices.details = None;
    }
}

fn identity_ui(ui: &mut Ui, device: &Device, connection: &Connection<'_>, now: Timestamp, reveal: &mut bool, copy_connection: &mut bool) {
    let visuals = ui.visuals().clone();
    let time = |value: Option<Timestamp>| value.filter(|time| !time.is_never()).map_or_else(|| "never".to_owned(), Timestamp::to_wire);
    let with_age = |value: Option<Timestamp>| match value.filter(|time| !time.is_never()) {
        Some(time) => format!("{} ({})", time.to_wire(), ago(time, now)),
        None => "never".to_owned(),
    };
    egui::Grid::new("identity-grid").num_columns(2).spacing([12.0, 4.0]).show(ui, |ui| {
        row(ui, "Status", device.status.as_str());
        if let Some(reason) = &device.status_reason {
            row(ui, "Status reason", reason);
        }
        ui.label(RichText::new("Connection").color(theme::muted(&visuals)));
        let connected = connection.state == ConnectionState::Connected;
        let color = if connected { theme::good(&visuals) } else { theme::muted(&visuals) };
        ui.horizontal(|ui| {
            theme::dot_ui(ui, color, connected);
            ui.label(RichText::new(connection.state.as_str()).color(color));
        });
        ui.end_row();
        row(ui, "Connection changed", &with_age(connection.since));
        row(ui, "Last activity", &with_age(connection.last_activity));
        if let Some(real) = connection.real {
            row(ui, "Protocol", real.protocol.label());
            row(ui, "Client", &crate::app::model::live::client_label(&real.client_type));
            if !real.client_type.is_empty() {
                // Long (platform details): truncated so the panel keeps its width.
                ui.label(RichText::new("Client type").color(theme::muted(&visuals)));
                ui.add(egui::Label::new(&real.client_type).truncate()).on_hover_text(&real.client_type);
                ui.end_row();
            }
            if !real.api_version.is_empty() {
                row(ui, "Device api-version", &real.api_version);
            }
        }
        row(ui, "Status updated", &time(device.status_updated_time));
        row(ui, "Authentication", device.authentication.as_ref().map_or("sas", |auth| auth.kind.as_str()));
        row(ui, "Generation", device.generation_id.as_deref().unwrap_or(""));
        row(ui, "Etag", device.etag.as_deref().unwrap_or(""));
        row(ui, "IoT Edge", if device.capabilities.is_some_and(|capabilities| capabilities.iot_edge) { "yes" } else { "no" });
        for (label, key) in [("Primary key", device.primary_key()), ("Secondary key", device.secondary_key())] {
            if let Some(key) = key {
                ui.label(RichText::new(label).color(theme::muted(&visuals)));
                ui.horizontal(|ui| {
                    let shown = if *reveal { key.expose().to_owned() } else { "•".repeat(16) };
                    ui.add(egui::Label::new(RichText::new(shown).monospace()).truncate());
                    if ui.small_button("Copy").on_hover_text(format!("Copy the {}", label.to_lowercase())).clicked() {
                        ui.ctx().copy_text(key.expose().to_owned());
                    }
                });
                ui.end_row();
            }
        }
    });
    ui.horizontal(|ui| {
        ui.checkbox(reveal, "Reveal keys");
        if device.primary_key().is_some() && ui.button("Copy connection string").clicked() {
            *copy_connection = true;
        }
    });
}

fn row(ui: &mut Ui, label: &str, value: &str) {
    ui.label(RichText::new(label).color(theme::muted(ui.visuals())));
    ui.label(value);
    ui.end_row();
}

fn twin_ui(ui: &mut Ui, twin: &Twin) {
    ui.add_space(6.0);
    ui.label(
        RichText::new(format!("Twin  (version {}, etag {})", twin.version.unwrap_or(0), twin.etag.as_deref().unwrap_or("?"))).strong(),
    );
    let empty = Map::new();
    section_ui(ui, "Tags", twin.tags.as_ref().unwrap_or(&empty), None);
    section_ui(ui, "Desired properties", twin.desired().unwrap_or(&empty), twin.desired_version());
    section_ui(ui, "Reported properties", twin.reported().unwrap_or(&empty), twin.reported_version());
}

fn section_ui(ui: &mut Ui, title: &str, content: &Map<String, Value>, version: Option<u64>) {
    let keys = content.keys().filter(|key| !key.starts_with('$')).count();
    let heading = match version {
        Some(version) => format!("{title}  ({keys}, $version {version})"),
        None => format!("{title}  ({keys})"),
    };
    egui::CollapsingHeader::new(heading).id_salt(title).default_open(true).show(ui, |ui| {
        if keys == 0 {
            ui.label(RichText::new("none").color(theme::muted(ui.visuals())));
        }
        object_ui(ui, content, title);
    });
}

fn object_ui(ui: &mut Ui, object: &Map<String, Value>, path: &str) {
    for (key, value) in object {
        if key.starts_with('$') {
            continue;
        }
        let child_path = format!("{path}.{key}");
        match value {
            Value::Object(child) => {
                egui::CollapsingHeader::new(key.as_str())
                    .id_salt(&child_path)
                    .default_open(true)
                    .show(ui, |ui| object_ui(ui, child, &child_path));
            }
            leaf => {
                ui.horizontal(|ui| {
                    ui.label(RichText::new(format!("{key}:")).color(theme::muted(ui.visuals())));
                    ui.label(RichText::new(leaf.to_string()).monospace());
                });
            }
        }
    }
}
