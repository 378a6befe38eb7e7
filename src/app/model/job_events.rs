//! The reducer's jobs part: the job list, target previews, created and cancelled jobs, a
//! watched job's progress, direct-method answers and the CSV export; and the actions that start
//! these loads (open or close a job, reload the list, invoke a method).

use std::sync::Arc;

use super::clock::Now;
use super::command::{Command, JobCommand, RequestId};
use super::error::AppError;
use super::event::JobEvent;
use super::jobs::{JobDetail, ProgressSample};
use super::method_call::MethodInvocation;
use super::state::{AppState, NoticeLevel, Page};
use crate::azure::wire::{DeviceJob, JobResponse};

impl AppState {
    /// Reloads the job list; an answer to an earlier load is dropped when it comes.
    pub fn load_jobs(&mut self, out: &mut Vec<Command>) {
        let request = RequestId::fresh();
        self.jobs.list.start(request);
        out.push(JobCommand::LoadList { request }.into());
    }

    /// Opens a job's detail and starts streaming its progress.
    pub fn open_job(&mut self, job_id: String, out: &mut Vec<Command>) {
        self.page = Page::Jobs;
        if self.jobs.detail.as_ref().is_some_and(|detail| detail.job_id == job_id) {
            return;
        }
        let request = RequestId::fresh();
        self.jobs.detail = Some(JobDetail { job_id: job_id.clone(), watch: Some(request), ..JobDetail::default() });
        out.push(JobCommand::Watch { request, job_id }.into());
    }

    /// Closes the job detail; its stream stops.
    pub fn close_job(&mut self, out: &mut Vec<Command>) {
        if self.jobs.detail.take().is_some() {
            out.push(JobCommand::StopWatching.into());
        }
    }

    /// Sends the direct method in the panel's form; the history records it as sent at `now`.
    pub fn invoke_method(&mut self, now: Now, out: &mut Vec<Command>) {
        let Some(form) = &self.method.form else {
            return;
        };
        let Ok(method) = form.request() else {
            return;
        };
        let request = RequestId::fresh();
        self.method.history.push(MethodInvocation {
            request,
            at: now.wall,
            device_id: Arc::clone(&form.device_id),
            method_name: method.method_name.clone(),
            result: None,
        });
        out.push(JobCommand::InvokeMethod { request, device_id: Arc::clone(&form.device_id), method }.into());
    }

    /// Creates `jobs` (the new-job form's, or a retry of failed devices); the first created opens.
    pub fn create_jobs(&mut self, jobs: Vec<crate::azure::wire::JobRequest>, out: &mut Vec<Command>) {
        let request = self.jobs.actions.start();
        out.push(JobCommand::Create { request, jobs }.into());
    }

    /// Cancels a job.
    pub fn cancel_job(&mut self, job_id: String, out: &mut Vec<Command>) {
        let request = self.jobs.actions.start();
        out.push(JobCommand::Cancel { request, job_id }.into());
    }

    /// Saves the watched job's per-device results through the save dialog.
    pub fn export_job_csv(&mut self, out: &mut Vec<Command>) {
        let Some(detail) = &self.jobs.detail else {
            return;
        };
        let request = self.jobs.actions.start();
        out.push(JobCommand::ExportCsv { request, file_name: format!("{}.csv", detail.job_id), text: detail.to_csv() }.into());
    }

    pub(super) fn apply_job_event(&mut self, event: JobEvent, now: Now, out: &mut Vec<Command>) {
        if let JobEvent::Created { request, .. } | JobEvent::Cancelled { request, .. } | JobEvent::CsvExported { request, .. } = &event
            && !self.jobs.actions.finish(*request)
        {
            return; // an action of another hub: the Jobs page was reset since
        }
        match event {
            JobEvent::ListLoaded { request, result } => {
                self.jobs.list.finish(request, result);
            }
            JobEvent::TargetPreview { request, result } => {
                if let Some(draft) = &mut self.jobs.draft {
                    draft.preview.finish(request, result);
                }
            }
            JobEvent::Created { request: _, results } => self.jobs_created(results, out),
            JobEvent::Progress { request, job, rows } => self.job_progress(request, *job, rows, now, out),
            JobEvent::WatchFailed { request, error } => {
                if let Some(detail) = self.jobs.detail.as_mut().filter(|detail| detail.watch == Some(request)) {
                    detail.error = Some(error.message);
                }
            }
            JobEvent::Cancelled { request: _, result } => match result {
                Ok(job) => {
                    self.notify(NoticeLevel::Success, format!("Job {} cancelled", job.job_id));
                    self.load_jobs(out);
                }
                Err(error) => self.notify(NoticeLevel::Error, format!("Could not cancel the job: {error}")),
            },
            JobEvent::MethodDone { request, device_id: _, method_name: _, result } => {
                if let Some(call) = self.method.history.iter_mut().find(|call| call.request == request) {
                    call.result = Some(result);
                }
            }
            JobEvent::CsvExported { request: _, result } => {
                let message = match result {
                    Ok(Some(path)) => format!("Saved {}", path.display()),
                    Ok(None) => "Export cancelled".to_owned(),
                    Err(error) => format!("Export failed: {error}"),
                };
                if let Some(detail) = &mut self.jobs.detail {
                    detail.export_message = Some(message);
                }
            }
        }
    }

    fn jobs_created(&mut self, results: Vec<Result<JobResponse, AppError>>, out: &mut Vec<Command>) {
        let created: Vec<String> = results.iter().filter_map(|result| result.as_ref().ok()).map(|job| job.job_id.clone()).collect();
        let failures: Vec<String> = results.into_iter().filter_map(Result::err).map(|error| error.message).collect();
        if let Some(draft) = &mut self.jobs.draft {
            draft.submitting = false;
        }
        if failures.is_empty() {
            self.jobs.draft = None;
            let what = if created.len() == 1 { format!("Job {} created", created[0]) } else { format!("{} jobs created", created.len()) };
            self.notify(NoticeLevel::Success, what);
        } else {
            let message = if created.is_empty() {
                failures.join("; ")
            } else {
                format!("created {} but not the rest: {}", created.join(", "), failures.join("; "))
            };
            if let Some(draft) = &mut self.jobs.draft {
                draft.error = Some(message.clone());
            }
        }
        if let Some(first) = created.into_iter().next() {
            self.open_job(first, out);
        }
        self.load_jobs(out);
    }

    fn job_progress(&mut self, request: RequestId, job: JobResponse, rows: Option<Vec<DeviceJob>>, now: Now, out: &mut Vec<Command>) {
        let Some(detail) = self.jobs.detail.as_mut().filter(|detail| detail.watch == Some(request) && detail.job_id == job.job_id) else {
            return;
        };
        let stats = job.device_job_statistics.unwrap_or_default();
        let now = now.unix_seconds();
        if detail.samples.is_empty() {
            detail.samples_origin = now;
        }
        let seconds = now - detail.samples_origin;
        detail.samples.push(ProgressSample {
            seconds,
            succeeded: stats.succeeded_count,
            failed: stats.failed_count,
            running: stats.running_count,
        });
        let finished_now = job.status.is_final() && detail.job.as_ref().is_some_and(|previous| !previous.status.is_final());
        if let Some(rows) = rows {
            detail.rows = rows;
        }
        detail.error = None;
        // Keep the list's copy of this job current too.
        if let Some(listed) = self.jobs.list.value_mut().and_then(|list| list.iter_mut().find(|listed| listed.job_id == job.job_id)) {
            *listed = job.clone();
        }
        detail.job = Some(job);
        if finished_now {
            self.load_jobs(out);
        }
    }
}
