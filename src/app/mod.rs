//! The desktop console (egui/eframe): model (state, commands, events, reducer), views, and the
//! backend worker that runs commands through `azure` off the UI thread.

pub mod backend;
mod clock;
pub mod console;
pub mod model;
pub mod views;

use std::sync::Arc;

pub use backend::{BackendOptions, CommandLineProfile, SimulatorSettings};
pub use console::ConsoleApp;

/// Opens the window and runs until it closes. Must be called on the main thread with a tokio
/// runtime entered (the backend runs on it).
pub fn run(runtime: &tokio::runtime::Handle, options: BackendOptions) -> Result<(), eframe::Error> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("hubdeck")
            .with_inner_size([1360.0, 840.0])
            .with_min_inner_size([900.0, 560.0]),
        persist_window: true,
        ..eframe::NativeOptions::default()
    };
    let runtime = runtime.clone();
    eframe::run_native(
        "hubdeck",
        native,
        Box::new(move |creation| {
            let ctx = creation.egui_ctx.clone();
            let waker: backend::Waker = Arc::new(move || ctx.request_repaint());
            let handle = backend::spawn(&runtime, options, waker);
            let persisted = creation.storage.and_then(|storage| eframe::get_value(storage, console::STORAGE_KEY));
            Ok(Box::new(ConsoleApp::new(handle, persisted)))
        }),
    )
}
