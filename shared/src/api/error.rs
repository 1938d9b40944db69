//! Every error a client can see, mapped to HTTP in one place.

use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The request is valid but conflicts with the ledger (lifting an opt-out without saying so).
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Storage or a dependency failed: never answered as "allowed". The client gets a fixed
    /// message; the detail (which may name internals) only goes to the log.
    #[error("{UNAVAILABLE_MESSAGE}")]
    Unavailable(String),
}

/// What a client is told when Stopgate cannot answer now, whatever the cause.
pub const UNAVAILABLE_MESSAGE: &str = "Stopgate cannot answer this request now; retry shortly";

impl ApiError {
    pub fn invalid(code: &'static str, field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            code,
            message: message.into(),
            field: Some(field.to_string()),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Invalid { .. } => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound { .. } => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict { .. } => 409,
            ApiError::TooLarge { .. } => 413,
            ApiError::Unavailable(_) => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::Unavailable(_) => "unavailable",
        }
    }

    /// Logs what the client is not told (the detail of an `Unavailable`), once per answer.
    pub fn log(&self) {
        if let ApiError::Unavailable(detail) = self {
            tracing::error!(detail = %detail, "answered 503");
        }
    }

    /// `{"error": {"code", "message", "field"?}}`
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({"code": self.code(), "message": self.to_string()});
        let field = match self {
            ApiError::Invalid { field, .. } | ApiError::Conflict { field, .. } => field.as_ref(),
            _ => None,
        };
        if let (Some(field), Some(map)) = (field, error.as_object_mut()) {
            map.insert("field".into(), json!(field));
        }
        json!({ "error": error })
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        ApiError::Unavailable(format!("storage: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_field_and_map_to_http() {
        let e = ApiError::invalid("invalid_phone_number", "to", "not a phone number");
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.body(),
            json!({"error": {"code": "invalid_phone_number", "message": "not a phone number", "field": "to"}})
        );
        let unavailable = ApiError::Unavailable("serde: expected `,` at line 1".into());
        assert_eq!(unavailable.status(), 503);
        assert_eq!(
            unavailable.body(),
            json!({"error": {"code": "unavailable", "message": UNAVAILABLE_MESSAGE}}),
            "the detail never reaches the client"
        );
        assert_eq!(ApiError::from(StoreError::Throttled).status(), 503);
    }
}
