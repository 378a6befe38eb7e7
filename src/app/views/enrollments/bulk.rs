//! The bulk policy dialog: one re-provisioning policy for every picked enrollment, sent as bulk
//! `updateIfMatchETag` (an enrollment changed since it was listed is refused, not overwritten),
//! then the result of each item.

use egui::{RichText, Ui};

use crate::app::model::reprovision_choice::PolicyChoice;
use crate::app::model::{AppState, Command, DpsCommand};
use crate::app::views::theme;

/// The dialog, while open.
pub fn bulk_policy_ui(ui: &mut Ui, state: &mut AppState, out: &mut Vec<Command>) {
    let Some(bulk) = &state.enrollments.bulk else {
        return;
    };
    let (count, running, done) = (bulk.ids.len(), bulk.running, bulk.results.is_some());
    let mut apply = false;
    let mut close = false;
    let modal = theme::modal("bulk-policy").show(ui.ctx(), |ui| {
        ui.set_width(620.0);
        let visuals = ui.visuals().clone();
        let Some(bulk) = &mut state.enrollments.bulk else {
            return;
        };
        ui.heading(format!("Set the re-provisioning policy of {count} enrollments"));
        ui.label(RichText::new(bulk.ids.join(", ")).color(theme::muted(&visuals)));
        ui.add_space(6.0);
        for choice in PolicyChoice::CHOICES {
            ui.add_enabled_ui(!running && !done, |ui| {
                if ui.radio(bulk.choice == choice, RichText::new(choice.title()).strong()).clicked() {
                    bulk.choice = choice;
                }
            });
            ui.indent(choice.title(), |ui| {
                ui.add(egui::Label::new(RichText::new(choice.explanation()).small().color(theme::muted(&visuals))).wrap());
            });
        }
        if let Some(results) = &bulk.results {
            ui.separator();
            egui::Grid::new("bulk-results").striped(true).num_columns(2).show(ui, |ui| {
                for (id, result) in results {
                    ui.label(id);
                    match result {
                        Ok(()) => ui.label(RichText::new("saved").color(theme::good(&visuals))),
                        Err(message) => ui.label(RichText::new(format!("not saved: {message}")).color(theme::bad(&visuals))),
                    };
                    ui.end_row();
                }
            });
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if !done && ui.add_enabled(!running, egui::Button::new(if running { "Saving..." } else { "Apply" })).clicked() {
                apply = true;
            }
            if ui.add_enabled(!running, egui::Button::new(if done { "Close" } else { "Cancel" })).clicked() {
                close = true;
            }
        });
    });
    if theme::escape_pressed(&modal) && !running {
        close = true;
    }
    if apply && let Some((_, items)) = state.enrollments.bulk_items() {
        if let Some(bulk) = &mut state.enrollments.bulk {
            bulk.running = true;
        }
        let request = state.enrollments.actions.start();
        out.push(DpsCommand::BulkSetPolicy { request, items }.into());
    }
    if close {
        if done {
            state.enrollments.picked.clear();
        }
        state.enrollments.bulk = None;
    }
}
