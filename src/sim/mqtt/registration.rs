//! A DPS registration over MQTT (or MQTT on WebSocket), after its CONNECT was checked: the
//! device subscribes to `$dps/registrations/res/#`, registers, and polls the operation until it
//! is assigned; each answer goes back on its response topic with `retry-after` (and 429s from
//! DPS's throttles). Anything but DPS topics closes the connection.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{Packet, PubAck, Publish, SubAck, SubscribeReasonCode, UnsubAck};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::session::{SessionEnd, Stream, next_packet_id, send, violation};
use super::topic::{self, DevicePublish, Subscription};
use crate::azure::wire::RegistrationStatus;
use crate::sim::dps::Dps;
use crate::sim::dps::error::DpsError;
use crate::sim::dps::register::RegisterRequest;

/// A DPS registration connection: register, then poll until assigned.
pub(super) struct Registration {
    pub(super) dps: Arc<Dps>,
    /// The registration id this connection authenticated as.
    #[allow(clippy::struct_field_names)] // the DPS term
    pub(super) registration_id: String,
    pub(super) api_version: String,
    pub(super) password: String,
}

impl Registration {
    pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        framed: &mut Stream<S>,
        keep_alive: Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let allowance = (!keep_alive.is_zero()).then(|| keep_alive + keep_alive / 2);
        let mut granted = QoS::AtMostOnce;
        let mut packet_ids = 0_u16;
        loop {
            let quiet = async {
                match allowance {
                    Some(allowance) => tokio::time::sleep(allowance).await,
                    None => std::future::pending().await,
                }
            };
            let packet = tokio::select! {
                packet = framed.next() => packet,
                () = quiet => return SessionEnd::Quiet,
                _ = shutdown.changed() => return SessionEnd::Shutdown,
            };
            let packet = match packet {
                None => return SessionEnd::Left,
                Some(Err(error)) => return SessionEnd::Malformed(error.to_string()),
                Some(Ok(packet)) => packet,
            };
            let outcome = match packet {
                Packet::Subscribe(subscribe) => {
                    let codes = subscribe
                        .filters
                        .iter()
                        .map(|filter| match topic::parse_subscription(&filter.path, &self.registration_id) {
                            Ok(Subscription::DpsResponses) => {
                                granted = if filter.qos == QoS::AtMostOnce { QoS::AtMostOnce } else { QoS::AtLeastOnce };
                                SubscribeReasonCode::Success(granted)
                            }
                            _ => SubscribeReasonCode::Failure,
                        })
                        .collect();
                    send(framed, Packet::SubAck(SubAck::new(subscribe.pkid, codes))).await
                }
                Packet::Publish(publish) => self.on_publish(framed, publish, granted, &mut packet_ids).await,
                Packet::Unsubscribe(unsubscribe) => send(framed, Packet::UnsubAck(UnsubAck::new(unsubscribe.pkid))).await,
                Packet::PingReq => send(framed, Packet::PingResp).await,
                Packet::PubAck(_) => Ok(()),
                Packet::Disconnect => return SessionEnd::Left,
                other => Err(SessionEnd::Violation(format!("{other:?} is not a packet a device sends to DPS"))),
            };
            if let Err(end) = outcome {
                return end;
            }
        }
    }

    async fn on_publish<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        framed: &mut Stream<S>,
        publish: Publish,
        granted: QoS,
        packet_ids: &mut u16,
    ) -> Result<(), SessionEnd> {
        if publish.qos == QoS::ExactlyOnce {
            return Err(SessionEnd::Violation("DPS does not support QoS 2".to_owned()));
        }
        let request = topic::parse_device_publish(&publish.topic, &self.registration_id).map_err(|error| violation(&error))?;
        let retry_after = self.dps.retry_after_secs();
        let (status, rid, body, retry) = match request {
            DevicePublish::DpsRegister { rid } => match self.register(&publish.payload) {
                Ok(status) => (202, rid, serde_json::to_vec(&status).unwrap_or_default(), Some(retry_after)),
                Err(error) => (error.status(), rid, error.body_json(), error.retry_after_secs),
            },
            DevicePublish::DpsOperationStatus { rid, operation_id } => {
                match self.dps.operation(Some(&self.password), &self.registration_id, &operation_id) {
                    Ok(status) if status.status == RegistrationStatus::Assigning => {
                        (202, rid, serde_json::to_vec(&status).unwrap_or_default(), Some(retry_after))
                    }
                    Ok(status) => (200, rid, serde_json::to_vec(&status).unwrap_or_default(), None),
                    Err(error) => (error.status(), rid, error.body_json(), error.retry_after_secs),
                }
            }
            _ => return Err(SessionEnd::Violation(format!("'{}' is not a DPS topic", publish.topic))),
        };
        if publish.qos == QoS::AtLeastOnce {
            send(framed, Packet::PubAck(PubAck::new(publish.pkid))).await?;
        }
        let mut answer = Publish::from_bytes(topic::dps_response(status, &rid, retry), granted, Bytes::from(body));
        if granted == QoS::AtLeastOnce {
            answer.pkid = next_packet_id(packet_ids);
        }
        send(framed, Packet::Publish(answer)).await
    }

    fn register(&self, payload: &[u8]) -> Result<crate::azure::wire::RegistrationOperationStatus, DpsError> {
        let body: Value = if payload.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(payload)
                .map_err(|error| DpsError::bad_request(format!("the registration request is not JSON: {error}")))?
        };
        if let Some(named) = body.get("registrationId").and_then(Value::as_str)
            && !named.eq_ignore_ascii_case(&self.registration_id)
        {
            return Err(DpsError::bad_request(format!(
                "the registrationId in the body ('{named}') must equal the one this connection registered as ('{}')",
                self.registration_id
            )));
        }
        let payload = body.get("payload").cloned().filter(|payload| !payload.is_null());
        if payload.as_ref().is_some_and(|payload| !payload.is_object()) {
            return Err(DpsError::bad_request("payload must be a JSON object"));
        }
        self.dps.start_registration(RegisterRequest {
            registration_id: self.registration_id.clone(),
            authorization: Some(self.password.clone()),
            api_version: self.api_version.clone(),
            payload,
            simulated: None,
        })
    }
}
