//! The frame around the pages: top bar (profile switcher, theme), left navigation, status bar,
//! and the global keyboard shortcuts.

use egui::{Align, Key, Layout, Modifiers, RichText, Ui};

use super::ViewState;
use super::theme;
use crate::app::model::state::ProfileDialog;
use crate::app::model::{AppState, Command, ConnectionStatus, Now, Page, ProfileCommand, ProfileId};

/// The top bar: name, active profile and host, the profile menu, the theme switch.
pub fn top_bar_ui(ui: &mut Ui, state: &mut AppState, view: &mut ViewState, out: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.label(RichText::new("hubdeck").strong().size(16.0));
        ui.separator();
        let active_name = state.profiles.active_summary().map_or_else(|| state.profiles.active.to_string(), |profile| profile.name.clone());
        ui.menu_button(format!("Profile: {active_name} ⏷"), |ui| {
            for profile in state.profiles.list.clone() {
                let selected = profile.id == state.profiles.active;
                let label =
                    if profile.hub_host.is_empty() { profile.name.clone() } else { format!("{}  ({})", profile.name, profile.hub_host) };
                if ui.selectable_label(selected, label).clicked() && !selected {
                    out.push(ProfileCommand::Activate(profile.id.clone()).into());
                }
            }
        });
        if ui.button("Profiles…").on_hover_text("Add, edit, delete and switch connection profiles").clicked() {
            open_profiles_dialog(state, out);
        }
        if state.hubs.len() > 1 {
            ui.separator();
            let current = state.hub.clone();
            egui::ComboBox::from_id_salt("hub-switch")
                .selected_text(format!("Hub: {current}"))
                .show_ui(ui, |ui| {
                    for hub in state.hubs.clone() {
                        if ui.selectable_label(hub.name == current, format!("{}  ({})", hub.name, hub.host)).clicked()
                            && hub.name != current
                        {
                            out.push(ProfileCommand::SwitchHub(hub.name.clone()).into());
                        }
                    }
                })
                .response
                .on_hover_text("The device list, twin editor and jobs show one hub of this profile at a time");
        }
        ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
            theme_switch_ui(ui, view);
        });
    });
}

/// Opens the profile dialog on the active saved profile, or a new draft.
pub fn open_profiles_dialog(state: &mut AppState, out: &mut Vec<Command>) {
    let active = state.profiles.active.clone();
    let editable = active != ProfileId::simulator() && active != ProfileId::command_line();
    if editable {
        state.profiles.dialog = Some(ProfileDialog::default());
        out.push(ProfileCommand::Edit(active).into());
    } else {
        state.profiles.dialog = Some(ProfileDialog { viewing: Some(active), ..ProfileDialog::default() });
    }
}

fn theme_switch_ui(ui: &mut Ui, view: &mut ViewState) {
    let choices =
        [(egui::ThemePreference::System, "System"), (egui::ThemePreference::Light, "Light"), (egui::ThemePreference::Dark, "Dark")];
    let current = choices.iter().find(|(preference, _)| *preference == view.theme).map_or("System", |(_, label)| *label);
    ui.menu_button(format!("Theme: {current} ⏷"), |ui| {
        for (preference, label) in choices {
            if ui.selectable_label(view.theme == preference, label).clicked() {
                view.theme = preference;
                ui.ctx().set_theme(preference);
            }
        }
    });
}

/// The left navigation.
pub fn navigation_ui(ui: &mut Ui, state: &mut AppState) {
    ui.add_space(4.0);
    for (index, page) in Page::ALL.into_iter().enumerate() {
        let label = RichText::new(page.label()).size(14.0);
        let response = ui.add_sized([ui.available_width(), 28.0], egui::Button::selectable(state.page == page, label));
        if response.on_hover_text(format!("Ctrl+{}", index + 1)).clicked() {
            state.page = page;
        }
    }
}

/// The status bar: profile and host, requests in flight, the last error, retry waits.
pub fn status_bar_ui(ui: &mut Ui, state: &mut AppState, now: Now) {
    let visuals = ui.visuals().clone();
    ui.horizontal(|ui| {
        let (dot, text) = match &state.connection {
            ConnectionStatus::Starting => (theme::muted(&visuals), "starting…".to_owned()),
            ConnectionStatus::Connecting(profile) => (theme::warn(&visuals), format!("connecting to {profile}…")),
            ConnectionStatus::Connected { host, .. } => {
                let name = state.profiles.active_summary().map_or_else(String::new, |profile| profile.name.clone());
                (theme::good(&visuals), format!("{name} — {host}"))
            }
            ConnectionStatus::Failed { profile, error } => (theme::bad(&visuals), format!("{profile}: {error}")),
        };
        let filled = matches!(state.connection, ConnectionStatus::Connected { .. });
        theme::dot_ui(ui, dot, filled);
        ui.label(text);
        ui.separator();
        let in_flight = state.in_flight();
        ui.label(format!("{in_flight} request{} in flight", if in_flight == 1 { "" } else { "s" }));
        if let Some(retry) = &state.status.retry {
            let remaining = retry.resume_at.duration_since(now.wall).map_or(0, |left| left.as_secs() + 1);
            let what = match retry.reason {
                crate::azure::RetryReason::Throttled => "throttled",
                crate::azure::RetryReason::ServerError(_) => "service error",
                crate::azure::RetryReason::Transport => "connection problem",
            };
            ui.separator();
            ui.label(RichText::new(format!("{what} — retrying in {remaining} s")).color(theme::warn(&visuals)));
            // The countdown needs a tick, but only while a wait is on.
            ui.ctx().request_repaint_after(std::time::Duration::from_millis(500));
        }
        if let Some((seq, message)) = state.status.last_error.clone() {
            ui.separator();
            let short: String = message.chars().take(90).collect();
            let link = ui
                .link(RichText::new(format!("Last error: {short}")).color(theme::bad(&visuals)))
                .on_hover_text("Show it in the activity log");
            if link.clicked() {
                state.page = Page::Activity;
                state.activity.highlight = Some(seq);
            }
        }
    });
}

/// Global shortcuts. Returns true when Ctrl+F asked for the query bar.
pub fn shortcuts(ui: &Ui, state: &mut AppState, view: &mut ViewState, out: &mut Vec<Command>) {
    let twin_dialog = state
        .twin
        .as_ref()
        .is_some_and(|editor| state.page == Page::Twin && (editor.review || editor.conflict.is_some() || editor.confirm_discard.is_some()));
    let jobs_dialog = state.jobs.draft.is_some() || state.jobs.detail.as_ref().is_some_and(|detail| detail.confirm_cancel);
    let dialog_open =
        state.profiles.dialog.is_some() || state.add_device.is_some() || state.confirm_delete.is_some() || twin_dialog || jobs_dialog;
    if dialog_open {
        return; // modals take Esc and Enter themselves
    }
    ui.input_mut(|input| {
        if input.consume_key(Modifiers::COMMAND, Key::R) {
            state.refresh(out);
        }
        if input.consume_key(Modifiers::COMMAND, Key::F) {
            state.page = Page::Devices;
            view.focus_query = true;
        }
        for (key, page) in [
            (Key::Num1, Page::Devices),
            (Key::Num2, Page::Jobs),
            (Key::Num3, Page::Enrollments),
            (Key::Num4, Page::Activity),
            (Key::Num5, Page::Twin),
        ] {
            if input.consume_key(Modifiers::COMMAND, key) {
                state.page = page;
            }
        }
    });
}
