//! The connection-profile dialog: the list on the left, the selected profile on the right,
//! connection strings validated as typed and masked unless revealed.

use egui::{RichText, Ui};

use super::theme;
use crate::app::model::state::ProfileDialog;
use crate::app::model::{AppState, Command, KeyringStatus, ProfileCommand, ProfileDraft, ProfileId, ProfileKind, ProfileSummary};

/// Draws the dialog when open.
pub fn profiles_dialog_ui(ui: &Ui, state: &mut AppState, out: &mut Vec<Command>) {
    if state.profiles.dialog.is_none() {
        return;
    }
    let list = state.profiles.list.clone();
    let active = state.profiles.active.clone();
    let keyring = state.profiles.keyring.clone();
    let mut close = false;
    let modal = theme::modal("profiles-dialog").show(ui.ctx(), |ui| {
        ui.set_width(760.0);
        ui.heading("Connection profiles");
        ui.add_space(4.0);
        let Some(dialog) = &mut state.profiles.dialog else {
            return;
        };
        ui.horizontal_top(|ui| {
            // A group rather than a vertical separator: a separator would stretch the modal to
            // the full window height.
            ui.group(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(220.0);
                    profile_list_ui(ui, &list, &active, dialog, out);
                });
            });
            ui.add_space(8.0);
            ui.vertical(|ui| {
                ui.set_min_width(480.0);
                match dialog.viewing.clone() {
                    Some(id) => builtin_ui(ui, list.iter().find(|profile| profile.id == id), &active, out),
                    None => form_ui(ui, dialog, &list, &active, &keyring, out),
                }
            });
        });
        ui.add_space(6.0);
        ui.separator();
        ui.horizontal(|ui| {
            if ui.button("Close").clicked() {
                close = true;
            }
        });
    });
    if close || theme::escape_pressed(&modal) {
        state.profiles.dialog = None;
    }
}

fn profile_list_ui(ui: &mut Ui, list: &[ProfileSummary], active: &ProfileId, dialog: &mut ProfileDialog, out: &mut Vec<Command>) {
    for profile in list {
        let selected =
            dialog.viewing.as_ref() == Some(&profile.id) || (dialog.viewing.is_none() && dialog.draft.id.as_ref() == Some(&profile.id));
        let marker = if profile.id == *active { "✔ " } else { "" };
        let response = ui.selectable_label(selected, format!("{marker}{}", profile.name));
        let response = if profile.hub_host.is_empty() { response } else { response.on_hover_text(&profile.hub_host) };
        if response.clicked() && !selected {
            *dialog = ProfileDialog::default();
            match profile.kind {
                ProfileKind::Saved => out.push(ProfileCommand::Edit(profile.id.clone()).into()),
                ProfileKind::Simulator | ProfileKind::CommandLine => {
                    dialog.viewing = Some(profile.id.clone());
                }
            }
            dialog.draft.id = Some(profile.id.clone());
        }
    }
    ui.add_space(6.0);
    if ui.button("New profile").clicked() {
        *dialog = ProfileDialog::default();
    }
}

fn builtin_ui(ui: &mut Ui, profile: Option<&ProfileSummary>, active: &ProfileId, out: &mut Vec<Command>) {
    let Some(profile) = profile else {
        return;
    };
    ui.label(RichText::new(&profile.name).strong());
    let text = match profile.kind {
        ProfileKind::Simulator => format!(
            "The embedded IoT Hub simulator, started by hubdeck on {}. It keeps its devices between runs and makes its own keys; nothing needs configuring.",
            if profile.hub_host.is_empty() { "localhost".to_owned() } else { profile.hub_host.clone() }
        ),
        _ => format!("From --hub or IOTHUB_CONNECTION_STRING for this session only ({}). It is not saved.", profile.hub_host),
    };
    ui.label(text);
    ui.add_space(6.0);
    if profile.id != *active && ui.button("Use this profile").clicked() {
        out.push(ProfileCommand::Activate(profile.id.clone()).into());
    }
}

fn form_ui(
    ui: &mut Ui,
    dialog: &mut ProfileDialog,
    list: &[ProfileSummary],
    active: &ProfileId,
    keyring: &KeyringStatus,
    out: &mut Vec<Command>,
) {
    let editing = dialog.draft.id.clone();
    ui.label(RichText::new(if editing.is_some() { "Edit profile" } else { "New profile" }).strong());
    let other_names: Vec<&str> =
        list.iter().filter(|profile| Some(&profile.id) != editing.as_ref()).map(|profile| profile.name.as_str()).collect();
    let problems = dialog.draft.problems(&other_names);
    let error_color = theme::bad(ui.visuals());
    let show = |ui: &mut Ui, problem: &Option<String>, touched: bool| {
        if let (Some(problem), true) = (problem, touched) {
            ui.label(RichText::new(problem).color(error_color));
        }
    };
    let draft = &mut dialog.draft;
    let label = ui.label("Name");
    ui.add(egui::TextEdit::singleline(&mut draft.name).id_salt("profile-name").hint_text("Production").desired_width(f32::INFINITY))
        .labelled_by(label.id);
    show(ui, &problems.name, !draft.name.is_empty());
    let label = ui.label("IoT Hub service connection string");
    let hub_edit = egui::TextEdit::singleline(&mut draft.hub)
        .id_salt("profile-hub")
        .password(!dialog.reveal)
        .hint_text("HostName=…;SharedAccessKeyName=…;SharedAccessKey=…")
        .desired_width(f32::INFINITY);
    ui.add(hub_edit).labelled_by(label.id);
    show(ui, &problems.hub, !draft.hub.is_empty());
    let label = ui.label("DPS service connection string (optional)");
    let dps_edit = egui::TextEdit::singleline(&mut draft.dps)
        .id_salt("profile-dps")
        .password(!dialog.reveal)
        .hint_text("HostName=….azure-devices-provisioning.net;…")
        .desired_width(f32::INFINITY);
    ui.add(dps_edit).labelled_by(label.id);
    show(ui, &problems.dps, true);
    ui.horizontal(|ui| {
        ui.checkbox(&mut dialog.reveal, "Reveal");
        if ui.button("Copy hub string").on_hover_text("Copy the IoT Hub connection string").clicked() && !draft.hub.is_empty() {
            ui.ctx().copy_text(draft.hub.clone());
        }
    });
    let label = ui.label("Extra CA certificate (optional, PEM file)");
    ui.horizontal(|ui| {
        ui.add(egui::TextEdit::singleline(&mut draft.ca_file).id_salt("profile-ca-file").hint_text("/path/to/ca.pem").desired_width(360.0))
            .labelled_by(label.id);
        if ui.add_enabled(!dialog.picking_ca, egui::Button::new("Browse…")).clicked() {
            // The backend opens the dialog and answers with `CaFilePicked`.
            dialog.picking_ca = true;
            out.push(ProfileCommand::PickCaFile.into());
        }
    });
    show(ui, &problems.ca_file, true);
    ui.add_space(4.0);
    match keyring {
        KeyringStatus::Available => {
            ui.label(RichText::new("Secrets are stored in the OS keyring.").color(theme::muted(ui.visuals())));
        }
        KeyringStatus::Unavailable(reason) => {
            ui.label(RichText::new(format!("No OS keyring is available ({reason}).")).color(theme::warn(ui.visuals())));
            ui.checkbox(&mut draft.store_in_file, "Save the connection strings to a file readable only by me")
                .on_hover_text("Otherwise they stay in memory and are gone when hubdeck exits");
        }
    }
    if let Some(message) = &dialog.message {
        ui.label(RichText::new(message).strong());
    }
    ui.add_space(6.0);
    // Checked again now that the fields took this frame's typing.
    let ready = dialog.draft.problems(&other_names).is_empty();
    ui.horizontal(|ui| {
        if ui.add_enabled(ready, egui::Button::new("Save")).clicked() {
            out.push(ProfileCommand::Save(dialog.draft.clone()).into());
        }
        if let Some(id) = &editing {
            if *id != *active && ui.button("Use this profile").clicked() {
                out.push(ProfileCommand::Activate(id.clone()).into());
            }
            if ui.button(RichText::new("Delete profile").color(error_color)).clicked() {
                out.push(ProfileCommand::Delete(id.clone()).into());
                *dialog = ProfileDialog { draft: ProfileDraft::default(), ..ProfileDialog::default() };
            }
        }
    });
}
