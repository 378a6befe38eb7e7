//! The device table: virtualized rows (`TableBody::rows`), sortable headers, the connection (state,
//! since when, and — from the simulator — protocol and client of real devices), user-chosen tag
//! and reported-property columns, click / Ctrl-click / Shift-click selection, double-click
//! details. It records which rows it drew, so the live refresh asks about those only.

use std::sync::Arc;

use egui::{Align, Layout, RichText, Sense, Ui};
use egui_extras::{Column, TableBuilder};

use super::{ViewState, theme};
use crate::app::model::devices::Sort;
use crate::app::model::live::{ConnectionsRoute, client_label};
use crate::app::model::{AppState, Command, DeviceRow, DevicesState, Loadable, Now, SortColumn};
use crate::azure::wire::{ConnectionState, DeviceConnection, DeviceStatus, Timestamp};

/// A click on a row, applied after the table is drawn.
struct RowClick {
    device_id: Arc<str>,
    toggle: bool,
    extend: bool,
    double: bool,
}

/// Draws the table.
pub fn device_table_ui(ui: &mut Ui, state: &mut AppState, view_state: &mut ViewState, now: Now, out: &mut Vec<Command>) {
    let devices = &mut state.devices;
    devices.view();
    if devices.prepared_view().is_empty() {
        view_state.visible_rows = 0..0;
        empty_ui(ui, devices);
        return;
    }
    let show_client = devices.live.route == ConnectionsRoute::Offered;
    let extra_columns: Vec<Arc<str>> = devices.columns.iter().map(|column| DevicesState::column_path(column)).collect();
    let mut sort_click = None;
    let mut row_click = None;
    let mut table = TableBuilder::new(ui)
        .id_salt("device-table")
        .striped(true)
        .resizable(true)
        .sense(Sense::click())
        .cell_layout(Layout::left_to_right(Align::Center))
        .column(Column::initial(200.0).at_least(120.0).resizable(true).clip(true))
        .column(Column::initial(75.0).resizable(true).clip(true))
        .column(Column::initial(165.0).resizable(true).clip(true))
        .column(Column::initial(95.0).resizable(true).clip(true));
    if show_client {
        table = table.column(Column::initial(185.0).resizable(true).clip(true));
    }
    for _ in &extra_columns {
        table = table.column(Column::initial(if show_client { 115.0 } else { 130.0 }).resizable(true).clip(true));
    }
    table = table.column(Column::remainder());
    if let Some(index) = view_state.scroll_to_row.take() {
        table = table.scroll_to_row(index, None);
    }
    let sort = devices.sort.clone();
    let now = Timestamp(now.utc());
    table
        .header(theme::ROW_HEIGHT + 2.0, |mut header| {
            for (label, column) in [
                ("Device ID", SortColumn::DeviceId),
                ("Status", SortColumn::Status),
                ("Connection", SortColumn::Connection),
                ("Last activity", SortColumn::LastActivity),
            ] {
                header.col(|ui| sort_header_ui(ui, label, &column, sort.as_ref(), &mut sort_click));
            }
            if show_client {
                header.col(|ui| {
                    ui.add(egui::Label::new(RichText::new("Connected with").strong()).selectable(false))
                        .on_hover_text("Protocol and client of real devices connected to the simulator");
                });
            }
            for path in &extra_columns {
                let label = path.strip_prefix("properties.").unwrap_or(path);
                header.col(|ui| {
                    sort_header_ui(ui, label, &SortColumn::Field(path.to_string()), sort.as_ref(), &mut sort_click);
                });
            }
            header.col(|_| {});
        })
        .body(|body| {
            let view = devices.prepared_view();
            let mut drawn: Option<(usize, usize)> = None;
            body.rows(theme::ROW_HEIGHT, view.len(), |mut row| {
                let at = row.index();
                drawn = Some(drawn.map_or((at, at), |(first, last)| (first.min(at), last.max(at))));
                let Some(device) = view.get(at).and_then(|index| devices.row(*index)) else {
                    return;
                };
                row.set_selected(devices.selection.contains(&device.device_id));
                row.col(|ui| {
                    let focused = devices.selection.cursor.as_deref() == Some(&*device.device_id);
                    let text = if focused { RichText::new(&*device.device_id).strong() } else { RichText::new(&*device.device_id) };
                    ui.add(egui::Label::new(text).selectable(false));
                });
                row.col(|ui| {
                    let visuals = ui.visuals().clone();
                    let (text, color) = match device.status {
                        DeviceStatus::Enabled => ("enabled", visuals.text_color()),
                        DeviceStatus::Disabled => ("disabled", theme::warn(&visuals)),
                    };
                    ui.add(egui::Label::new(RichText::new(text).color(color)).selectable(false));
                });
                let connection = devices.live.connection(&device.device_id);
                row.col(|ui| connection_cell_ui(ui, device, connection, now));
                row.col(|ui| {
                    let text = device.last_activity.map_or_else(|| "never".to_owned(), |time| ago(time, now));
                    let response = ui.add(egui::Label::new(text).selectable(false));
                    if let Some(time) = device.last_activity {
                        response.on_hover_text(time.to_wire());
                    }
                });
                if show_client {
                    row.col(|ui| {
                        if let Some(connection) = connection {
                            client_cell_ui(ui, connection);
                        }
                    });
                }
                for path in &extra_columns {
                    row.col(|ui| {
                        let text = device.field(path).map(ToString::to_string).unwrap_or_default();
                        ui.add(egui::Label::new(text).selectable(false));
                    });
                }
                row.col(|_| {});
                let response = row.response();
                if response.clicked() || response.double_clicked() {
                    let modifiers = response.ctx.input(|input| input.modifiers);
                    row_click = Some(RowClick {
                        device_id: Arc::clone(&device.device_id),
                        toggle: modifiers.command,
                        extend: modifiers.shift,
                        double: response.double_clicked(),
                    });
                }
            });
            view_state.visible_rows = drawn.map_or(0..0, |(first, last)| first..last + 1);
        });
    if let Some(column) = sort_click {
        state.devices.sort_by(column);
    }
    if let Some(click) = row_click {
        apply_click(state, &click, out);
    }
}

/// State, since when it holds (once a live refresh read it) and a dot. A real connection the
/// simulator reports counts as connected even before the row's state caught up.
fn connection_cell_ui(ui: &mut Ui, device: &DeviceRow, connection: Option<&DeviceConnection>, now: Timestamp) {
    let visuals = ui.visuals().clone();
    let state = if connection.is_some() { ConnectionState::Connected } else { device.connection_state };
    let connected = state == ConnectionState::Connected;
    let color = if connected { theme::good(&visuals) } else { theme::muted(&visuals) };
    theme::dot_ui(ui, color, connected);
    let since = match connection {
        // The row may still have the state from before the device connected, or the time a
        // simulated app connected before real device code took its id over.
        Some(connection) if device.connection_state == ConnectionState::Connected => {
            device.connection_since.max(Some(connection.connected_since))
        }
        Some(connection) => Some(connection.connected_since),
        None => device.connection_since,
    };
    let response = ui.add(egui::Label::new(RichText::new(state.as_str()).color(color)).selectable(false));
    if let Some(since) = since {
        ui.add(egui::Label::new(RichText::new(format!("· {}", ago(since, now))).small().color(theme::muted(&visuals))).selectable(false));
        response.on_hover_text(format!("{} since {}", state.as_str(), since.to_wire()));
    }
}

/// `MQTT · Python SDK 2.14.0`, the full client and api-version on hover.
fn client_cell_ui(ui: &mut Ui, connection: &DeviceConnection) {
    let client = client_label(&connection.client_type);
    let text =
        if client.is_empty() { connection.protocol.label().to_owned() } else { format!("{} · {client}", connection.protocol.label()) };
    let hover = format!(
        "{}\nclient: {}\napi-version: {}\nconnected since {}",
        connection.protocol.label(),
        if connection.client_type.is_empty() { "(not given)" } else { &connection.client_type },
        if connection.api_version.is_empty() { "(not given)" } else { &connection.api_version },
        connection.connected_since.to_wire()
    );
    ui.add(egui::Label::new(text).selectable(false)).on_hover_text(hover);
}

fn apply_click(state: &mut AppState, click: &RowClick, out: &mut Vec<Command>) {
    let devices = &mut state.devices;
    if click.double {
        devices.selection.select_only(&click.device_id);
        state.open_twin(Arc::clone(&click.device_id), out);
    } else if click.extend {
        let ids = devices.view_ids();
        devices.selection.extend_to(&click.device_id, &ids);
    } else if click.toggle {
        devices.selection.toggle(&click.device_id);
    } else {
        devices.selection.select_only(&click.device_id);
        if devices.details.is_some() {
            // The panel follows the selection once it is open.
            devices.open_details(Arc::clone(&click.device_id), out);
        }
    }
}

fn sort_header_ui(ui: &mut Ui, label: &str, column: &SortColumn, sort: Option<&Sort>, clicked: &mut Option<SortColumn>) {
    let arrow = match sort {
        Some(sort) if sort.column == *column => {
            if sort.ascending {
                " ⏶"
            } else {
                " ⏷"
            }
        }
        _ => "",
    };
    let response = ui.add(egui::Button::new(RichText::new(format!("{label}{arrow}")).strong()).frame(false));
    if response.on_hover_text("Sort by this column (click again to reverse)").clicked() {
        *clicked = Some(column.clone());
    }
}

fn empty_ui(ui: &mut Ui, devices: &DevicesState) {
    ui.add_space(24.0);
    ui.vertical_centered(|ui| {
        let text = match &devices.load {
            Loadable::Loading { .. } => "Loading devices…",
            Loadable::Idle => "Waiting for the connection…",
            _ if !devices.id_filter.trim().is_empty() && !devices.rows.is_empty() => "No loaded device id starts with that prefix.",
            _ if devices.connected_only && !devices.rows.is_empty() => "None of the loaded devices is connected.",
            Loadable::Failed { .. } => "The query failed; see the message above.",
            Loadable::Loaded(_) => "No devices match this query.",
        };
        ui.label(RichText::new(text).color(theme::muted(ui.visuals())));
    });
}

/// "3 min ago", "2 h ago", "5 d ago".
pub fn ago(time: Timestamp, now: Timestamp) -> String {
    let seconds = (now.0 - time.0).num_seconds();
    match seconds {
        ..5 => "just now".to_owned(),
        5..60 => format!("{seconds} s ago"),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now = Timestamp::parse("2026-11-23T12:00:00Z").unwrap();
        let at = |text: &str| ago(Timestamp::parse(text).unwrap(), now);
        assert_eq!(at("2026-11-23T11:59:58Z"), "just now");
        assert_eq!(at("2026-11-23T11:59:30Z"), "30 s ago");
        assert_eq!(at("2026-11-23T11:57:00Z"), "3 min ago");
        assert_eq!(at("2026-11-23T09:00:00Z"), "3 h ago");
        assert_eq!(at("2026-11-18T12:00:00Z"), "5 d ago");
    }
}
