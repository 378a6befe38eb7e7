//! The Enrollments page: individual enrollments and groups in virtualized tables with search,
//! ticks for a bulk policy change, and the editor of the enrollment that was opened.

mod bulk;
mod editor;
mod new_enrollment;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::theme;
use crate::app::model::enrollments::allocation_label;
use crate::app::model::reprovision_choice::PolicyChoice;
use crate::app::model::{AnyEnrollment, AppState, Command, ConnectionStatus, EnrollmentKind, Now};
use crate::azure::wire::RegistrationStatus;

/// The Enrollments page: the lists with search and picks, or the editor when one is open.
pub fn enrollments_page_ui(ui: &mut Ui, state: &mut AppState, now: Now, out: &mut Vec<Command>) {
    let connected = matches!(state.connection, ConnectionStatus::Connected { .. });
    if connected && state.enrollments.lists.is_idle() {
        state.load_enrollments(out);
    }
    if state.enrollments.editor.is_some() {
        editor::enrollment_editor_ui(ui, state, now, out);
    } else {
        toolbar_ui(ui, state, out);
        ui.separator();
        list_ui(ui, state, out);
    }
    bulk::bulk_policy_ui(ui, state, out);
    new_enrollment::new_enrollment_ui(ui, state, out);
}

fn toolbar_ui(ui: &mut Ui, state: &mut AppState, out: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.heading("Enrollments");
        ui.separator();
        for kind in [EnrollmentKind::Individual, EnrollmentKind::Group] {
            let count = match kind {
                EnrollmentKind::Individual => state.enrollments.lists().individuals.len(),
                EnrollmentKind::Group => state.enrollments.lists().groups.len(),
            };
            if ui.selectable_label(state.enrollments.tab == kind, format!("{} ({count})", kind.label())).clicked() {
                state.enrollments.tab = kind;
            }
        }
        ui.separator();
        ui.add(egui::TextEdit::singleline(&mut state.enrollments.filter).hint_text("Search ids, hubs, policies").desired_width(220.0));
        if ui.button("Refresh").clicked() {
            state.load_enrollments(out);
        }
        if ui.add_enabled(state.dps_configured, egui::Button::new("New enrollment...")).clicked() {
            state.enrollments.new_draft =
                Some(crate::app::model::enrollments::NewEnrollment { kind: state.enrollments.tab, ..Default::default() });
        }
        let picked = state.enrollments.picked_in_tab().len();
        if ui
            .add_enabled(picked > 0, egui::Button::new(format!("Set policy on {picked} selected...")))
            .on_hover_text("Tick enrollments in the first column, then set one re-provisioning policy on all of them")
            .clicked()
        {
            state.enrollments.open_bulk();
        }
        if state.enrollments.lists.is_loading() {
            ui.label(RichText::new("loading...").color(theme::muted(ui.visuals())));
        }
    });
    if let Some(error) = state.enrollments.lists.error() {
        ui.label(RichText::new(format!("The enrollments could not be listed: {error}")).color(theme::bad(ui.visuals())));
    }
}

/// A registration status in words, with its colour.
pub fn status_text(status: RegistrationStatus, visuals: &egui::Visuals) -> RichText {
    let (text, color) = match status {
        RegistrationStatus::Assigned => ("assigned", theme::good(visuals)),
        RegistrationStatus::Assigning => ("assigning", theme::warn(visuals)),
        RegistrationStatus::Unassigned => ("unassigned", theme::muted(visuals)),
        RegistrationStatus::Failed => ("failed", theme::bad(visuals)),
        RegistrationStatus::Disabled => ("disabled", theme::warn(visuals)),
    };
    RichText::new(text).color(color)
}

fn list_ui(ui: &mut Ui, state: &mut AppState, out: &mut Vec<Command>) {
    let positions = state.enrollments.visible_positions();
    if positions.is_empty() {
        ui.add_space(16.0);
        let text = if state.enrollments.lists.is_loaded() { "Nothing matches." } else { "" };
        ui.label(RichText::new(text).color(theme::muted(ui.visuals())));
        return;
    }
    let visuals = ui.visuals().clone();
    let tab = state.enrollments.tab;
    let mut open = None;
    let last_title = if tab == EnrollmentKind::Individual { "Assigned hub / device" } else { "Registered devices" };
    TableBuilder::new(ui)
        .striped(true)
        .sense(egui::Sense::click())
        .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
        .column(Column::exact(26.0))
        .column(Column::initial(200.0).resizable(true).clip(true))
        .column(Column::initial(100.0).resizable(true))
        .column(Column::initial(90.0).resizable(true))
        .column(Column::initial(250.0).resizable(true).clip(true))
        .column(Column::initial(170.0).resizable(true).clip(true))
        .column(Column::remainder().clip(true))
        .header(22.0, |mut header| {
            for title in ["", "Id", "Attestation", "Status", "Re-provisioning policy", "Allocation", last_title] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(theme::ROW_HEIGHT, positions.len(), |mut row| {
                let Some(item) = state.enrollments.at(positions[row.index()]) else {
                    return;
                };
                let item = &item;
                let key = (item.kind(), item.id().to_owned());
                row.col(|ui| {
                    let mut ticked = state.enrollments.picked.contains(&key);
                    let response = ui.checkbox(&mut ticked, "").on_hover_text("Pick for a bulk policy change");
                    // The box has no visible text; screen readers (and UI tests) get the enrollment's id.
                    let label = format!("Pick {}", key.1);
                    response.widget_info(|| egui::WidgetInfo::selected(egui::Role::CheckBox, true, ticked, &label));
                    if response.changed() {
                        if ticked {
                            state.enrollments.picked.insert(key.clone());
                        } else {
                            state.enrollments.picked.remove(&key);
                        }
                    }
                });
                row.col(|ui| {
                    ui.add(egui::Label::new(item.id()).selectable(false).truncate());
                });
                row.col(|ui| {
                    ui.label(item.attestation_kind());
                });
                row.col(|ui| {
                    let (text, color) =
                        if item.enabled() { ("enabled", theme::good(&visuals)) } else { ("disabled", theme::warn(&visuals)) };
                    ui.label(RichText::new(text).color(color));
                });
                row.col(|ui| {
                    let choice = PolicyChoice::from_policy(item.settings().reprovision_policy);
                    let text = RichText::new(choice.title());
                    ui.label(if choice == PolicyChoice::NotSet { text.italics().color(theme::warn(&visuals)) } else { text });
                });
                row.col(|ui| {
                    ui.label(allocation_label(item.allocation()));
                });
                row.col(|ui| last_column_ui(ui, state, item, &visuals));
                if row.response().clicked() {
                    open = Some(key);
                }
            });
        });
    if let Some((kind, id)) = open {
        state.open_enrollment(kind, &id, out);
    }
}

fn last_column_ui(ui: &mut Ui, state: &AppState, item: &AnyEnrollment, visuals: &egui::Visuals) {
    match item {
        AnyEnrollment::Individual(_) => match item.registration() {
            Some(record) => {
                ui.horizontal(|ui| {
                    ui.label(status_text(record.status, visuals));
                    if let Some(host) = &record.assigned_hub {
                        let hub = state.hub_for_host(host).unwrap_or(host);
                        ui.label(format!("{hub} / {}", record.device_id.as_deref().unwrap_or("")));
                    }
                });
            }
            None => {
                ui.label(RichText::new("never registered").color(theme::muted(visuals)));
            }
        },
        AnyEnrollment::Group(group) => {
            let count = state.enrollments.lists().group_devices.get(&group.enrollment_group_id);
            ui.label(count.map_or_else(String::new, |count| format!("{count} devices")));
        }
    }
}
