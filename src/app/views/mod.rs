//! The views: functions that draw state and record commands. Each takes `&mut egui::Ui` and is
//! named `*_ui`; none does I/O.

pub mod activity;
pub mod connect_device;
pub mod details;
pub mod device_table;
pub mod devices;
pub mod dialogs;
pub mod enrollments;
pub mod jobs;
pub mod method_panel;
pub mod profiles_dialog;
pub mod shell;
pub mod theme;
pub mod twin;

use egui::Ui;

use crate::app::model::{AppState, Command, Now, Page};

/// State that belongs to the widgets rather than the model.
pub struct ViewState {
    /// Dark, light or follow the system.
    pub theme: egui::ThemePreference,
    /// Ctrl+F asked for the query bar.
    pub focus_query: bool,
    /// Keyboard moved the cursor: scroll the table to this view row.
    pub scroll_to_row: Option<usize>,
    /// The view rows the device table drew last frame (the ones on screen).
    pub visible_rows: std::ops::Range<usize>,
}

impl Default for ViewState {
    fn default() -> Self {
        Self { theme: egui::ThemePreference::System, focus_query: false, scroll_to_row: None, visible_rows: 0..0 }
    }
}

/// The whole window, drawn at `now` (read once per frame by the app glue).
pub fn app_ui(ui: &mut Ui, state: &mut AppState, view: &mut ViewState, now: Now, out: &mut Vec<Command>) {
    shell::shortcuts(ui, state, view, out);
    egui::Panel::top("top-bar").show(ui, |ui| {
        ui.add_space(2.0);
        shell::top_bar_ui(ui, state, view, out);
        ui.add_space(2.0);
    });
    egui::Panel::bottom("status-bar").show(ui, |ui| shell::status_bar_ui(ui, state, now));
    egui::Panel::left("navigation").exact_size(130.0).resizable(false).show(ui, |ui| shell::navigation_ui(ui, state));
    if state.page == Page::Devices && state.devices.details.is_some() {
        egui::Panel::right("details")
            .default_size(380.0)
            .min_size(260.0)
            .resizable(true)
            .show(ui, |ui| details::details_ui(ui, state, now, out));
    }
    egui::CentralPanel::default().show(ui, |ui| match state.page {
        Page::Devices => devices::devices_page_ui(ui, state, view, now, out),
        Page::Jobs => jobs::jobs_page_ui(ui, state, now, out),
        Page::Enrollments => enrollments::enrollments_page_ui(ui, state, now, out),
        Page::Activity => activity::activity_page_ui(ui, state),
        Page::Twin => twin::twin_page_ui(ui, state, now, out),
    });
    method_panel::method_panel_ui(ui, state, now, out);
    connect_device::connect_device_ui(ui, state);
    dialogs::add_device_ui(ui, state, out);
    dialogs::confirm_delete_ui(ui, state, out);
    profiles_dialog::profiles_dialog_ui(ui, state, out);
}
