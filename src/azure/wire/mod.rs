//! Wire types: the JSON shapes of the `IoT` Hub and DPS service REST APIs, shared by the client
//! and the simulator.

mod bulk;
mod device;
mod device_connection;
mod dps;
mod error_body;
mod error_code;
mod job;
mod query;
mod statistics;
mod timestamp;
mod twin;

pub use bulk::{BulkRegistryOperationResult, DeviceRegistryOperationError, DeviceRegistryOperationWarning, ExportImportDevice, ImportMode};
pub use device::{
    AuthenticationMechanism, AuthenticationType, ConnectionState, Device, DeviceCapabilities, DeviceStatus, SymmetricKey, X509Thumbprint,
};
pub use device_connection::{DEVICE_CONNECTIONS_PATH, DeviceConnection, DeviceProtocol};
pub use dps::enrollment::{
    AttestationMechanism, BulkEnrollmentOperation, BulkEnrollmentOperationError, BulkEnrollmentOperationResult, DeviceRegistrationState,
    EnrollmentGroup, EnrollmentSettings, IndividualEnrollment, InitialTwin, InitialTwinProperties, RegistrationOperationStatus,
    SymmetricKeyAttestation,
};
pub use dps::{AllocationPolicy, RegistrationStatus, RegistrationSubstatus, ReprovisionPolicy};
pub use error_body::{HubErrorBody, ParsedError, StructuredError, parse_error};
pub use error_code::ErrorCode;
pub use job::{
    CloudToDeviceMethod, DeviceJob, DeviceJobError, DeviceJobOutcome, DeviceJobStatistics, DeviceJobStatus, JobQueryResult, JobRequest,
    JobResponse, JobStatus, JobType, METHOD_RESPONSE_TIMEOUT_DEFAULT_SECS, METHOD_RESPONSE_TIMEOUT_MAX_SECS,
    METHOD_RESPONSE_TIMEOUT_MIN_SECS, MethodResult,
};
pub use query::{CONTINUATION_HEADER, ITEM_TYPE_HEADER, MAX_ITEM_COUNT_HEADER, QueryItemType, QueryPage};
pub use statistics::{RegistryStatistics, ServiceStatistics};
pub use timestamp::Timestamp;
pub use twin::{NodeMetadata, Twin, TwinProperties, section_values};
