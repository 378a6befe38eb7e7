//! The editor of one enrollment or group: the re-provisioning policy as three named choices
//! with what each does in plain words, allocation and hubs, device settings, keys, the initial
//! twin in the twin tree, the conflict view, and the registration records.

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use crate::app::model::enrollment_editor::{EnrollmentEditor, fresh_keys};
use crate::app::model::enrollments::allocation_label;
use crate::app::model::reprovision_choice::PolicyChoice;
use crate::app::model::twin::EditorMode;
use crate::app::model::{AppState, Command, DpsCommand, EnrollmentKind, Loadable, Now, Pending};
use crate::app::views::jobs::local_time;
use crate::app::views::theme;
use crate::azure::wire::{AllocationPolicy, DeviceRegistrationState, RegistrationSubstatus};

/// A substatus in plain words.
pub fn substatus_words(substatus: Option<RegistrationSubstatus>) -> &'static str {
    match substatus {
        None => "",
        Some(RegistrationSubstatus::InitialAssignment) => "initialAssignment: first assignment",
        Some(RegistrationSubstatus::DeviceDataMigrated) => "deviceDataMigrated: moved with its twin",
        Some(RegistrationSubstatus::DeviceDataReset) => "deviceDataReset: given the initial twin",
        Some(RegistrationSubstatus::ReprovisionedToInitialAssignment) => "reprovisionedToInitialAssignment: was already on the hub",
    }
}

/// The editor page.
pub fn enrollment_editor_ui(ui: &mut Ui, state: &mut AppState, now: Now, out: &mut Vec<Command>) {
    let now = now.instant;
    if let Some(editor) = &mut state.enrollments.editor {
        editor.poll(now, out);
        if let Some(due) = editor.poll_due_in(now) {
            ui.ctx().request_repaint_after(due);
        }
    }
    let mut close = false;
    let mut open_device = None;
    let mut reregister = None;
    let hubs = state.hubs.clone();
    let Some(editor) = &mut state.enrollments.editor else {
        return;
    };
    header_ui(ui, editor, &mut close, out);
    confirm_delete_ui(ui, editor, &mut state.enrollments.actions, out);
    ui.separator();
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        ui.set_max_width(1100.0);
        if editor.conflict.is_some() {
            conflict_ui(ui, editor);
            ui.add_space(8.0);
        }
        policy_ui(ui, editor);
        ui.add_space(10.0);
        allocation_ui(ui, editor, &hubs);
        ui.add_space(10.0);
        device_ui(ui, editor, &mut state.clipboard, out);
        ui.add_space(10.0);
        initial_twin_ui(ui, editor);
        ui.add_space(10.0);
        records_ui(ui, editor, &hubs, &mut open_device, &mut reregister, out);
    });
    if close {
        if editor.is_dirty() {
            // Unsaved work is never dropped by navigation: Discard is explicit.
            editor.message = Some((true, "There are unsaved changes: Save them, or Discard changes first.".to_owned()));
        } else {
            state.enrollments.editor = None;
        }
    }
    if let Some((host, device_id)) = open_device {
        state.open_device_on_hub(&host, device_id, out);
    }
    if let Some((record, hub)) = reregister
        && let Some(editor) = &mut state.enrollments.editor
    {
        editor.reregister(&record, hub, now, out);
    }
}

fn header_ui(ui: &mut Ui, editor: &mut EnrollmentEditor, close: &mut bool, out: &mut Vec<Command>) {
    let visuals = ui.visuals().clone();
    ui.horizontal(|ui| {
        if ui.button("< Enrollments").clicked() {
            *close = true;
        }
        ui.separator();
        let kind = match editor.base.kind() {
            EnrollmentKind::Individual => "Individual enrollment",
            EnrollmentKind::Group => "Enrollment group",
        };
        ui.heading(editor.base.id());
        ui.label(RichText::new(format!("{kind}, {} attestation", editor.base.attestation_kind())).color(theme::muted(&visuals)));
        ui.separator();
        let blocker = editor.save_blocker();
        let dirty = editor.is_dirty();
        let can_save = dirty && blocker.is_none() && !editor.is_saving() && editor.conflict.is_none();
        let save = ui
            .add_enabled(can_save, egui::Button::new(if editor.is_saving() { "Saving..." } else { "Save" }))
            .on_hover_text("Saved with If-Match: if someone else changed it meanwhile, you are shown both versions");
        if save.clicked() {
            editor.save(out);
        }
        if ui.add_enabled(dirty && !editor.is_saving(), egui::Button::new("Discard changes")).clicked() {
            let base = editor.base.clone();
            editor.reopen(base);
        }
        if ui.add_enabled(!editor.is_saving(), egui::Button::new("Delete...")).clicked() {
            editor.confirm_delete = Some(false);
        }
        if dirty {
            ui.label(RichText::new("unsaved changes").color(theme::warn(&visuals)));
        }
        if let Some(blocker) = blocker {
            ui.label(RichText::new(blocker).color(theme::bad(&visuals)));
        }
    });
    if let Some((is_error, text)) = &editor.message {
        let color = if *is_error { theme::bad(&visuals) } else { theme::good(&visuals) };
        ui.label(RichText::new(text).color(color));
    }
}

fn confirm_delete_ui(ui: &mut Ui, editor: &mut EnrollmentEditor, actions: &mut Pending, out: &mut Vec<Command>) {
    let Some(sent) = editor.confirm_delete else {
        return;
    };
    let mut delete = false;
    let mut cancel = false;
    let modal = theme::modal("confirm-enrollment-delete").show(ui.ctx(), |ui| {
        ui.set_width(460.0);
        ui.heading(format!("Delete {}?", editor.base.id()));
        ui.label(
            "Its devices stay registered on their hubs and their DPS registration records stay; they can no longer register              through it. Deleted with the etag you opened it with, so a version someone saved since is not deleted.",
        );
        ui.horizontal(|ui| {
            if ui.add_enabled(!sent, egui::Button::new(if sent { "Deleting..." } else { "Delete" })).clicked() {
                delete = true;
            }
            if ui.add_enabled(!sent, egui::Button::new("Cancel")).clicked() {
                cancel = true;
            }
        });
    });
    if (cancel || theme::escape_pressed(&modal)) && !sent {
        editor.confirm_delete = None;
    }
    if delete {
        editor.confirm_delete = Some(true);
        let (kind, id, etag) = (editor.base.kind(), editor.base.id().to_owned(), editor.base.settings().etag.clone());
        out.push(DpsCommand::Delete { request: actions.start(), kind, id, etag }.into());
    }
}

fn conflict_ui(ui: &mut Ui, editor: &mut EnrollmentEditor) {
    let visuals = ui.visuals().clone();
    egui::Frame::group(ui.style()).stroke(egui::Stroke::new(1.0, theme::warn(&visuals))).show(ui, |ui| {
        ui.label(RichText::new("Someone else saved this enrollment after you opened it. Nothing was overwritten.").strong());
        ui.label("Compare the versions, then keep yours (saved over theirs with their etag) or take theirs (your edits are dropped).");
        egui::Grid::new("enrollment-conflict").striped(true).num_columns(4).show(ui, |ui| {
            for title in ["Setting", "When you opened it", "Their version", "Yours"] {
                ui.strong(title);
            }
            ui.end_row();
            for line in editor.conflict_lines() {
                ui.label(line.field);
                ui.label(RichText::new(&line.base).color(theme::muted(&visuals)));
                let theirs_changed = line.theirs != line.base;
                ui.label(if theirs_changed {
                    RichText::new(&line.theirs).color(theme::warn(&visuals))
                } else {
                    RichText::new(&line.theirs)
                });
                ui.label(if line.mine == line.base { RichText::new(&line.mine) } else { RichText::new(&line.mine).strong() });
                ui.end_row();
            }
        });
        ui.horizontal(|ui| {
            if ui.button("Keep mine").on_hover_text("Then Save writes your version over theirs").clicked() {
                editor.keep_mine();
            }
            if ui.button("Take theirs").clicked() {
                editor.take_theirs();
            }
        });
    });
}

fn section_ui(ui: &mut Ui, title: &str, subtitle: &str) {
    ui.label(RichText::new(title).strong().size(15.0));
    if !subtitle.is_empty() {
        ui.label(RichText::new(subtitle).color(theme::muted(ui.visuals())));
    }
    ui.add_space(4.0);
}

fn flags(choice: PolicyChoice) -> String {
    match choice.to_policy() {
        Some(policy) => {
            format!("updateHubAssignment: {}   migrateDeviceData: {}", policy.update_hub_assignment, policy.migrate_device_data)
        }
        None => "no reprovisionPolicy saved".to_owned(),
    }
}

fn policy_ui(ui: &mut Ui, editor: &mut EnrollmentEditor) {
    let visuals = ui.visuals().clone();
    section_ui(ui, "Re-provisioning policy", "What happens to a device, its twin and its hub the next time it registers with DPS.");
    let saved = PolicyChoice::from_policy(editor.base.settings().reprovision_policy);
    let mut shown: Vec<PolicyChoice> = PolicyChoice::CHOICES.to_vec();
    if !shown.contains(&saved) {
        shown.push(saved);
    }
    for choice in shown {
        let selected = editor.policy == choice;
        let pickable = PolicyChoice::CHOICES.contains(&choice) || selected;
        let frame = if selected {
            egui::Frame::group(ui.style()).stroke(egui::Stroke::new(1.5, visuals.selection.stroke.color))
        } else {
            egui::Frame::group(ui.style())
        };
        let card = frame.show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal(|ui| {
                let title = RichText::new(choice.title()).strong();
                let radio = ui.add_enabled(pickable, egui::RadioButton::new(selected, title));
                if radio.clicked() && PolicyChoice::CHOICES.contains(&choice) {
                    editor.policy = choice;
                }
                if choice == saved {
                    ui.label(RichText::new("(saved setting)").small().color(theme::good(&visuals)));
                } else if selected {
                    ui.label(RichText::new("(your change, not saved yet)").small().color(theme::warn(&visuals)));
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.label(RichText::new(flags(choice)).monospace().small().color(theme::muted(&visuals)));
                });
            });
            ui.add(
                egui::Label::new(RichText::new(choice.explanation()).color(if selected {
                    visuals.text_color()
                } else {
                    theme::muted(&visuals)
                }))
                .wrap(),
            );
        });
        // The whole card picks the choice, not only the small radio button.
        if PolicyChoice::CHOICES.contains(&choice) && card.response.interact(egui::Sense::click()).clicked() {
            editor.policy = choice;
        }
    }
}

fn allocation_ui(ui: &mut Ui, editor: &mut EnrollmentEditor, hubs: &[crate::app::model::HubRef]) {
    let visuals = ui.visuals().clone();
    section_ui(ui, "Allocation", "Which hub DPS assigns a registering device to.");
    egui::Grid::new("enrollment-allocation").num_columns(2).spacing([16.0, 8.0]).show(ui, |ui| {
        ui.label("Allocation policy");
        let combo =
            egui::ComboBox::from_id_salt("allocation-policy").selected_text(allocation_label(editor.allocation)).show_ui(ui, |ui| {
                for policy in [AllocationPolicy::Hashed, AllocationPolicy::GeoLatency, AllocationPolicy::Static, AllocationPolicy::Custom] {
                    ui.selectable_value(&mut editor.allocation, policy, allocation_label(policy));
                }
            });
        combo.response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "Allocation policy"));
        ui.end_row();
        ui.label("IoT hubs");
        ui.vertical(|ui| {
            let mut known: Vec<(String, String)> = hubs.iter().map(|hub| (hub.host.clone(), hub.name.clone())).collect();
            for host in &editor.hubs {
                if !known.iter().any(|(known_host, _)| known_host.eq_ignore_ascii_case(host)) {
                    known.push((host.clone(), "not a hub of this profile".to_owned()));
                }
            }
            for (host, name) in known {
                let mut ticked = editor.hubs.contains(&host);
                let label = if name == host { host.clone() } else { format!("{name}  ({host})") };
                if ui.checkbox(&mut ticked, label).changed() {
                    if ticked {
                        editor.hubs.insert(host);
                    } else {
                        editor.hubs.remove(&host);
                    }
                }
            }
            let hint = match editor.allocation {
                AllocationPolicy::Static => "Static: tick exactly one hub; every device of this enrollment goes there.",
                _ if editor.hubs.is_empty() => "None ticked: every hub linked to the DPS instance takes part.",
                _ => "Only the ticked hubs take part.",
            };
            ui.label(RichText::new(hint).small().color(theme::muted(&visuals)));
        });
        ui.end_row();
        if editor.allocation == AllocationPolicy::Custom {
            ui.label("Webhook URL");
            ui.add(
                egui::TextEdit::singleline(&mut editor.webhook_url)
                    .hint_text("https://my-function.azurewebsites.net/api/allocate?code=...")
                    .desired_width(460.0),
            );
            ui.end_row();
        }
    });
}

fn device_ui(ui: &mut Ui, editor: &mut EnrollmentEditor, clipboard: &mut Option<crate::azure::Secret>, out: &mut Vec<Command>) {
    let visuals = ui.visuals().clone();
    section_ui(ui, "Device", "");
    egui::Grid::new("enrollment-device").num_columns(2).spacing([16.0, 8.0]).show(ui, |ui| {
        if editor.base.kind() == EnrollmentKind::Individual {
            ui.label("Device id on the hub");
            ui.add(egui::TextEdit::singleline(&mut editor.device_id).hint_text(editor.base.id().to_owned()).desired_width(260.0));
            ui.end_row();
        }
        ui.label("Provisioning");
        ui.checkbox(&mut editor.enabled, "Enabled (a disabled enrollment refuses its devices)");
        ui.end_row();
        ui.label("IoT Edge");
        ui.checkbox(&mut editor.iot_edge, "The device is an IoT Edge device");
        ui.end_row();
        ui.label("Symmetric keys");
        ui.vertical(|ui| {
            ui.horizontal(|ui| {
                let masked = "********************************";
                let mut load = false;
                match &editor.keys {
                    Loadable::Loaded((primary, secondary)) => {
                        for (which, key) in [("Primary", primary), ("Secondary", secondary)] {
                            ui.label(format!("{which}: {masked}"));
                            if ui.small_button(format!("Copy {}", which.to_lowercase())).clicked() {
                                *clipboard = Some(key.clone());
                            }
                        }
                    }
                    Loadable::Failed { error, .. } => {
                        ui.label(RichText::new(error.to_string()).color(theme::bad(&visuals)));
                    }
                    Loadable::Idle | Loadable::Loading { .. } => {
                        ui.label(format!("Primary: {masked}   Secondary: {masked}"));
                        load = ui.small_button("Load to copy").on_hover_text("Reads the keys from DPS; they are never shown").clicked();
                    }
                }
                if load {
                    editor.load_keys(out);
                }
            });
            ui.horizontal(|ui| {
                if editor.new_keys.is_some() {
                    ui.label(
                        RichText::new("New keys are generated and will be saved; devices must get them.").color(theme::warn(&visuals)),
                    );
                    if ui.small_button("Keep current keys").clicked() {
                        editor.new_keys = None;
                    }
                } else if ui.small_button("Regenerate keys").clicked() {
                    editor.new_keys = Some(fresh_keys());
                }
            });
        });
        ui.end_row();
    });
}

fn initial_twin_ui(ui: &mut Ui, editor: &mut EnrollmentEditor) {
    section_ui(
        ui,
        "Initial twin",
        "Tags and desired properties a device gets on its first assignment, and again when \"reset to initial config\" applies.",
    );
    let twin = &mut editor.initial_twin;
    ui.horizontal(|ui| {
        let tree_allowed = twin.mode == EditorMode::Tree || twin.json_error.is_none();
        if ui.add_enabled(tree_allowed, egui::Button::selectable(twin.mode == EditorMode::Tree, "Tree")).clicked() {
            twin.set_mode(EditorMode::Tree);
        }
        if ui.add(egui::Button::selectable(twin.mode == EditorMode::Json, "JSON")).clicked() {
            twin.set_mode(EditorMode::Json);
        }
    });
    ui.push_id("initial-twin", |ui| {
        ui.set_max_width(760.0);
        match twin.mode {
            EditorMode::Tree => crate::app::views::twin::tree::tree_ui(ui, twin),
            EditorMode::Json => crate::app::views::twin::json::json_ui(ui, twin),
        }
    });
}

fn records_ui(
    ui: &mut Ui,
    editor: &mut EnrollmentEditor,
    hubs: &[crate::app::model::HubRef],
    open_device: &mut Option<(String, std::sync::Arc<str>)>,
    reregister: &mut Option<(DeviceRegistrationState, String)>,
    out: &mut Vec<Command>,
) {
    let visuals = ui.visuals().clone();
    ui.horizontal(|ui| {
        ui.label(RichText::new("Registrations").strong().size(15.0));
        if ui.small_button("Refresh").clicked() {
            editor.reload_records(out);
        }
        if !editor.reregistering.is_empty() {
            ui.label(
                RichText::new(format!("waiting for {} device(s) to register again...", editor.reregistering.len()))
                    .color(theme::warn(&visuals)),
            );
        }
    });
    ui.label(
        RichText::new("Where DPS assigned each device. \"Re-register now\" asks the device (direct method reprovision) to register again, so the saved policy takes effect.")
            .color(theme::muted(&visuals)),
    );
    if let Some(error) = editor.records.error() {
        ui.label(RichText::new(format!("The registrations could not be read: {error}")).color(theme::bad(&visuals)));
    }
    if editor.records().is_empty() {
        ui.label(RichText::new("No device has registered through this enrollment yet.").color(theme::muted(&visuals)));
        return;
    }
    let name_of = |host: &str| hubs.iter().find(|hub| hub.host.eq_ignore_ascii_case(host)).map(|hub| hub.name.clone());
    let records = editor.records().to_vec();
    ui.push_id("registration-records", |ui| {
        TableBuilder::new(ui)
            .striped(true)
            .vscroll(false)
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::initial(160.0).resizable(true).clip(true))
            .column(Column::initial(150.0).resizable(true).clip(true))
            .column(Column::initial(150.0).resizable(true).clip(true))
            .column(Column::initial(80.0))
            .column(Column::initial(270.0).resizable(true).clip(true))
            .column(Column::initial(150.0))
            .column(Column::remainder())
            .header(22.0, |mut header| {
                for title in ["Registration id", "Device id", "Assigned hub", "Status", "Substatus", "Last updated", ""] {
                    header.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(theme::ROW_HEIGHT + 4.0, records.len(), |mut row| {
                    let record = &records[row.index()];
                    let hub_name = record.assigned_hub.as_deref().and_then(name_of);
                    row.col(|ui| {
                        ui.label(&record.registration_id);
                    });
                    row.col(|ui| {
                        ui.label(record.device_id.as_deref().unwrap_or(""));
                    });
                    row.col(|ui| {
                        ui.label(hub_name.clone().or_else(|| record.assigned_hub.clone()).unwrap_or_default());
                    });
                    row.col(|ui| {
                        ui.label(super::status_text(record.status, &visuals));
                    });
                    row.col(|ui| {
                        let text = record
                            .error_message
                            .as_deref()
                            .filter(|_| record.substatus.is_none())
                            .unwrap_or(substatus_words(record.substatus));
                        ui.add(egui::Label::new(text).truncate());
                    });
                    row.col(|ui| {
                        ui.label(local_time(record.last_updated_date_time_utc.as_deref()));
                    });
                    row.col(|ui| {
                        let (Some(host), Some(device_id)) = (&record.assigned_hub, &record.device_id) else {
                            return;
                        };
                        if ui.small_button("Open device").on_hover_text("Its twin, on the hub it is assigned to").clicked() {
                            *open_device = Some((host.clone(), device_id.as_str().into()));
                        }
                        let waiting = editor.reregistering.contains_key(&record.registration_id);
                        let label = if waiting { "Registering..." } else { "Re-register now" };
                        if ui.add_enabled(!waiting && hub_name.is_some(), egui::Button::new(label).small()).clicked()
                            && let Some(hub) = hub_name.clone()
                        {
                            *reregister = Some((record.clone(), hub));
                        }
                    });
                });
            });
    });
}
