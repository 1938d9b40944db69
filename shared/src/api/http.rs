//! Small helpers between Lambda HTTP types and the flows.

use lambda_http::{Body, Response};

use super::ApiError;

/// Bodies larger than this are refused before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    }
}

pub fn json(status: u16, value: &serde_json::Value) -> Response<Body> {
    json_text(status, value.to_string())
}

/// A typed answer serialised straight to the body, without a `serde_json::Value` in between
/// (the check's hot path).
pub fn json_of<T: serde::Serialize>(status: u16, value: &T) -> Result<Response<Body>, ApiError> {
    serde_json::to_string(value)
        .map(|text| json_text(status, text))
        .map_err(|e| ApiError::Unavailable(format!("answer: {e}")))
}

fn json_text(status: u16, text: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

pub fn error(err: &ApiError) -> Response<Body> {
    err.log();
    json(err.status(), &err.body())
}

/// The path the client called, as sent: API Gateway's raw path (stages and custom domains
/// change the URI's), else the URI's. Routing trims a trailing `/`; webhook signatures use it
/// as sent.
pub fn request_path(req: &lambda_http::Request) -> &str {
    use lambda_http::RequestExt;
    let raw = req.raw_http_path();
    if raw.is_empty() {
        req.uri().path()
    } else {
        raw
    }
}

/// The query string as name -> value (the first value of a repeated name): as the Lambda
/// event parsed it, else from the URI (a request the local gateway built from a socket).
pub fn query_map(req: &lambda_http::Request) -> std::collections::BTreeMap<String, String> {
    use lambda_http::RequestExt;
    match req.query_string_parameters_ref() {
        Some(q) => q
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        None => {
            let mut map = std::collections::BTreeMap::new();
            for (k, v) in form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()) {
                map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
            }
            map
        }
    }
}

pub fn text(status: u16, content_type: &str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

/// A page size from the query's `limit`: 1 to `max`, `default` when absent; anything else is a
/// 400 naming `limit`.
pub fn page_limit(
    query: &std::collections::BTreeMap<String, String>,
    default: i32,
    max: i32,
) -> Result<i32, ApiError> {
    let Some(limit) = query.get("limit") else {
        return Ok(default);
    };
    limit
        .parse::<i32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            ApiError::invalid(
                "invalid_limit",
                "limit",
                format!("limit must be a whole number from 1 to {max}"),
            )
        })
}

/// Parses a JSON request body into `T`, naming what is wrong when it cannot.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    parse_json_limited(body, MAX_BODY_BYTES)
}

pub fn parse_json_limited<T: serde::de::DeserializeOwned>(
    body: &[u8],
    limit: usize,
) -> Result<T, ApiError> {
    if body.len() > limit {
        return Err(ApiError::TooLarge { limit });
    }
    if body.is_empty() {
        return Err(ApiError::Invalid {
            code: "invalid_body",
            message: "request body must be a JSON object".into(),
            field: None,
        });
    }
    serde_json::from_slice(body).map_err(|e| {
        let message = e.to_string();
        // serde names a missing or mistyped field in its message; surface it as `field`.
        let field = message
            .split('`')
            .nth(1)
            .filter(|_| {
                message.starts_with("missing field") || message.starts_with("unknown field")
            })
            .map(str::to_string);
        ApiError::Invalid {
            code: "invalid_body",
            message: format!("invalid JSON body: {message}"),
            field,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        // Valid JSON, padded over the limit: refused for its size, not read.
        let mut valid = br#"{"phone": "+14155550100"}"#.to_vec();
        valid.resize(MAX_BODY_BYTES + 1, b' ');
        let too_large = ApiError::TooLarge {
            limit: MAX_BODY_BYTES,
        };
        assert_eq!(too_large.status(), 413);
        assert_eq!(
            parse_json::<serde_json::Value>(&valid),
            Err(too_large.clone())
        );
        // Invalid JSON over the limit is the same 413, not a 400 from the parser.
        let garbage = vec![b'{'; MAX_BODY_BYTES + 1];
        assert_eq!(parse_json::<serde_json::Value>(&garbage), Err(too_large));
        // At the limit it is read.
        valid.truncate(MAX_BODY_BYTES);
        assert!(parse_json::<serde_json::Value>(&valid).is_ok());
    }
}
