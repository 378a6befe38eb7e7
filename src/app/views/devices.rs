//! The device page: query bar (with the service's error under it), id filter and "connected
//! only", progress and count, the action toolbar, and the table (or a plain table for projection
//! queries), whose rows in view are kept live while the page is shown.

use std::sync::Arc;

use egui::{Align, Key, Layout, Modifiers, RichText, Ui};

use super::{ViewState, device_table, theme};
use crate::app::model::devices::RawResults;
use crate::app::model::state::AddDeviceDraft;
use crate::app::model::{AppState, Command, DeviceCommand, LoadEnd, Loadable, Now};

/// The whole device page (the details panel is drawn by the caller).
pub fn devices_page_ui(ui: &mut Ui, state: &mut AppState, view: &mut ViewState, now: Now, out: &mut Vec<Command>) {
    query_bar_ui(ui, state, view, out);
    summary_row_ui(ui, state, out);
    toolbar_ui(ui, state, out);
    ui.separator();
    keyboard_ui(ui, state, view, out);
    if let Some(raw) = state.devices.raw.clone() {
        raw_table_ui(ui, &raw);
    } else {
        device_table::device_table_ui(ui, state, view, now, out);
        live_poll(ui, state, view, now, out);
    }
}

/// Keeps the rows in view live: a poll every few seconds while this page is drawn (a hidden page
/// is not drawn, so polling stops with it), a timed repaint for the next one, nothing in between.
/// The window need not have focus: the list is watched while device code runs in a terminal.
fn live_poll(ui: &Ui, state: &mut AppState, view: &ViewState, now: Now, out: &mut Vec<Command>) {
    let devices = &mut state.devices;
    let connected = matches!(state.connection, crate::app::model::ConnectionStatus::Connected { .. });
    if !connected || devices.load.is_loading() || devices.load.is_idle() {
        return;
    }
    let due_in = devices.live.due_in(now.instant);
    if due_in.is_zero() {
        let probes = devices.live_probes(view.visible_rows.clone());
        devices.live.poll(now.instant, probes, out);
    }
    if devices.live.in_flight.is_none() {
        ui.ctx().request_repaint_after(devices.live.due_in(now.instant).max(std::time::Duration::from_millis(100)));
    }
}

fn query_bar_ui(ui: &mut Ui, state: &mut AppState, view: &mut ViewState, out: &mut Vec<Command>) {
    let mut run = false;
    ui.horizontal(|ui| {
        let label = ui.label(RichText::new("Query").strong()).on_hover_text("A WHERE condition, or a full SELECT … FROM devices …");
        let edit = egui::TextEdit::singleline(&mut state.devices.query_input)
            .id_salt("query-bar")
            .hint_text("Query: tags.building = 43 AND properties.reported.firmware < '2.0'  (or a full SELECT)")
            .font(egui::TextStyle::Monospace)
            .desired_width(ui.available_width() - 70.0);
        let response = ui.add(edit).labelled_by(label.id);
        if view.focus_query {
            response.request_focus();
            view.focus_query = false;
        }
        if response.lost_focus() && ui.input(|input| input.key_pressed(Key::Enter)) {
            run = true;
        }
        if ui.button("Run").on_hover_text("Run the query (Enter)").clicked() {
            run = true;
        }
    });
    if let Some(error) = &state.devices.query_error {
        let color = theme::bad(ui.visuals());
        if let Some(column) = error.column {
            // A caret under the offending character, aligned with the monospace input.
            let caret = format!("{}^", " ".repeat(column.saturating_sub(1)));
            ui.horizontal(|ui| {
                ui.add_space(label_width(ui));
                ui.label(RichText::new(caret).monospace().color(color));
            });
        }
        ui.label(RichText::new(&error.message).color(color));
    }
    if run {
        state.refresh(out);
    }
}

fn summary_row_ui(ui: &mut Ui, state: &mut AppState, out: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        let mut filter = state.devices.id_filter.clone();
        let label = ui.label("Device ID prefix");
        let edit = egui::TextEdit::singleline(&mut filter).id_salt("id-filter").hint_text("b43-f3").desired_width(180.0);
        if ui.add(edit).labelled_by(label.id).changed() {
            state.devices.set_id_filter(filter);
        }
        let mut connected_only = state.devices.connected_only;
        if ui.checkbox(&mut connected_only, "Connected only").on_hover_text("Show only the devices connected right now").changed() {
            state.devices.set_connected_only(connected_only);
        }
        let shown = state.devices.view().len();
        let text = match (state.devices.total, state.devices.raw.as_ref()) {
            (_, Some(raw)) => format!("{} result row{}", raw.rows.len(), if raw.rows.len() == 1 { "" } else { "s" }),
            (Some(total), None) => format!("Showing {shown} of {total} devices"),
            (None, None) => format!("Showing {shown} devices"),
        };
        ui.label(text);
        if let Some(request) = state.devices.loading_request() {
            let received = state.devices.progress.received;
            let fraction = state.devices.total.map_or(0.0, |total| if total == 0 { 1.0 } else { fraction_of(received, total) });
            ui.add(egui::ProgressBar::new(fraction.min(1.0)).desired_width(160.0).text(format!("loading {received}…")));
            if ui.button("Cancel").on_hover_text("Stop loading; keep what arrived").clicked() {
                out.push(DeviceCommand::CancelLoad(request).into());
            }
        } else if state.devices.load == Loadable::Loaded(LoadEnd::Cancelled) {
            ui.label(RichText::new("(loading cancelled)").color(theme::warn(ui.visuals())));
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            columns_menu_ui(ui, state);
        });
    });
}

fn columns_menu_ui(ui: &mut Ui, state: &mut AppState) {
    ui.menu_button("Columns", |ui| {
        ui.label(RichText::new("Add tag and reported-property columns").strong());
        let fields = state.devices.pickable_fields();
        if fields.is_empty() {
            ui.label("No properties loaded yet.");
        }
        egui::ScrollArea::vertical().max_height(360.0).show(ui, |ui| {
            for field in fields {
                let mut shown = state.devices.columns.iter().any(|column| **column == *field);
                if ui.checkbox(&mut shown, &*field).changed() {
                    state.devices.toggle_column(&field);
                }
            }
        });
    });
}

fn toolbar_ui(ui: &mut Ui, state: &mut AppState, out: &mut Vec<Command>) {
    let selected = state.devices.selection.len();
    let selected_ids: Vec<Arc<str>> = {
        let mut ids: Vec<Arc<str>> = state.devices.selection.ids.iter().cloned().collect();
        ids.sort();
        ids
    };
    ui.horizontal_wrapped(|ui| {
        if ui.button("Add device…").clicked() {
            state.add_device = Some(AddDeviceDraft::default());
        }
        ui.add_enabled_ui(selected > 0, |ui| {
            if ui.button("Enable").on_hover_text("Enable the selected devices").clicked() {
                let request = state.devices.actions.start();
                out.push(DeviceCommand::SetEnabled { request, device_ids: selected_ids.clone(), enabled: true }.into());
            }
            if ui.button("Disable").on_hover_text("Disable the selected devices").clicked() {
                let request = state.devices.actions.start();
                out.push(DeviceCommand::SetEnabled { request, device_ids: selected_ids.clone(), enabled: false }.into());
            }
            let label = if selected > 1 { format!("Delete {selected} devices…") } else { "Delete…".to_owned() };
            if ui.button(label).clicked() {
                state.confirm_delete = Some(state.devices.delete_targets());
            }
        });
        ui.add_enabled_ui(selected == 1, |ui| {
            if ui.button("Copy connection string").on_hover_text("Device connection string with its primary key").clicked()
                && let Some(device_id) = selected_ids.first()
            {
                let request = state.devices.actions.start();
                out.push(DeviceCommand::CopyConnectionString { request, device_id: Arc::clone(device_id) }.into());
            }
            if ui.button("Details").on_hover_text("Identity, keys and twin in a side panel").clicked()
                && let Some(device_id) = selected_ids.first()
            {
                state.devices.open_details(Arc::clone(device_id), out);
            }
            if ui.button("Edit twin").on_hover_text("Open the twin editor (Enter, or double-click the device)").clicked()
                && let Some(device_id) = selected_ids.first()
            {
                state.open_twin(Arc::clone(device_id), out);
            }
            if ui.button("Direct method…").on_hover_text("Invoke a method on this device and see its answer").clicked()
                && let Some(device_id) = selected_ids.first()
            {
                super::method_panel::open(state, Arc::clone(device_id));
            }
            if ui
                .button("Connect a device…")
                .on_hover_text("Run real device code as this device: its connection string and the command lines")
                .clicked()
                && let Some(device_id) = selected_ids.first()
            {
                state.open_connect_device(Arc::clone(device_id), out);
            }
        });
        if selected > 0 {
            ui.label(RichText::new(format!("{selected} selected")).color(theme::muted(ui.visuals())));
        }
    });
}

/// Arrows, Shift+arrows, Enter and Ctrl+A on the list (unless a text field has the keyboard).
fn keyboard_ui(ui: &Ui, state: &mut AppState, view: &mut ViewState, out: &mut Vec<Command>) {
    if ui.ctx().text_edit_focused() || state.add_device.is_some() || state.confirm_delete.is_some() || state.profiles.dialog.is_some() {
        return;
    }
    let (down, up, page_down, page_up, enter, select_all, shift) = ui.input_mut(|input| {
        (
            input.count_and_consume_key(Modifiers::NONE, Key::ArrowDown) + input.count_and_consume_key(Modifiers::SHIFT, Key::ArrowDown),
            input.count_and_consume_key(Modifiers::NONE, Key::ArrowUp) + input.count_and_consume_key(Modifiers::SHIFT, Key::ArrowUp),
            input.consume_key(Modifiers::NONE, Key::PageDown),
            input.consume_key(Modifiers::NONE, Key::PageUp),
            input.consume_key(Modifiers::NONE, Key::Enter),
            input.consume_key(Modifiers::COMMAND, Key::A),
            input.modifiers.shift,
        )
    });
    let delta = isize::try_from(down).unwrap_or(0) - isize::try_from(up).unwrap_or(0) + if page_down { 20 } else { 0 }
        - if page_up { 20 } else { 0 };
    if delta != 0 || select_all {
        let ids = state.devices.view_ids();
        if select_all {
            state.devices.selection.select_all(&ids);
        }
        if delta != 0
            && let Some(index) = state.devices.selection.move_cursor(delta, shift, &ids)
        {
            view.scroll_to_row = Some(index);
        }
    }
    if enter && let Some(cursor) = state.devices.selection.cursor.clone() {
        state.open_twin(cursor, out);
    }
}

fn raw_table_ui(ui: &mut Ui, raw: &RawResults) {
    use egui_extras::{Column, TableBuilder};
    if raw.columns.is_empty() {
        ui.label("The query returned no rows.");
        return;
    }
    let mut table = TableBuilder::new(ui).striped(true).resizable(true).cell_layout(Layout::left_to_right(Align::Center));
    for _ in &raw.columns {
        table = table.column(Column::initial(160.0).resizable(true).clip(true));
    }
    table
        .header(theme::ROW_HEIGHT, |mut header| {
            for column in &raw.columns {
                header.col(|ui| {
                    ui.strong(column);
                });
            }
        })
        .body(|body| {
            body.rows(theme::ROW_HEIGHT, raw.rows.len(), |mut row| {
                let Some(values) = raw.rows.get(row.index()) else {
                    return;
                };
                for column in &raw.columns {
                    row.col(|ui| {
                        let text = match values.get(column) {
                            Some(serde_json::Value::String(text)) => text.clone(),
                            Some(value) => value.to_string(),
                            None => String::new(),
                        };
                        ui.add(egui::Label::new(text).selectable(false));
                    });
                }
            });
        });
}

/// `done / total` for a progress bar (precision loss is irrelevant at pixel scale).
#[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
fn fraction_of(done: usize, total: u64) -> f32 {
    (done as f64 / total as f64) as f32
}

/// Width of the "Query" label plus spacing, so the error caret lines up with the input text.
fn label_width(ui: &Ui) -> f32 {
    let font = egui::TextStyle::Body.resolve(ui.style());
    let galley = ui.fonts_mut(|fonts| fonts.layout_no_wrap("Query".to_owned(), font, egui::Color32::WHITE));
    galley.size().x + ui.spacing().item_spacing.x + 2.0
}
