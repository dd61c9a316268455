//! Reading a request the way MLflow's server does: a GET's fields come from the query string,
//! every other method's from a JSON body. Fields are typed by serde; a wrong type names the
//! field, and numbers may arrive as strings (protobuf's JSON writes 64-bit integers so, and
//! query strings have nothing else).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::error::ApiError;

/// A request's fields as `T`.
pub(crate) struct Fields<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Fields<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let value = if req.method() == Method::GET {
            query_fields(req.uri().query().unwrap_or(""))
        } else {
            let bytes = Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::malformed(e.status(), e.body_text()))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                Value::Object(Map::new())
            } else {
                serde_json::from_slice(&bytes).map_err(|e| {
                    ApiError::malformed(
                        axum::http::StatusCode::BAD_REQUEST,
                        format!("the request body is not JSON: {e}"),
                    )
                })?
            }
        };
        serde_path_to_error::deserialize(value)
            .map(Fields)
            .map_err(|e| {
                let path = e.path().to_string();
                ApiError::invalid(format!(
                    "invalid value for parameter '{path}': {}",
                    e.into_inner()
                ))
            })
    }
}

/// `a=1&b=2&b=3` as `{"a": "1", "b": ["2", "3"]}`.
fn query_fields(query: &str) -> Value {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = Value::String(value.into_owned());
        match map.get_mut(key.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                map.insert(key.into_owned(), Value::Array(vec![first, value]));
            }
            None => {
                map.insert(key.into_owned(), value);
            }
        }
    }
    Value::Object(map)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Int(i64),
    Float(f64),
    Text(String),
}

/// An optional integer given as a number or a string.
pub(crate) fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<NumOrText>::deserialize(d)? {
        None => Ok(None),
        Some(NumOrText::Int(v)) => Ok(Some(v)),
        Some(NumOrText::Float(v)) if v.fract() == 0.0 && v.abs() < 9.0e18 => Ok(Some(v as i64)),
        Some(NumOrText::Float(v)) => {
            Err(serde::de::Error::custom(format!("{v} is not an integer")))
        }
        Some(NumOrText::Text(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("'{s}' is not an integer"))),
    }
}

/// A list given as a list, or as one value (a query string's single occurrence).
pub(crate) fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(one)) => vec![one],
        Some(OneOrMany::Many(many)) => many,
    })
}

/// The error for a required field the request lacks.
pub(crate) fn missing(name: &str) -> ApiError {
    ApiError::invalid(format!("missing value for required parameter '{name}'"))
}

/// A required text field: absent or empty is [`missing`].
pub(crate) fn required(value: Option<String>, name: &str) -> Result<String, ApiError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| missing(name))
}

/// A page size: at least 1, at most `max`, `default` when absent.
pub(crate) fn page_size(asked: Option<i64>, default: usize, max: usize) -> Result<usize, ApiError> {
    match asked {
        None => Ok(default),
        Some(n) if n < 1 => Err(ApiError::invalid(format!(
            "max_results must be at least 1, got {n}"
        ))),
        Some(n) if n as u64 > max as u64 => Err(ApiError::invalid(format!(
            "max_results must be at most {max}, got {n}"
        ))),
        Some(n) => Ok(n as usize),
    }
}

/// The offset an offset page token names.
pub(crate) fn offset(token: Option<&str>) -> Result<usize, ApiError> {
    match token {
        None | Some("") => Ok(0),
        Some(t) => t
            .parse()
            .map_err(|_| ApiError::invalid(format!("invalid page_token '{t}'"))),
    }
}

/// One page of `items` under `key`, with the offset token of the next page when there is one.
pub(crate) fn page_of<T>(
    key: &str,
    items: &[T],
    start: usize,
    size: usize,
    show: impl Fn(&T) -> Value,
) -> Value {
    let page: Vec<Value> = items.iter().skip(start).take(size).map(show).collect();
    let mut body = serde_json::json!({ key: page });
    if start + size < items.len() {
        body["next_page_token"] = Value::String((start + size).to_string());
    }
    body
}
