//! The direct-method window: method name (presets or any), JSON payload with validation, both
//! timeouts, and every invocation's result kept on screen.

use egui::{RichText, Ui};

use super::theme;
use crate::app::model::method_call::MethodForm;
use crate::app::model::{AppState, Command, Now};

/// Opens the window for a device.
pub fn open(state: &mut AppState, device_id: std::sync::Arc<str>) {
    let keep = state.method.form.as_ref().is_some_and(|form| form.device_id == device_id);
    if !keep {
        state.method.form = Some(MethodForm::new(device_id));
    }
}

/// The window, when open.
pub fn method_panel_ui(ui: &mut Ui, state: &mut AppState, now: Now, out: &mut Vec<Command>) {
    let waiting = state.method.waiting();
    let Some(form) = &mut state.method.form else {
        return;
    };
    let mut open = true;
    let mut invoke = false;
    let title = format!("Direct method — {}", form.device_id);
    let history = &state.method.history;
    egui::Window::new(title)
        .id(egui::Id::unique("method-window"))
        .open(&mut open)
        .default_pos(ui.ctx().content_rect().right_top() + egui::vec2(-560.0, 90.0))
        .default_width(520.0)
        .resizable(true)
        .show(ui.ctx(), |ui| {
            let visuals = ui.visuals().clone();
            ui.horizontal(|ui| {
                for (name, payload) in crate::app::model::job_draft::METHOD_PRESETS {
                    if ui.selectable_label(form.method_name == name, name).clicked() {
                        name.clone_into(&mut form.method_name);
                        payload.clone_into(&mut form.payload);
                    }
                }
            });
            egui::Grid::new("method-form").num_columns(2).spacing([10.0, 6.0]).show(ui, |ui| {
                let label = ui.label("Method name");
                ui.add(egui::TextEdit::singleline(&mut form.method_name).desired_width(220.0)).labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Payload (JSON)");
                ui.add(egui::TextEdit::multiline(&mut form.payload).code_editor().desired_rows(3).desired_width(340.0))
                    .labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Response timeout (s)");
                ui.add(egui::TextEdit::singleline(&mut form.response_timeout).desired_width(60.0)).labelled_by(label.id);
                ui.end_row();
                let label = ui.label("Connect timeout (s)");
                ui.add(egui::TextEdit::singleline(&mut form.connect_timeout).desired_width(60.0)).labelled_by(label.id);
                ui.end_row();
            });
            let request = form.request();
            if let Err(problem) = &request {
                ui.label(RichText::new(format!("⚠ {problem}")).color(theme::bad(&visuals)));
            }
            ui.horizontal(|ui| {
                if ui.add_enabled(request.is_ok() && !waiting, egui::Button::new(RichText::new("Invoke").strong())).clicked() {
                    invoke = true;
                }
                if waiting {
                    ui.label(RichText::new("waiting for the device…").color(theme::muted(&visuals)));
                }
            });
            ui.separator();
            ui.label(RichText::new("Results").strong());
            if history.is_empty() {
                ui.label(RichText::new("Nothing invoked yet this session.").color(theme::muted(&visuals)));
            }
            egui::ScrollArea::vertical().max_height(260.0).auto_shrink([false, true]).show(ui, |ui| {
                for call in history.iter().rev() {
                    let time: chrono::DateTime<chrono::Local> = call.at.into();
                    let head = format!("{}  {} on {}", time.format("%H:%M:%S"), call.method_name, call.device_id);
                    match &call.result {
                        None => {
                            ui.label(RichText::new(format!("{head}: waiting…")).color(theme::muted(&visuals)));
                        }
                        Some(Ok(answer)) => {
                            let color = if (200..300).contains(&answer.status) { theme::good(&visuals) } else { theme::warn(&visuals) };
                            ui.label(RichText::new(format!("{head}: device status {}", answer.status)).color(color));
                            ui.add(egui::Label::new(RichText::new(answer.payload.to_string()).monospace()).selectable(true));
                        }
                        Some(Err(error)) => {
                            ui.label(RichText::new(format!("{head}: {}", error.with_code())).color(theme::bad(&visuals)));
                        }
                    }
                    ui.add_space(4.0);
                }
            });
        });
    if invoke {
        state.invoke_method(now, out);
    }
    if !open {
        state.method.form = None;
    }
}
