//! The one business error of every operation. It says what went wrong in
//! the terms of the business (an invalid field, a missing object, a
//! conflict, a declined payment …) and knows nothing of HTTP: each interface
//! maps the [`Kind`] onto its own answer once (the API onto a status code and
//! the JSON envelope, the pages onto a message, the CLI onto an exit code).

use bursar_store::DbError;
use std::borrow::Cow;

/// What kind of failure an operation met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A field of the request is invalid or missing (`param` names it).
    Invalid,
    /// The object does not exist, or not for this caller.
    NotFound,
    /// The request conflicts with the state of an object.
    Conflict,
    /// The caller may not do this.
    Forbidden,
    /// The caller could not be identified.
    Unauthenticated,
    /// A payment was declined.
    Declined,
    /// A service Bursar asked (a provider, an FX source) answered with an error.
    Upstream,
    /// A dependency (the database, storage, a provider) is unavailable for
    /// now; the same request may succeed later.
    Unavailable,
    /// Too many requests from this caller for now.
    RateLimited,
    /// Something that should not happen; logged where it happened.
    Internal,
}

/// A business error: its kind, a stable machine-readable code, a message
/// for people, and the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    pub code: Cow<'static, str>,
    pub message: String,
    pub param: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.param {
            Some(p) => write!(f, "{} ({}): {}", self.code, p, self.message),
            None => write!(f, "{}: {}", self.code, self.message),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(kind: Kind, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Error { kind, code: code.into(), message: message.into(), param: None }
    }

    /// Names the field the error concerns.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// A field is invalid.
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Error::new(Kind::Invalid, "parameter_invalid", message).with_param(param)
    }

    /// A required field is missing.
    pub fn missing(param: &str) -> Self {
        Error::new(Kind::Invalid, "parameter_missing", format!("missing required parameter `{param}`"))
            .with_param(param)
    }

    /// No such object (`what`) with this id; `param` is the field that named it.
    pub fn not_found(param: &str, what: &str, id: &str) -> Self {
        Error::new(Kind::NotFound, "resource_missing", format!("no such {what}: '{id}'")).with_param(param)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::new(Kind::Conflict, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Error::new(Kind::Forbidden, code, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Error::new(Kind::Unauthenticated, "api_key_invalid", message)
    }

    /// A payment was declined.
    pub fn declined(code: &'static str, message: impl Into<String>) -> Self {
        Error::new(Kind::Declined, code, message)
    }

    /// A dependency is unavailable for now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::new(Kind::Unavailable, "service_unavailable", message)
    }

    pub fn internal() -> Self {
        Error::new(Kind::Internal, "internal_error", "an internal error occurred; it has been logged")
    }

    /// Logs `e` as the cause and returns an internal error.
    pub fn internal_from(context: &str, e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "{context}");
        Error::internal()
    }

    /// Whether the caller can fix this by changing the request (as opposed
    /// to retrying later or reporting a fault).
    pub fn is_caller_error(&self) -> bool {
        matches!(
            self.kind,
            Kind::Invalid | Kind::NotFound | Kind::Conflict | Kind::Forbidden | Kind::Unauthenticated | Kind::Declined
        )
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        if let DbError::BalanceLimit { account, currency } = &e {
            return Error::new(
                Kind::Invalid,
                "ledger_balance_limit",
                format!(
                    "this would take the {currency} balance of `{account}` past the ledger's limit of {} minor units",
                    bursar_domain::ledger::MAX_BALANCE_MINOR
                ),
            );
        }
        tracing::error!(error = %e, "database error");
        if let DbError::Sqlx(sqlx::Error::PoolTimedOut) = e {
            return Error::new(
                Kind::Unavailable,
                "database_busy",
                "the database is busy; retry with the same Idempotency-Key",
            );
        }
        Error::internal()
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::from(DbError::from(e))
    }
}
