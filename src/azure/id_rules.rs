//! The service's rules for identifiers (device, job, enrollment and registration ids), shared by
//! the clients, which check before sending so the error is precise, the simulator, which
//! enforces them, and the console's forms, which check as the user types.

use thiserror::Error;

/// Longest id, in characters, for every kind of id here.
pub const MAX_ID_CHARS: usize = 128;

/// An id the service would refuse, with the reason in words (never the value of a key).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct IdError(String);

/// Device (and module) ids: 1–128 ASCII letters, digits and `- : . + % _ # * ? ! ( ) , = @ ; $ '`.
pub fn check_device_id(device_id: &str) -> Result<(), IdError> {
    if device_id.is_empty() {
        return Err(IdError("the device id is empty".to_owned()));
    }
    if device_id.len() > MAX_ID_CHARS {
        return Err(IdError(format!("the device id is {} characters long; at most {MAX_ID_CHARS} are allowed", device_id.len())));
    }
    if let Some(bad) = device_id.chars().find(|c| !is_device_id_char(*c)) {
        return Err(IdError(format!(
            "the device id contains '{bad}'; allowed are letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ '"
        )));
    }
    Ok(())
}

/// Characters allowed in device and module ids.
pub fn is_device_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-:.+%_#*?!(),=@;$'".contains(c)
}

/// Job ids the console accepts: what survives a query string literal and a URL path unchanged.
pub fn check_job_id(job_id: &str) -> Result<(), IdError> {
    if job_id.is_empty() || job_id.len() > MAX_ID_CHARS {
        return Err(IdError(format!("job id '{job_id}' must be 1 to {MAX_ID_CHARS} characters long")));
    }
    if let Some(bad) = job_id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))) {
        return Err(IdError(format!("job id '{job_id}' contains '{bad}'; use letters, digits and - _ . : only")));
    }
    Ok(())
}

/// DPS registration, enrollment and group ids (`what` names which, for the message): 1–128 of
/// letters, digits and `: . _ -`, not starting or ending with one of those four.
pub fn check_dps_id(what: &str, id: &str) -> Result<(), IdError> {
    let special = |c: char| matches!(c, ':' | '.' | '_' | '-');
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(IdError(format!("the {what} id must be 1 to {MAX_ID_CHARS} characters long")));
    }
    if let Some(bad) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || special(*c))) {
        return Err(IdError(format!("the {what} id '{id}' contains '{bad}'; use letters, digits and : . _ - only")));
    }
    if id.starts_with(special) || id.ends_with(special) {
        return Err(IdError(format!("the {what} id '{id}' cannot start or end with : . _ or -")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(result: Result<(), IdError>) -> String {
        match result {
            Ok(()) => panic!("expected the id to be refused"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn device_id_rules_name_the_problem() {
        assert_eq!(check_device_id("b43-f3-lock-0001"), Ok(()));
        assert_eq!(check_device_id("odd:id.with+chars#*?!(),=@;$'%_"), Ok(()));
        assert!(refusal(check_device_id("")).contains("empty"));
        assert!(refusal(check_device_id("has/slash")).contains("'/'"));
        assert!(refusal(check_device_id("has space")).contains("' '"));
        assert!(refusal(check_device_id(&"x".repeat(129))).contains("129 characters"));
        assert_eq!(check_device_id(&"x".repeat(128)), Ok(()));
    }

    #[test]
    fn job_id_rules_name_the_problem() {
        assert_eq!(check_job_id("lock-b43.2026:01_a"), Ok(()));
        assert!(refusal(check_job_id("")).contains("1 to 128"));
        assert!(refusal(check_job_id("it's")).contains("'''"));
    }

    #[test]
    fn dps_id_rules_name_the_problem() {
        assert_eq!(check_dps_id("enrollment", "door-17"), Ok(()));
        assert!(refusal(check_dps_id("enrollment", "-door")).contains("start or end"));
        assert!(refusal(check_dps_id("enrollment group", "door 1")).contains("enrollment group id 'door 1' contains ' '"));
        assert!(refusal(check_dps_id("registration", "")).contains("registration id must be 1 to 128"));
    }
}
