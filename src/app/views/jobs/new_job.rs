//! The "new job" dialog: type, method (presets or any name) and payload, or a twin patch;
//! target (selected devices, a condition, or all) with a live preview; start now or at a local
//! time (shown in UTC too); max execution time; the job id.

use egui::{RichText, Ui};

use super::super::theme;
use crate::app::model::job_draft::{JobTarget, METHOD_PRESETS};
use crate::app::model::twin::EditorMode;
use crate::app::model::{AppState, Command, Loadable, Now};
use crate::azure::wire::JobType;

/// How long the target must stay unchanged before it is previewed.
const PREVIEW_AFTER: std::time::Duration = std::time::Duration::from_millis(600);

fn field_ui(ui: &mut Ui, label: &str, text: &mut String, width: f32, hint: &str) -> egui::Response {
    let label = ui.label(label);
    ui.add(egui::TextEdit::singleline(text).desired_width(width).hint_text(hint)).labelled_by(label.id)
}

/// The dialog, when open.
#[allow(clippy::too_many_lines)] // one form in one grid; split up, its fields would be hard to follow
pub fn new_job_ui(ui: &mut Ui, state: &mut AppState, now: Now, out: &mut Vec<Command>) {
    let Some(draft) = &mut state.jobs.draft else {
        return;
    };
    let mut close = false;
    let mut submit = false;
    let mut preview = false;
    let modal = theme::modal("new-job").show(ui.ctx(), |ui| {
        ui.set_width(640.0);
        ui.heading("New job");
        let visuals = ui.visuals().clone();
        egui::Grid::new("new-job-grid").num_columns(2).spacing([12.0, 8.0]).show(ui, |ui| {
            ui.label("Type");
            ui.horizontal(|ui| {
                ui.radio_value(&mut draft.kind, JobType::ScheduleDeviceMethod, "Direct method");
                ui.radio_value(&mut draft.kind, JobType::ScheduleUpdateTwin, "Twin update");
            });
            ui.end_row();
            match draft.kind {
                JobType::ScheduleDeviceMethod => {
                    ui.label("Method");
                    ui.horizontal(|ui| {
                        for (name, payload) in METHOD_PRESETS {
                            if ui.selectable_label(draft.method_name == name, name).clicked() {
                                name.clone_into(&mut draft.method_name);
                                payload.clone_into(&mut draft.payload);
                            }
                        }
                        let label = ui.label("or name");
                        ui.add(egui::TextEdit::singleline(&mut draft.method_name).desired_width(140.0)).labelled_by(label.id);
                    });
                    ui.end_row();
                    let label = ui.label("Payload (JSON)");
                    ui.add(egui::TextEdit::multiline(&mut draft.payload).code_editor().desired_rows(3).desired_width(440.0))
                        .labelled_by(label.id);
                    ui.end_row();
                    ui.label("Timeouts");
                    ui.horizontal(|ui| {
                        field_ui(ui, "response (s)", &mut draft.response_timeout, 50.0, "30");
                        field_ui(ui, "connect (s)", &mut draft.connect_timeout, 50.0, "0");
                    });
                    ui.end_row();
                }
                JobType::ScheduleUpdateTwin => {
                    ui.label("Twin patch");
                    ui.vertical(|ui| {
                        ui.horizontal(|ui| {
                            let editor = &mut draft.patch;
                            let tree_allowed = editor.mode == EditorMode::Tree || editor.json_error.is_none();
                            if ui.add_enabled(tree_allowed, egui::Button::selectable(editor.mode == EditorMode::Tree, "Tree")).clicked() {
                                editor.set_mode(EditorMode::Tree);
                            }
                            if ui.add(egui::Button::selectable(editor.mode == EditorMode::Json, "JSON")).clicked() {
                                editor.set_mode(EditorMode::Json);
                            }
                            ui.label(
                                RichText::new(
                                    "type null to delete a key on every device; sent with \"etag\": \"*\", as the service requires",
                                )
                                .small()
                                .color(theme::muted(&visuals)),
                            );
                        });
                        ui.set_max_width(560.0);
                        match draft.patch.mode {
                            EditorMode::Tree => crate::app::views::twin::tree::tree_ui(ui, &mut draft.patch),
                            EditorMode::Json => crate::app::views::twin::json::json_ui(ui, &mut draft.patch),
                        }
                    });
                    ui.end_row();
                }
            }
            ui.label("Target");
            ui.vertical(|ui| {
                let selected_count = match &draft.target {
                    JobTarget::Selected(ids) => ids.len(),
                    _ => state.devices.selection.len(),
                };
                ui.horizontal(|ui| {
                    let selected_ids: Vec<_> = state.devices.selection.ids.iter().cloned().collect();
                    if ui
                        .add_enabled(
                            selected_count > 0,
                            egui::RadioButton::new(
                                matches!(draft.target, JobTarget::Selected(_)),
                                format!("{selected_count} selected devices"),
                            ),
                        )
                        .clicked()
                    {
                        draft.target = JobTarget::Selected(selected_ids);
                    }
                    if ui.radio(matches!(draft.target, JobTarget::Condition), "Query condition").clicked() {
                        draft.target = JobTarget::Condition;
                    }
                    if ui.radio(matches!(draft.target, JobTarget::All), "All devices").clicked() {
                        draft.target = JobTarget::All;
                    }
                });
                if matches!(draft.target, JobTarget::Condition) {
                    ui.horizontal(|ui| {
                        let label = ui.label("WHERE");
                        let response = ui
                            .add(
                                egui::TextEdit::singleline(&mut draft.condition)
                                    .desired_width(330.0)
                                    .font(egui::TextStyle::Monospace)
                                    .hint_text("tags.building = 43"),
                            )
                            .labelled_by(label.id);
                        if response.changed() {
                            draft.condition_edited = Some(now.instant);
                        }
                        if response.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter)) {
                            preview = true;
                        }
                        if ui.button("Preview").on_hover_text("Count the devices this selects and show the first few").clicked() {
                            preview = true;
                        }
                    });
                } else if ui.small_button("Preview").clicked() {
                    preview = true;
                }
                preview_ui(ui, draft, &visuals);
            });
            ui.end_row();
            ui.label("Start");
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    ui.radio_value(&mut draft.start_now, true, "Now");
                    ui.radio_value(&mut draft.start_now, false, "At (local time)");
                    if !draft.start_now {
                        ui.add(egui::TextEdit::singleline(&mut draft.start_local).desired_width(140.0)).accessible_name("Start at (local)");
                    }
                });
                if !draft.start_now
                    && let Ok(Some(utc)) = draft.start_utc()
                {
                    ui.label(RichText::new(format!("= {} UTC", utc.format("%Y-%m-%d %H:%M"))).small().color(theme::muted(&visuals)));
                }
            });
            ui.end_row();
            ui.label("Max execution");
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut draft.max_execution).desired_width(70.0)).accessible_name("Max execution time (s)");
                ui.label(RichText::new("seconds; devices not done by then fail").color(theme::muted(&visuals)));
            });
            ui.end_row();
            let label = ui.label("Job id");
            ui.add(egui::TextEdit::singleline(&mut draft.job_id).desired_width(300.0)).labelled_by(label.id);
            ui.end_row();
        });
        ui.add_space(6.0);
        let requests = draft.requests();
        match &requests {
            Err(problems) => {
                for problem in problems {
                    ui.label(RichText::new(format!("⚠ {problem}")).color(theme::bad(&visuals)));
                }
            }
            Ok(requests) if requests.len() > 1 => {
                ui.label(
                    RichText::new(format!(
                        "The device list is long: it is sent as {} jobs ({}-1 …) to stay under the service's query size limit.",
                        requests.len(),
                        draft.job_id.trim()
                    ))
                    .color(theme::warn(&visuals)),
                );
            }
            Ok(_) => {}
        }
        if let Some(error) = &draft.error {
            ui.label(RichText::new(format!("Not created: {error}")).color(theme::bad(&visuals)));
        }
        ui.horizontal(|ui| {
            let ready = requests.is_ok() && !draft.submitting;
            if ui.add_enabled(ready, egui::Button::new(RichText::new("Schedule job").strong())).clicked() {
                submit = true;
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
            if draft.submitting {
                ui.label(RichText::new("creating…").color(theme::muted(&visuals)));
            }
        });
    });
    // Live preview: once the target has not changed for a moment, count what it selects.
    let wanted = draft.preview_condition();
    if wanted.is_some() && wanted != draft.previewed {
        let quiet_for = draft.condition_edited.map_or(PREVIEW_AFTER, |edited| now.instant.saturating_duration_since(edited));
        if quiet_for >= PREVIEW_AFTER {
            preview = true;
        } else {
            ui.ctx().request_repaint_after(PREVIEW_AFTER.saturating_sub(quiet_for));
        }
    }
    if preview {
        draft.request_preview(out);
    }
    if submit && let Ok(requests) = draft.requests() {
        draft.submitting = true;
        draft.error = None;
        state.create_jobs(requests, out);
    }
    if close || theme::escape_pressed(&modal) {
        state.jobs.draft = None;
    }
}

/// The preview always takes the same two lines (what the target selects, then the first
/// device ids), so a count arriving while the pointer is on its way to "Schedule job" never
/// moves the button.
fn preview_ui(ui: &mut Ui, draft: &crate::app::model::job_draft::NewJobDraft, visuals: &egui::Visuals) {
    let muted = theme::muted(visuals);
    let current = draft.preview_condition() == draft.previewed;
    let (headline, ids) = match &draft.preview {
        Loadable::Idle => (RichText::new("Not counted yet").color(muted), String::new()),
        Loadable::Failed { error, .. } => (RichText::new(format!("Preview failed: {error}")).color(theme::bad(visuals)), String::new()),
        Loadable::Loading { .. } => (RichText::new("counting…").color(muted), String::new()),
        Loadable::Loaded(preview) => match preview.count {
            None => (RichText::new("counting…").color(muted), String::new()),
            Some(count) => {
                let stale = if current { "" } else { " (for the previous condition)" };
                let more = if count > preview.first.len() as u64 { ", …" } else { "" };
                let ids = if preview.first.is_empty() { String::new() } else { format!("{}{more}", preview.first.join(", ")) };
                (RichText::new(format!("{count} device{} match{stale}", if count == 1 { "" } else { "s" })).strong(), ids)
            }
        },
    };
    let headline = ui.add(egui::Label::new(headline).truncate());
    if let Loadable::Failed { error, .. } = &draft.preview {
        headline.on_hover_text(error.to_string());
    }
    ui.add(egui::Label::new(RichText::new(ids).small().color(muted)).truncate());
}
