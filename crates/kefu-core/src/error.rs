//! The core's errors: a value that breaks a rule, named by its field ([`ValidationError`],
//! HTTP 422), and an action the current state of a record or the caller forbids ([`RuleError`]).

use std::fmt;

/// A value refused by a domain rule. `field` names the input (dotted path for nested
/// settings, e.g. `business_hours[0].open`) so the API and UI can point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Why a state machine (order, after-sales ticket, review/complaint ticket) refused an action.
/// The kinds are distinct because the API answers them differently: the record's state
/// forbids it (409: reload, the order moved on), the caller may not (403), or a value is bad
/// (422, pointing at the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    /// `subject` (订单, 售后单 …) is in `state` (its label_zh), which forbids the action by `rule`.
    Conflict {
        subject: &'static str,
        state: &'static str,
        rule: String,
    },
    /// The caller's side (buyer, staff role, system) may not take this action.
    Forbidden(String),
    Invalid(ValidationError),
}

impl RuleError {
    pub fn conflict(subject: &'static str, state: &'static str, rule: impl Into<String>) -> Self {
        RuleError::Conflict {
            subject,
            state,
            rule: rule.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        RuleError::Invalid(ValidationError::new(field, message))
    }

    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        match self {
            RuleError::Conflict { .. } => 409,
            RuleError::Forbidden(_) => 403,
            RuleError::Invalid(_) => 422,
        }
    }
}

impl From<ValidationError> for RuleError {
    fn from(e: ValidationError) -> Self {
        RuleError::Invalid(e)
    }
}

impl fmt::Display for RuleError {
    /// `订单处于 卖家已发货，发货后不能修改收货地址` — the words shown to staff as they are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::Conflict { subject, state, rule } => write!(f, "{subject}处于 {state}，{rule}"),
            RuleError::Forbidden(m) => f.write_str(m),
            RuleError::Invalid(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RuleError {}
