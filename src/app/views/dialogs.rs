//! Modal dialogs for device actions: add a device, confirm a delete.

use base64::Engine as _;
use egui::{RichText, Ui};

use super::theme;
use crate::app::model::{AppState, Command};
use crate::azure::id_rules::check_device_id;
use crate::azure::secret::Secret;

/// The add-device dialog, when open.
pub fn add_device_ui(ui: &Ui, state: &mut AppState, out: &mut Vec<Command>) {
    let Some(draft) = &mut state.add_device else {
        return;
    };
    let mut submit = false;
    let mut cancel = false;
    let modal = theme::modal("add-device").show(ui.ctx(), |ui| {
        ui.set_width(460.0);
        ui.heading("Add device");
        ui.add_space(4.0);
        let id_label = ui.label("Device ID");
        let id_edit = ui
            .add(
                egui::TextEdit::singleline(&mut draft.device_id)
                    .id_salt("add-device-id")
                    .hint_text("b43-f3-lock-00001")
                    .desired_width(f32::INFINITY),
            )
            .labelled_by(id_label.id);
        // Checked after the field took this frame's typing, so the Add button is never stale.
        let id_problem = check_device_id(draft.device_id.trim()).err().map(|error| error.to_string());
        if draft.device_id.is_empty() {
            id_edit.request_focus();
        } else if let Some(problem) = &id_problem {
            ui.label(RichText::new(problem).color(theme::bad(ui.visuals())));
        }
        ui.add_space(4.0);
        ui.radio_value(&mut draft.own_keys, false, "Let IoT Hub generate the symmetric keys");
        ui.radio_value(&mut draft.own_keys, true, "Enter the keys");
        let mut key_problem = None;
        if draft.own_keys {
            for (label, key) in [("Primary key", &mut draft.primary_key), ("Secondary key", &mut draft.secondary_key)] {
                let key_label = ui.label(label);
                ui.add(
                    egui::TextEdit::singleline(key)
                        .id_salt(label)
                        .password(true)
                        .hint_text("base64, 16 to 64 bytes")
                        .desired_width(f32::INFINITY),
                )
                .labelled_by(key_label.id);
                if let Some(problem) = key_problem_of(key) {
                    key_problem.get_or_insert(format!("{label}: {problem}"));
                }
            }
            if let Some(problem) = &key_problem {
                ui.label(RichText::new(problem).color(theme::bad(ui.visuals())));
            }
        }
        ui.add_space(8.0);
        let ready = id_problem.is_none() && key_problem.is_none();
        ui.horizontal(|ui| {
            if ui.add_enabled(ready, egui::Button::new("Add")).clicked() {
                submit = true;
            }
            if ui.button("Cancel").clicked() {
                cancel = true;
            }
        });
        if ready && ui.input(|input| input.key_pressed(egui::Key::Enter)) {
            submit = true;
        }
    });
    if submit {
        let keys = draft.own_keys.then(|| (Secret::new(draft.primary_key.trim()), Secret::new(draft.secondary_key.trim())));
        out.push(Command::CreateDevice { device_id: draft.device_id.trim().to_owned(), keys });
        state.add_device = None;
    } else if cancel || theme::escape_pressed(&modal) {
        state.add_device = None;
    }
}

fn key_problem_of(key: &str) -> Option<String> {
    let key = key.trim();
    if key.is_empty() {
        return Some("required".to_owned());
    }
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(bytes) if (16..=64).contains(&bytes.len()) => None,
        Ok(bytes) => Some(format!("decodes to {} bytes; 16 to 64 are allowed", bytes.len())),
        Err(_) => Some("not valid base64".to_owned()),
    }
}

/// The delete confirmation, naming the count and the devices.
pub fn confirm_delete_ui(ui: &Ui, state: &mut AppState, out: &mut Vec<Command>) {
    let Some(targets) = &state.confirm_delete else {
        return;
    };
    let count = targets.len();
    let mut confirmed = false;
    let mut cancel = false;
    let modal = theme::modal("confirm-delete").show(ui.ctx(), |ui| {
        ui.set_width(420.0);
        let noun = if count == 1 { "device" } else { "devices" };
        ui.heading(format!("Delete {count} {noun}?"));
        ui.label("Their twins are deleted too. A device changed since it was listed is not deleted.");
        ui.add_space(4.0);
        for target in targets.iter().take(8) {
            ui.label(RichText::new(&*target.device_id).monospace());
        }
        if count > 8 {
            ui.label(format!("… and {} more", count - 8));
        }
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let button = egui::Button::new(RichText::new(format!("Delete {count} {noun}")).color(theme::bad(ui.visuals())));
            if ui.add(button).clicked() {
                confirmed = true;
            }
            if ui.button("Cancel").clicked() {
                cancel = true;
            }
        });
    });
    if confirmed {
        if let Some(targets) = state.confirm_delete.take() {
            state.devices.selection.ids.clear();
            out.push(Command::DeleteDevices(targets));
        }
    } else if cancel || theme::escape_pressed(&modal) {
        state.confirm_delete = None;
    }
}
