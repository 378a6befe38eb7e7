//! The service's error codes: name, six-digit number and HTTP status, in one table.

/// An `IoT` Hub / DPS error code the console and simulator know by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // the variant names are the service's own code names
pub enum ErrorCode {
    InvalidProtocolVersion,
    InvalidOperation,
    ArgumentInvalid,
    ArgumentNull,
    IotHubFormatError,
    DeviceDefinedMultipleTimes,
    BulkRegistryOperationFailure,
    IotHubUnauthorizedAccess,
    IotHubQuotaExceeded,
    JobQuotaExceeded,
    DeviceMaximumQueueDepthExceeded,
    DeviceNotFound,
    JobNotFound,
    ModuleNotFound,
    DeviceNotOnline,
    ResourceNotFound,
    DeviceAlreadyExists,
    JobAlreadyExists,
    PreconditionFailed,
    MessageTooLarge,
    TooManyDevices,
    ThrottlingException,
    ThrottlingMaxActiveJobCountExceeded,
    ServerError,
    ServiceUnavailable,
    GatewayTimeout,
}

impl ErrorCode {
    const ALL: [Self; 26] = [
        Self::InvalidProtocolVersion,
        Self::InvalidOperation,
        Self::ArgumentInvalid,
        Self::ArgumentNull,
        Self::IotHubFormatError,
        Self::DeviceDefinedMultipleTimes,
        Self::BulkRegistryOperationFailure,
        Self::IotHubUnauthorizedAccess,
        Self::IotHubQuotaExceeded,
        Self::JobQuotaExceeded,
        Self::DeviceMaximumQueueDepthExceeded,
        Self::DeviceNotFound,
        Self::JobNotFound,
        Self::ModuleNotFound,
        Self::DeviceNotOnline,
        Self::ResourceNotFound,
        Self::DeviceAlreadyExists,
        Self::JobAlreadyExists,
        Self::PreconditionFailed,
        Self::MessageTooLarge,
        Self::TooManyDevices,
        Self::ThrottlingException,
        Self::ThrottlingMaxActiveJobCountExceeded,
        Self::ServerError,
        Self::ServiceUnavailable,
        Self::GatewayTimeout,
    ];

    /// The code's name as it appears in `iothub-errorcode` and `ErrorCode:<Name>`.
    pub fn name(self) -> &'static str {
        self.entry().0
    }

    /// The six-digit code whose first three digits are the HTTP status.
    pub fn number(self) -> u32 {
        self.entry().1
    }

    /// The HTTP status the service answers with.
    pub fn http_status(self) -> u16 {
        // Every number in the table is six digits, so this fits.
        u16::try_from(self.number() / 1000).unwrap_or(500)
    }

    /// Looks a code up by its number.
    pub fn from_number(number: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.number() == number)
    }

    /// Looks a code up by its name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.name() == name)
    }

    fn entry(self) -> (&'static str, u32) {
        match self {
            Self::InvalidProtocolVersion => ("InvalidProtocolVersion", 400_001),
            Self::InvalidOperation => ("InvalidOperation", 400_003),
            Self::ArgumentInvalid => ("ArgumentInvalid", 400_004),
            Self::ArgumentNull => ("ArgumentNull", 400_005),
            Self::IotHubFormatError => ("IotHubFormatError", 400_006),
            Self::DeviceDefinedMultipleTimes => ("DeviceDefinedMultipleTimes", 400_011),
            Self::BulkRegistryOperationFailure => ("BulkRegistryOperationFailure", 400_013),
            Self::IotHubUnauthorizedAccess => ("IotHubUnauthorizedAccess", 401_002),
            Self::IotHubQuotaExceeded => ("IotHubQuotaExceeded", 403_002),
            Self::JobQuotaExceeded => ("JobQuotaExceeded", 403_003),
            Self::DeviceMaximumQueueDepthExceeded => ("DeviceMaximumQueueDepthExceeded", 403_004),
            Self::DeviceNotFound => ("DeviceNotFound", 404_001),
            Self::JobNotFound => ("JobNotFound", 404_002),
            Self::ModuleNotFound => ("ModuleNotFound", 404_010),
            Self::DeviceNotOnline => ("DeviceNotOnline", 404_103),
            Self::ResourceNotFound => ("ResourceNotFound", 404_000),
            Self::DeviceAlreadyExists => ("DeviceAlreadyExists", 409_001),
            Self::JobAlreadyExists => ("JobAlreadyExists", 409_002),
            Self::PreconditionFailed => ("PreconditionFailed", 412_001),
            Self::MessageTooLarge => ("MessageTooLarge", 413_001),
            Self::TooManyDevices => ("TooManyDevices", 413_002),
            Self::ThrottlingException => ("ThrottlingException", 429_001),
            Self::ThrottlingMaxActiveJobCountExceeded => ("ThrottlingMaxActiveJobCountExceeded", 429_004),
            Self::ServerError => ("ServerError", 500_001),
            Self::ServiceUnavailable => ("ServiceUnavailable", 503_001),
            Self::GatewayTimeout => ("GatewayTimeout", 504_101),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_name(code.name()), Some(code));
            assert_eq!(ErrorCode::from_number(code.number()), Some(code));
            assert!((400..600).contains(&code.http_status()), "{code:?}");
        }
        assert_eq!(ErrorCode::DeviceNotOnline.http_status(), 404);
        assert_eq!(ErrorCode::GatewayTimeout.http_status(), 504);
    }
}
