//! Running commands: one exhaustive handler per feature. Quick ones answer at once; long ones
//! become tasks (`tasks.rs`, `twin_tasks.rs`, `job_tasks.rs`, `dps_tasks.rs`) that report
//! through the event sink. Without a hub (or DPS) the command is answered with that error.

use std::sync::Arc;

use super::Worker;
use super::file_dialogs::{CSV, PEM};
use super::sink::EventSink;
use super::{dps_tasks, job_tasks, tasks, twin_tasks};
use crate::app::model::{
    AppError, Command, DeviceCommand, DeviceEvent, DpsCommand, DpsEvent, EnrollmentSaveOutcome, JobCommand, JobEvent, ProfileCommand,
    ProfileEvent, ProfileId, RequestId, TwinCommand, TwinEvent, TwinSaveOutcome,
};
use crate::azure::{DpsClient, HubClient};

impl Worker {
    pub(super) async fn handle(&mut self, command: Command) {
        self.loads.retain(|_, load| !load.is_finished());
        match command {
            Command::Profiles(command) => self.handle_profiles(command).await,
            Command::Devices(command) => self.handle_devices(command).await,
            Command::Twin(command) => self.handle_twin(command).await,
            Command::Jobs(command) => self.handle_jobs(command).await,
            Command::Dps(command) => self.handle_dps(command).await,
        }
    }

    async fn handle_profiles(&mut self, command: ProfileCommand) {
        match command {
            ProfileCommand::Activate(id) => self.activate(id).await,
            ProfileCommand::Save(draft) => {
                match self.profiles.try_run(move |store| store.save(&draft)).await {
                    Ok((id, placement)) => {
                        self.send_profiles().await;
                        self.sink.send(ProfileEvent::Saved { id: id.clone(), placement }.into()).await;
                        if self.active == id {
                            self.activate(id).await; // new secrets: reconnect
                        }
                    }
                    Err(error) => self.sink.send(ProfileEvent::Failed(error).into()).await,
                }
            }
            ProfileCommand::Delete(id) => {
                let deleted = {
                    let id = id.clone();
                    self.profiles.try_run(move |store| store.delete(&id)).await
                };
                match deleted {
                    Ok(()) => {
                        self.send_profiles().await;
                        if self.active == id {
                            self.activate(ProfileId::simulator()).await;
                        }
                    }
                    Err(error) => self.sink.send(ProfileEvent::Failed(error).into()).await,
                }
            }
            ProfileCommand::Edit(id) => {
                let event = match self.profiles.try_run(move |store| store.draft_for(&id)).await {
                    Ok(draft) => ProfileEvent::ForEdit(draft),
                    Err(error) => ProfileEvent::Failed(error),
                };
                self.sink.send(event.into()).await;
            }
            ProfileCommand::SwitchHub(name) => {
                let profile = self.active.clone();
                self.use_hub(&profile, &name, None).await;
            }
            ProfileCommand::PickCaFile => {
                let dialogs = Arc::clone(&self.options.file_dialogs);
                let sink = self.sink.clone();
                tokio::spawn(async move {
                    let picked = dialogs.pick_file("Extra CA certificate (PEM)", PEM).await;
                    sink.send(ProfileEvent::CaFilePicked(Ok(picked)).into()).await;
                });
            }
        }
    }

    async fn handle_devices(&mut self, command: DeviceCommand) {
        match command {
            DeviceCommand::Load { request, query, count_query, returns_twins } => {
                if let Some(client) = self.client.clone() {
                    let load = tokio::spawn(tasks::load_devices(client, self.sink.clone(), request, query, count_query, returns_twins));
                    self.loads.insert(request, load);
                } else {
                    self.sink.send(DeviceEvent::LoadFailed { request, error: AppError::not_connected() }.into()).await;
                }
            }
            DeviceCommand::CancelLoad(request) => {
                if let Some(load) = self.loads.remove(&request) {
                    load.abort();
                    self.sink.send(DeviceEvent::LoadFinished { request, cancelled: true }.into()).await;
                }
            }
            DeviceCommand::Create { request, device_id, keys } => {
                self.spawn_action(request, move |client, sink| tasks::create_device(client, sink, request, device_id, keys)).await;
            }
            DeviceCommand::SetEnabled { request, device_ids, enabled } => {
                self.spawn_action(request, move |client, sink| tasks::set_enabled(client, sink, request, device_ids, enabled)).await;
            }
            DeviceCommand::Delete { request, targets } => {
                self.spawn_action(request, move |client, sink| tasks::delete_devices(client, sink, request, targets)).await;
            }
            DeviceCommand::LoadDetails { request, device_id } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(tasks::load_details(client, self.sink.clone(), request, device_id));
                } else {
                    let event = DeviceEvent::Details { request, device_id, result: Err(AppError::not_connected()) };
                    self.sink.send(event.into()).await;
                }
            }
            DeviceCommand::CopyConnectionString { request, device_id } => {
                self.spawn_action(request, move |client, sink| tasks::connection_string(client, sink, request, device_id)).await;
            }
            DeviceCommand::PollLive { request, probes, connections } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(tasks::poll_live(client, self.sink.clone(), request, probes, connections));
                } else {
                    self.sink.send(DeviceEvent::Live { request, result: Err(AppError::not_connected()) }.into()).await;
                }
            }
            DeviceCommand::LoadCredential { request, device_id } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(tasks::load_credential(client, self.sink.clone(), request, device_id));
                } else {
                    let event = DeviceEvent::Credential { request, device_id, result: Err(AppError::not_connected()) };
                    self.sink.send(event.into()).await;
                }
            }
        }
    }

    async fn handle_twin(&mut self, command: TwinCommand) {
        match command {
            TwinCommand::Load { request, device_id, refresh } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(twin_tasks::load_twin(client, self.sink.clone(), request, device_id, refresh));
                } else {
                    let event = TwinEvent::Loaded { request, device_id, refresh, result: Err(AppError::not_connected()) };
                    self.sink.send(event.into()).await;
                }
            }
            TwinCommand::Save { request, device_id, etag, patch } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(twin_tasks::save_twin(client, self.sink.clone(), request, device_id, etag, patch));
                } else {
                    let outcome = TwinSaveOutcome::Failed(AppError::local("not connected to a hub; the draft is kept"));
                    self.sink.send(TwinEvent::Saved { request, device_id, outcome }.into()).await;
                }
            }
        }
    }

    async fn handle_jobs(&mut self, command: JobCommand) {
        match command {
            JobCommand::LoadList { request } => match self.client.clone() {
                Some(client) => {
                    tokio::spawn(job_tasks::load_jobs(client, self.sink.clone(), request));
                }
                None => self.sink.send(JobEvent::ListLoaded { request, result: Err(AppError::not_connected()) }.into()).await,
            },
            JobCommand::PreviewTargets { request, condition } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(job_tasks::preview(client, self.sink.clone(), request, condition));
                } else {
                    self.sink.send(JobEvent::TargetPreview { request, result: Err(AppError::not_connected()) }.into()).await;
                }
            }
            JobCommand::Create { request, jobs } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(job_tasks::create_jobs(client, self.sink.clone(), request, jobs));
                } else {
                    self.sink.send(JobEvent::Created { request, results: vec![Err(AppError::not_connected())] }.into()).await;
                }
            }
            JobCommand::Watch { request, job_id } => {
                if let Some(previous) = self.job_watch.take() {
                    previous.abort();
                }
                if let Some(client) = self.client.clone() {
                    self.job_watch = Some(tokio::spawn(job_tasks::watch_job(client, self.sink.clone(), request, job_id)));
                }
            }
            JobCommand::StopWatching => {
                if let Some(previous) = self.job_watch.take() {
                    previous.abort();
                }
            }
            JobCommand::Cancel { request, job_id } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(job_tasks::cancel_job(client, self.sink.clone(), request, job_id));
                } else {
                    self.sink.send(JobEvent::Cancelled { request, result: Err(AppError::not_connected()) }.into()).await;
                }
            }
            JobCommand::InvokeMethod { request, device_id, method } => {
                if let Some(client) = self.client.clone() {
                    tokio::spawn(job_tasks::invoke_method(client, self.sink.clone(), request, device_id, method));
                } else {
                    let method_name = method.method_name;
                    let event = JobEvent::MethodDone { request, device_id, method_name, result: Err(AppError::not_connected()) };
                    self.sink.send(event.into()).await;
                }
            }
            JobCommand::ExportCsv { request, file_name, text } => {
                let dialogs = Arc::clone(&self.options.file_dialogs);
                let sink = self.sink.clone();
                tokio::spawn(async move {
                    let result = match dialogs.save(&file_name, CSV).await {
                        Some(path) => match tokio::fs::write(&path, text.as_bytes()).await {
                            Ok(()) => Ok(Some(path)),
                            Err(error) => Err(AppError::local(format!("cannot write {}: {error}", path.display()))),
                        },
                        None => Ok(None),
                    };
                    sink.send(JobEvent::CsvExported { request, result }.into()).await;
                });
            }
        }
    }

    async fn handle_dps(&mut self, command: DpsCommand) {
        match command {
            DpsCommand::LoadEnrollments { request } => {
                if !self.spawn_dps(move |dps, sink| dps_tasks::load_enrollments(dps, sink, request)) {
                    self.sink.send(DpsEvent::EnrollmentsLoaded { request, result: Err(AppError::no_dps()) }.into()).await;
                }
            }
            DpsCommand::Save { request, item, etag } => {
                let id = item.id().to_owned();
                if !self.spawn_dps(move |dps, sink| dps_tasks::save_enrollment(dps, sink, request, *item, etag)) {
                    let outcome = EnrollmentSaveOutcome::Failed(AppError::no_dps());
                    self.sink.send(DpsEvent::Saved { request, id, outcome }.into()).await;
                }
            }
            DpsCommand::Delete { request, kind, id, etag } => {
                let for_event = id.clone();
                if !self.spawn_dps(move |dps, sink| dps_tasks::delete_enrollment(dps, sink, request, kind, id, etag)) {
                    self.sink.send(DpsEvent::Deleted { request, id: for_event, result: Err(AppError::no_dps()) }.into()).await;
                }
            }
            DpsCommand::BulkSetPolicy { request, items } => {
                if !self.spawn_dps(move |dps, sink| dps_tasks::bulk_set_policy(dps, sink, request, items)) {
                    self.sink.send(DpsEvent::BulkPolicyDone { request, result: Err(AppError::no_dps()) }.into()).await;
                }
            }
            DpsCommand::LoadRecords { request, kind, id } => {
                let for_event = id.clone();
                if !self.spawn_dps(move |dps, sink| dps_tasks::load_records(dps, sink, request, kind, id)) {
                    self.sink.send(DpsEvent::Records { request, id: for_event, result: Err(AppError::no_dps()) }.into()).await;
                }
            }
            DpsCommand::LoadKeys { request, kind, id } => {
                let for_event = id.clone();
                if !self.spawn_dps(move |dps, sink| dps_tasks::load_keys(dps, sink, request, kind, id)) {
                    self.sink.send(DpsEvent::Keys { request, id: for_event, result: Err(AppError::no_dps()) }.into()).await;
                }
            }
            DpsCommand::ReRegister { request, hub, device_id, registration_id } => {
                if let Some((_, client)) = self.hubs.iter().find(|(entry, _)| entry.name == hub) {
                    tokio::spawn(dps_tasks::reregister(client.clone(), self.sink.clone(), request, device_id, registration_id));
                } else {
                    let result = Err(AppError::local(format!("the profile has no hub named '{hub}'")));
                    self.sink.send(DpsEvent::ReRegisterSent { request, registration_id, result }.into()).await;
                }
            }
            DpsCommand::FindEnrollment { request, device_id } => {
                let for_event = Arc::clone(&device_id);
                if !self.spawn_dps(move |dps, sink| dps_tasks::find_enrollment(dps, sink, request, device_id)) {
                    let event = DpsEvent::EnrollmentFound { request, device_id: for_event, result: Err(AppError::no_dps()) };
                    self.sink.send(event.into()).await;
                }
            }
        }
    }

    /// Runs a device action on the hub in use, or reports that nothing was done.
    async fn spawn_action<F, Fut>(&self, request: RequestId, action: F)
    where
        F: FnOnce(HubClient, EventSink) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if let Some(client) = self.client.clone() {
            tokio::spawn(action(client, self.sink.clone()));
        } else {
            let failures = vec![AppError::not_connected().message];
            self.sink.send(DeviceEvent::ActionDone { request, summary: "Nothing was done".to_owned(), failures }.into()).await;
        }
    }

    /// Runs a DPS task; false when the profile has no DPS.
    fn spawn_dps<F, Fut>(&self, task: F) -> bool
    where
        F: FnOnce(DpsClient, EventSink) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        match self.dps.clone() {
            Some(dps) => {
                tokio::spawn(task(dps, self.sink.clone()));
                true
            }
            None => false,
        }
    }
}
