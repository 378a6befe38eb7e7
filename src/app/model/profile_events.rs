//! The reducer's profile and connection part: the profile list and dialog, connecting, and
//! what a switch of profile or hub resets.

use super::command::Command;
use super::enrollments::EnrollmentsState;
use super::event::{Connected, ConnectionEvent, ProfileEvent};
use super::state::{AppState, ConnectionStatus, NoticeLevel, Page};

impl AppState {
    pub(super) fn apply_profile_event(&mut self, event: ProfileEvent) {
        match event {
            ProfileEvent::Listed { profiles, active, keyring } => {
                self.profiles.list = profiles;
                self.profiles.active = active;
                self.profiles.keyring = keyring;
            }
            ProfileEvent::Saved { id, placement } => {
                let name = self
                    .profiles
                    .list
                    .iter()
                    .find(|profile| profile.id == id)
                    .map_or_else(|| id.to_string(), |profile| profile.name.clone());
                if let Some(dialog) = &mut self.profiles.dialog {
                    dialog.message = Some(format!("Saved '{name}'. {}", placement.describe()));
                    dialog.draft.id = Some(id);
                }
                self.notify(NoticeLevel::Success, format!("Profile '{name}' saved"));
            }
            ProfileEvent::Failed(error) => {
                if let Some(dialog) = &mut self.profiles.dialog {
                    dialog.message = Some(error.message.clone());
                }
                self.notify(NoticeLevel::Error, error.message);
            }
            ProfileEvent::ForEdit(draft) => {
                if let Some(dialog) = &mut self.profiles.dialog {
                    dialog.draft = draft;
                    dialog.message = None;
                }
            }
            ProfileEvent::CaFilePicked(result) => {
                let Some(dialog) = &mut self.profiles.dialog else {
                    return;
                };
                dialog.picking_ca = false;
                match result {
                    Ok(Some(path)) => dialog.draft.ca_file = path.display().to_string(),
                    Ok(None) => {}
                    Err(error) => dialog.message = Some(format!("The file dialog failed: {error}")),
                }
            }
        }
    }

    pub(super) fn apply_connection_event(&mut self, event: ConnectionEvent, out: &mut Vec<Command>) {
        match event {
            ConnectionEvent::Connecting(profile) => {
                let switching = match &self.connection {
                    ConnectionStatus::Connected { profile: current, .. }
                    | ConnectionStatus::Failed { profile: current, .. }
                    | ConnectionStatus::Connecting(current) => *current != profile,
                    ConnectionStatus::Starting => false,
                };
                if switching {
                    self.forget_hub_content();
                    // Enrollments belong to the profile's DPS; a draft must never be saved to another one.
                    if let Some(editor) = &self.enrollments.editor
                        && editor.is_dirty()
                    {
                        let id = editor.base.id().to_owned();
                        self.notify(
                            NoticeLevel::Info,
                            format!("Closed the enrollment editor of {id} (another profile). Its unsaved changes were not sent."),
                        );
                    }
                    self.enrollments = EnrollmentsState::default();
                    self.pending_twin = None;
                }
                self.profiles.active = profile.clone();
                self.connection = ConnectionStatus::Connecting(profile);
            }
            ConnectionEvent::Connected(connected) => self.connected(*connected, out),
            ConnectionEvent::Failed { profile, error } => {
                self.notify(NoticeLevel::Error, format!("Cannot use profile '{profile}': {error}"));
                self.connection = ConnectionStatus::Failed { profile, error };
            }
        }
    }

    fn connected(&mut self, connected: Connected, out: &mut Vec<Command>) {
        let Connected { profile, host, in_flight, notice, hubs, hub, dps, device_side } = connected;
        if !self.hub.is_empty() && self.hub != hub {
            self.forget_hub_content();
        }
        self.connection = ConnectionStatus::Connected { profile, host, in_flight };
        self.hubs = hubs;
        self.hub = hub;
        self.dps_configured = dps;
        self.device_side = device_side;
        if let Some(notice) = notice {
            self.notify(NoticeLevel::Info, notice);
        }
        self.refresh(out);
        if let Some((hub, device_id)) = self.pending_twin.take() {
            if hub == self.hub {
                self.open_twin(device_id, out);
            } else {
                self.pending_twin = Some((hub, device_id));
            }
        }
        if self.page == Page::Enrollments && self.enrollments.lists.is_idle() {
            self.load_enrollments(out);
        }
    }
}
