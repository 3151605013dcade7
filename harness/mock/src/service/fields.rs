//! Reading the fields of a request body or query with the spec's error codes: a missing field is
//! `400 missing_field`, a field of the wrong type `400 invalid_field` naming it (API-008).

use crate::error::ApiError;
use serde_json::{Map, Value};

/// A `limit` query parameter: `default` when absent, else an integer from 1 to `max`.
pub(crate) fn parse_limit(
    raw: Option<&String>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match raw {
        None => Ok(default),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_field(
                "limit",
                format!("`limit` must be an integer from 1 to {max}"),
            )),
        },
    }
}

pub(crate) fn as_object(v: &Value) -> Result<&Map<String, Value>, ApiError> {
    v.as_object()
        .ok_or_else(|| ApiError::invalid_request("request body must be a JSON object"))
}

pub(crate) fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid_field(
            field,
            format!("`{field}` must be a string"),
        )),
    }
}

pub(crate) fn req_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match opt_str(obj, field)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ApiError::missing_field(field)),
    }
}

pub(crate) fn opt_object_or_array(
    obj: &Map<String, Value>,
    field: &str,
    want_array: bool,
) -> Result<Option<Value>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Array(_)) if want_array => Ok(Some(v.clone())),
        Some(v @ Value::Object(_)) if !want_array => Ok(Some(v.clone())),
        Some(_) => Err(ApiError::invalid_field(
            field,
            format!(
                "`{field}` must be {}",
                if want_array { "an array" } else { "an object" }
            ),
        )),
    }
}
