//! The eframe app: drains backend events into the reducer, draws the views, forwards commands
//! over the bounded channel, shows toasts, and persists UI preferences.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::error::TrySendError;

use super::backend::BackendHandle;
use super::model::devices::Sort;
use super::model::{AppState, Command, NoticeLevel, Now, Page};
use super::views::{self, ViewState};

/// UI preferences kept between runs (eframe persistence).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PersistedUi {
    /// 0 = system, 1 = light, 2 = dark.
    pub theme: u8,
    /// The page shown when the window closed.
    pub page: Page,
    /// Query bar text.
    pub query: String,
    /// Extra device-table columns (tag and reported paths).
    pub columns: Vec<String>,
    /// The device table's sort.
    pub sort: Option<Sort>,
}

/// Key under which [`PersistedUi`] is stored.
pub const STORAGE_KEY: &str = "hubdeck-ui";

/// The console: model, widget state, the backend's channels and the toasts.
pub struct ConsoleApp {
    /// Everything the console shows, changed only by the reducer and the views.
    pub state: AppState,
    /// Widget state the model does not need (theme, focus, scroll targets).
    pub view: ViewState,
    backend: BackendHandle,
    outbox: Vec<Command>,
    toasts: egui_notify::Toasts,
    /// Styles and theme are applied to the context on the first frame.
    configured: bool,
}

impl ConsoleApp {
    /// A console talking to `backend`, restoring `persisted` preferences.
    pub fn new(backend: BackendHandle, persisted: Option<PersistedUi>) -> Self {
        let mut state = AppState::default();
        let mut view = ViewState::default();
        // First run: columns an operator of the demo fleet (and most fleets) wants to see.
        state.devices.columns =
            ["tags.deviceType", "tags.building", "tags.floor", "properties.reported.firmware"].map(str::to_owned).to_vec();
        if let Some(persisted) = persisted {
            view.theme = match persisted.theme {
                1 => egui::ThemePreference::Light,
                2 => egui::ThemePreference::Dark,
                _ => egui::ThemePreference::System,
            };
            state.page = persisted.page;
            state.devices.query_input = persisted.query;
            state.devices.columns = persisted.columns;
            state.devices.sort = persisted.sort;
        }
        Self {
            state,
            view,
            backend,
            outbox: Vec::new(),
            toasts: egui_notify::Toasts::new().with_anchor(egui_notify::Anchor::BottomRight).with_margin(egui::vec2(12.0, 36.0)),
            configured: false,
        }
    }

    /// Applies every event that arrived (never blocks), at the time read once for the batch.
    pub fn pump_events(&mut self) {
        self.pump_events_at(Now::read());
    }

    fn pump_events_at(&mut self, now: Now) {
        while let Ok(event) = self.backend.events.try_recv() {
            self.state.apply(event, now, &mut self.outbox);
        }
    }

    /// One frame: events, views, commands, toasts.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        if !self.configured {
            views::theme::apply(ui.ctx());
            ui.ctx().set_theme(self.view.theme);
            self.configured = true;
        }
        // One reading of the clock per frame, for the reducer and the views alike.
        let now = Now::read();
        self.pump_events_at(now);
        views::app_ui(ui, &mut self.state, &mut self.view, now, &mut self.outbox);
        self.flush_commands();
        if let Some(text) = self.state.clipboard.take() {
            ui.ctx().copy_text(text.expose().to_owned());
        }
        for notice in self.state.notices.drain(..) {
            let toast = match notice.level {
                NoticeLevel::Info => self.toasts.info(notice.text),
                NoticeLevel::Success => self.toasts.success(notice.text),
                NoticeLevel::Error => self.toasts.error(notice.text),
            };
            toast.duration(Some(Duration::from_secs(if notice.level == NoticeLevel::Error { 10 } else { 4 }))).closable(true);
        }
        self.toasts.show(ui.ctx());
    }

    fn flush_commands(&mut self) {
        for command in self.outbox.drain(..) {
            match self.backend.commands.try_send(command) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.state.notices.push(super::model::Notice {
                        level: NoticeLevel::Error,
                        text: "hubdeck is busy; that action was not started. Try again in a moment.".to_owned(),
                    });
                }
                Err(TrySendError::Closed(_)) => {
                    self.state
                        .notices
                        .push(super::model::Notice { level: NoticeLevel::Error, text: "the background worker stopped".to_owned() });
                }
            }
        }
    }

    /// What is persisted.
    pub fn persisted(&self) -> PersistedUi {
        PersistedUi {
            theme: match self.view.theme {
                egui::ThemePreference::Light => 1,
                egui::ThemePreference::Dark => 2,
                egui::ThemePreference::System => 0,
            },
            page: self.state.page,
            query: self.state.devices.query_input.clone(),
            columns: self.state.devices.columns.clone(),
            sort: self.state.devices.sort.clone(),
        }
    }
}

impl eframe::App for ConsoleApp {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.pump_events();
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.persisted());
    }
}
