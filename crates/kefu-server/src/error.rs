//! The API's one error type: every failure becomes an HTTP status and a JSON body
//! `{"error": code, "message": text}` (plus `field` when one input is to blame).
//! Server-side failures are logged with their cause and shown to the caller only as `internal`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kefu_core::ValidationError;
use kefu_store::StoreError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Invalid(ValidationError),
    /// The compliance guard refused a text (the shop blocks, SPEC §2.9): 422 `refused`, with
    /// the findings.
    #[error("{message}")]
    Refused {
        message: String,
        findings: Vec<kefu_core::compliance::Finding>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    TooManyRequests { retry_after_secs: i64, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// The JSON body of every error response.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code for programs: `invalid_json`, `invalid_value`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `too_many_requests`, `payload_too_large`, `internal` …
    pub error: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The input to blame, when there is one (e.g. `business_hours[0].open`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `refused`: what the compliance guard found (SPEC §2.9).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<kefu_core::compliance::Finding>,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: "bad_request",
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
            ApiError::Refused { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl ApiError {
    /// The JSON body (also sent as a WebSocket error frame); logs server-side failures.
    pub fn body(&self) -> ErrorBody {
        let (_, code) = self.status_and_code();
        let (message, field) = match self {
            ApiError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                (
                    "something went wrong on the server; it has been logged".to_string(),
                    None,
                )
            }
            ApiError::Invalid(v) => (v.to_string(), Some(v.field.clone())),
            other => (other.to_string(), None),
        };
        let findings = match self {
            ApiError::Refused { findings, .. } => findings.clone(),
            _ => Vec::new(),
        };
        ErrorBody {
            error: code,
            message,
            field,
            findings,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, _) = self.status_and_code();
        let mut response = (status, axum::Json(self.body())).into_response();
        if let ApiError::TooManyRequests { retry_after_secs, .. } = self
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<ValidationError> for ApiError {
    fn from(v: ValidationError) -> Self {
        ApiError::Invalid(v)
    }
}

/// A state machine's refusal: the record's state (409), the caller's side (403), a value (422).
impl From<kefu_core::RuleError> for ApiError {
    fn from(e: kefu_core::RuleError) -> Self {
        match e {
            kefu_core::RuleError::Conflict { .. } => ApiError::Conflict(e.to_string()),
            kefu_core::RuleError::Forbidden(why) => ApiError::Forbidden(why),
            kefu_core::RuleError::Invalid(v) => ApiError::Invalid(v),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("resource"),
            StoreError::Conflict(what) => ApiError::Conflict(format!("already exists ({what})")),
            StoreError::Refused(why) => ApiError::Conflict(why),
            StoreError::Stale => ApiError::Conflict(
                "有人刚刚修改了它，请刷新后再试 (it was changed meanwhile; reload and try again)".into(),
            ),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => ApiError::BadRequest {
                code: "invalid_json",
                message: e.body_text(),
            },
            JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest {
                code: "invalid_json",
                message: e.body_text(),
            },
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("send the body as JSON with Content-Type: application/json".into())
            }
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge("the request body is larger than this endpoint accepts".into())
            }
            other => ApiError::bad_request(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest {
            code: "invalid_query",
            message: r.body_text(),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::BadRequest {
            code: "invalid_path",
            message: r.body_text(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
