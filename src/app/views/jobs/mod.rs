//! The Jobs page: toolbar (new job, refresh, filters), the job list, and the detail of the job
//! being watched.

mod detail;
mod new_job;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};

use super::theme;
use crate::app::model::job_draft::NewJobDraft;
use crate::app::model::{AppState, Command, ConnectionStatus, Now};
use crate::azure::wire::{JobResponse, JobStatus, JobType, Timestamp};

/// The Jobs page: the list with its filters, or the watched job's detail, and the new-job form.
pub fn jobs_page_ui(ui: &mut Ui, state: &mut AppState, now: Now, out: &mut Vec<Command>) {
    let connected = matches!(state.connection, ConnectionStatus::Connected { .. });
    if connected && state.jobs.list.is_idle() {
        state.load_jobs(out);
    }
    if state.jobs.detail.is_some() {
        detail::job_detail_ui(ui, state, now, out);
    } else {
        toolbar_ui(ui, state, now, out);
        ui.separator();
        list_ui(ui, state, out);
    }
    new_job::new_job_ui(ui, state, now, out);
}

/// A job type as operators say it.
pub fn type_label(job_type: JobType) -> &'static str {
    match job_type {
        JobType::ScheduleDeviceMethod => "Direct method",
        JobType::ScheduleUpdateTwin => "Twin update",
    }
}

/// Colour of a job status.
pub fn status_color(status: JobStatus, visuals: &egui::Visuals) -> egui::Color32 {
    match status {
        JobStatus::Completed => theme::good(visuals),
        JobStatus::Failed => theme::bad(visuals),
        JobStatus::Running | JobStatus::Queued | JobStatus::Enqueued | JobStatus::Scheduled => theme::warn(visuals),
        JobStatus::Cancelled | JobStatus::Unknown => theme::muted(visuals),
    }
}

/// `2026-11-28 17:30:00 (local)` from a wire timestamp.
pub fn local_time(text: Option<&str>) -> String {
    text.and_then(Timestamp::parse)
        .filter(|time| !time.is_never())
        .map_or_else(String::new, |time| time.0.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string())
}

fn toolbar_ui(ui: &mut Ui, state: &mut AppState, now: Now, out: &mut Vec<Command>) {
    ui.horizontal(|ui| {
        ui.heading("Jobs");
        ui.separator();
        if ui.button("New job…").on_hover_text("Schedule a direct method or a twin update on many devices").clicked() {
            let selected = state.devices.selection.ids.iter().cloned().collect::<Vec<_>>();
            state.jobs.draft = Some(NewJobDraft::new(selected, now.utc()));
        }
        if ui.button("⟳ Refresh").clicked() {
            state.load_jobs(out);
        }
        ui.separator();
        let type_text = state.jobs.filter_type.map_or("All types", type_label);
        egui::ComboBox::from_id_salt("job-type-filter").selected_text(type_text).show_ui(ui, |ui| {
            ui.selectable_value(&mut state.jobs.filter_type, None, "All types");
            for kind in [JobType::ScheduleDeviceMethod, JobType::ScheduleUpdateTwin] {
                ui.selectable_value(&mut state.jobs.filter_type, Some(kind), type_label(kind));
            }
        });
        let status_text = state.jobs.filter_status.map_or("All statuses", JobStatus::as_str);
        egui::ComboBox::from_id_salt("job-status-filter").selected_text(status_text).show_ui(ui, |ui| {
            ui.selectable_value(&mut state.jobs.filter_status, None, "All statuses");
            for status in
                [JobStatus::Queued, JobStatus::Scheduled, JobStatus::Running, JobStatus::Completed, JobStatus::Failed, JobStatus::Cancelled]
            {
                ui.selectable_value(&mut state.jobs.filter_status, Some(status), status.as_str());
            }
        });
        if state.jobs.list.is_loading() {
            ui.label(RichText::new("loading…").color(theme::muted(ui.visuals())));
        }
    });
    if let Some(error) = state.jobs.list.error() {
        ui.label(RichText::new(format!("The jobs could not be listed: {error}")).color(theme::bad(ui.visuals())));
    }
}

fn list_ui(ui: &mut Ui, state: &mut AppState, out: &mut Vec<Command>) {
    let jobs: Vec<JobResponse> = state.jobs.visible().into_iter().cloned().collect();
    if jobs.is_empty() {
        ui.add_space(16.0);
        let text = if state.jobs.list.value().is_none_or(Vec::is_empty) {
            "No jobs yet. \"New job…\" schedules one."
        } else {
            "No job matches the filters."
        };
        ui.label(RichText::new(text).color(theme::muted(ui.visuals())));
        return;
    }
    let mut open = None;
    let visuals = ui.visuals().clone();
    TableBuilder::new(ui)
        .striped(true)
        .sense(egui::Sense::click())
        .column(Column::initial(240.0).resizable(true).clip(true))
        .column(Column::initial(110.0).resizable(true))
        .column(Column::initial(90.0).resizable(true))
        .column(Column::initial(150.0).resizable(true))
        .column(Column::initial(150.0).resizable(true))
        .column(Column::initial(150.0).resizable(true))
        .column(Column::initial(70.0))
        .column(Column::initial(80.0))
        .column(Column::initial(70.0))
        .column(Column::remainder())
        .header(22.0, |mut header| {
            for title in ["Job id", "Type", "Status", "Created", "Start", "End", "Devices", "Succeeded", "Failed", "Running / pending"] {
                header.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(theme::ROW_HEIGHT, jobs.len(), |mut row| {
                let job = &jobs[row.index()];
                let counts = job.device_job_statistics.unwrap_or_default();
                row.col(|ui| {
                    ui.add(egui::Label::new(&job.job_id).selectable(false).truncate());
                });
                row.col(|ui| {
                    ui.label(type_label(job.job_type));
                });
                row.col(|ui| {
                    ui.label(RichText::new(job.status.as_str()).color(status_color(job.status, &visuals)));
                });
                for time in [&job.created_time, &job.start_time, &job.end_time] {
                    row.col(|ui| {
                        ui.label(local_time(time.as_deref()));
                    });
                }
                row.col(|ui| {
                    ui.label(counts.device_count.to_string());
                });
                row.col(|ui| {
                    ui.label(RichText::new(counts.succeeded_count.to_string()).color(theme::good(&visuals)));
                });
                row.col(|ui| {
                    let color = if counts.failed_count > 0 { theme::bad(&visuals) } else { visuals.text_color() };
                    ui.label(RichText::new(counts.failed_count.to_string()).color(color));
                });
                row.col(|ui| {
                    ui.label(format!("{} / {}", counts.running_count, counts.pending_count));
                });
                if row.response().clicked() {
                    open = Some(job.job_id.clone());
                }
            });
        });
    if let Some(job_id) = open {
        state.open_job(job_id, out);
    }
}
