//! The "Connect a device…" window: the device's connection string (masked until "Show"), the CA
//! certificate devices must trust, and the command lines for `hubdeck device`, Python and Node,
//! each with a copy button that copies the real text. Not modal: the list stays in view, so the
//! device is seen connecting.

use egui::{RichText, Ui};

use super::theme;
use crate::app::model::AppState;
use crate::app::model::connect_device::{ConnectTab, DeviceCredential, MASK, Snippets};
use crate::azure::secret::Secret;

/// The window, when open.
pub fn connect_device_ui(ui: &mut Ui, state: &mut AppState) {
    let side = state.device_side.clone();
    let Some(dialog) = &mut state.connect_device else {
        return;
    };
    let mut open = true;
    let mut copy: Option<Secret> = None;
    egui::Window::new(format!("Connect a device — {}", dialog.device_id))
        .id(egui::Id::unique("connect-device-window"))
        .open(&mut open)
        .default_pos(ui.ctx().content_rect().center_top() + egui::vec2(-360.0, 80.0))
        .default_width(720.0)
        .resizable(true)
        // Its collapse button would be another "Hide" next to the key's.
        .collapsible(false)
        .show(ui.ctx(), |ui| {
            let visuals = ui.visuals().clone();
            ui.label(format!(
                "Run real device code as {} against this hub; the device list shows it connected within a few seconds.",
                dialog.device_id
            ));
            match &side.ca_file {
                Some(ca) => {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(RichText::new("Devices must trust this CA certificate:").color(theme::muted(&visuals)));
                        ui.label(RichText::new(ca.display().to_string()).monospace());
                    });
                }
                None => {
                    ui.label(
                        RichText::new("The hub's certificate is publicly trusted: no CA file is needed.").color(theme::muted(&visuals)),
                    );
                }
            }
            ui.add_space(4.0);
            let key = match dialog.credential.value() {
                Some(DeviceCredential::SymmetricKey(key)) => key.clone(),
                Some(DeviceCredential::NoKey(why)) => {
                    ui.label(RichText::new(why).color(theme::warn(&visuals)));
                    return;
                }
                None => {
                    let text = dialog.credential.error().map_or_else(
                        || "Reading the device's key…".to_owned(),
                        |error| format!("The device's key could not be read: {error}"),
                    );
                    let color = if dialog.credential.error().is_some() { theme::bad(&visuals) } else { theme::muted(&visuals) };
                    ui.label(RichText::new(text).color(color));
                    return;
                }
            };
            let real = Snippets::build(&dialog.device_id, key.expose(), &side);
            let shown = if dialog.reveal { real.clone() } else { Snippets::build(&dialog.device_id, MASK, &side) };

            ui.label(RichText::new("Connection string").strong());
            ui.horizontal(|ui| {
                let label = if dialog.reveal { "Hide" } else { "Show" };
                if ui.button(label).on_hover_text("Show or hide the device key").clicked() {
                    dialog.reveal = !dialog.reveal;
                }
                if ui.button("Copy connection string").clicked() {
                    copy = Some(Secret::new(real.connection_string.clone()));
                }
            });
            code_ui(ui, &shown.connection_string, true);
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                for tab in ConnectTab::ALL {
                    if ui.selectable_label(dialog.tab == tab, tab.label()).clicked() {
                        dialog.tab = tab;
                    }
                }
            });
            ui.separator();
            egui::ScrollArea::vertical().max_height(420.0).auto_shrink([false, true]).show(ui, |ui| match dialog.tab {
                ConnectTab::Hubdeck => {
                    block_ui(ui, "Run:", &shown.hubdeck, "Copy command", &real.hubdeck, &mut copy, true);
                    ui.label(
                        RichText::new("It answers lockDoor, unlockDoor and reboot, acknowledges desired properties and sends telemetry.")
                            .small()
                            .color(theme::muted(&visuals)),
                    );
                }
                ConnectTab::Python => {
                    block_ui(
                        ui,
                        "Save as device.py (azure-iot-device over MQTT):",
                        &shown.python,
                        "Copy script",
                        &real.python,
                        &mut copy,
                        false,
                    );
                    block_ui(ui, "Run:", &shown.python_run, "Copy run commands", &real.python_run, &mut copy, true);
                }
                ConnectTab::Node => {
                    block_ui(ui, "Save as device.js (azure-iot-device-mqtt):", &shown.node, "Copy script", &real.node, &mut copy, false);
                    block_ui(ui, "Run:", &shown.node_run, "Copy run commands", &real.node_run, &mut copy, true);
                }
            });
            if !dialog.reveal {
                ui.label(RichText::new("The key is hidden on screen; Copy copies the real text.").small().color(theme::muted(&visuals)));
            }
        });
    if let Some(text) = copy {
        state.clipboard = Some(text);
        state.notices.push(crate::app::model::Notice {
            level: crate::app::model::NoticeLevel::Info,
            text: "Copied to the clipboard (it holds the device key)".to_owned(),
        });
    }
    if !open {
        state.connect_device = None;
    }
}

/// A title line with its copy button, then the text in a code frame.
fn block_ui(ui: &mut Ui, title: &str, shown: &str, copy_label: &str, real: &str, copy: &mut Option<Secret>, wrap: bool) {
    ui.horizontal(|ui| {
        ui.label(RichText::new(title).strong());
        if ui.button(copy_label).clicked() {
            *copy = Some(Secret::new(real.to_owned()));
        }
    });
    code_ui(ui, shown, wrap);
    ui.add_space(6.0);
}

/// Monospace text in a frame: command lines wrap; scripts keep their lines (indentation
/// matters in Python) and scroll sideways instead.
fn code_ui(ui: &mut Ui, text: &str, wrap: bool) {
    egui::Frame::group(ui.style()).fill(ui.visuals().extreme_bg_color).show(ui, |ui| {
        ui.set_width(ui.available_width());
        let label = egui::Label::new(RichText::new(text).monospace());
        if wrap {
            ui.add(label.wrap());
        } else {
            egui::ScrollArea::horizontal().show(ui, |ui| ui.add(label.extend()));
        }
    });
}
