//! The reducer's device part: list pages and totals, load ends and failures, the details
//! panel, device actions, the connection string for the clipboard, the live refresh of the rows
//! in view and the key for "Connect a device…".

use std::sync::Arc;

use super::command::Command;
use super::event::DeviceEvent;
use super::state::{AppState, NoticeLevel};

impl AppState {
    pub(super) fn apply_device_event(&mut self, event: DeviceEvent, out: &mut Vec<Command>) {
        if let DeviceEvent::ActionDone { request, .. } | DeviceEvent::ConnectionString { request, .. } = &event
            && !self.devices.actions.finish(*request)
        {
            return; // an action of another hub: the device page was reset since
        }
        match event {
            DeviceEvent::Page { request, rows } => self.devices.add_rows(request, rows),
            DeviceEvent::RawPage { request, rows } => self.devices.add_raw(request, rows),
            DeviceEvent::Total { request, total } => self.devices.set_total(request, total),
            DeviceEvent::LoadFinished { request, cancelled } => self.devices.finish_load(request, cancelled),
            DeviceEvent::LoadFailed { request, error } => self.devices.fail_load(request, error),
            DeviceEvent::Details { request, device_id, result } => {
                if let Some(details) = &mut self.devices.details
                    && details.device_id == device_id
                {
                    details.loaded.finish(request, result);
                }
            }
            DeviceEvent::ActionDone { request: _, summary, failures } => {
                if failures.is_empty() {
                    self.notify(NoticeLevel::Success, summary);
                } else {
                    let shown: Vec<&str> = failures.iter().take(3).map(String::as_str).collect();
                    let more = failures.len().saturating_sub(shown.len());
                    let tail = if more > 0 { format!(" (and {more} more)") } else { String::new() };
                    self.notify(NoticeLevel::Error, format!("{summary}: {}{tail}", shown.join("; ")));
                }
                if let Some(details) = &self.devices.details {
                    let device_id = Arc::clone(&details.device_id);
                    self.devices.open_details(device_id, out);
                }
                self.refresh(out);
            }
            DeviceEvent::ConnectionString { request: _, device_id, text } => {
                self.clipboard = Some(text);
                self.notify(NoticeLevel::Info, format!("Connection string of {device_id} copied to the clipboard"));
            }
            DeviceEvent::Live { request, result } => self.devices.apply_live(request, result),
            DeviceEvent::Credential { request, device_id, result } => {
                if let Some(dialog) = &mut self.connect_device {
                    dialog.finish(request, &device_id, result);
                }
            }
        }
    }
}
