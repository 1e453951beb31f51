//! Request extractors: JSON bodies that name the offending field, the
//! authenticated caller, and list parameters.

use crate::error::{ApiError, ErrorType};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use utoipa::IntoParams;

/// Who is calling: which key, in which mode.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub livemode: bool,
}

impl Caller {
    /// The caller as the service layer's actor: its key, in its mode.
    pub fn actor(&self) -> bursar_core::Actor {
        bursar_core::Actor::api_key(self.livemode, &self.key_id)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if parts.extensions.get::<InstructorCaller>().is_some() {
            return Err(instructor_refused());
        }
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| ApiError::unauthenticated("no API key provided"))
    }
}

fn instructor_refused() -> ApiError {
    ApiError::forbidden(
        "instructor_session_not_allowed",
        "an instructor session reaches only that instructor's courses, reviews, earnings and payouts",
    )
}

/// An instructor signed in by a session the platform created
/// (`POST /v1/instructors/{id}/sessions`): a `bis_…` bearer token.
#[derive(Debug, Clone)]
pub struct InstructorCaller {
    pub livemode: bool,
    pub instructor_id: String,
}

/// Who may act on marketplace resources: the platform (any of them), or
/// one instructor (their own only).
#[derive(Debug, Clone)]
pub enum Actor {
    Platform { livemode: bool },
    Instructor { livemode: bool, id: String },
}

impl Actor {
    pub fn livemode(&self) -> bool {
        match self {
            Actor::Platform { livemode } | Actor::Instructor { livemode, .. } => *livemode,
        }
    }

    /// The instructor acting, when it is one.
    pub fn instructor(&self) -> Option<&str> {
        match self {
            Actor::Instructor { id, .. } => Some(id),
            Actor::Platform { .. } => None,
        }
    }

    /// Whether the actor may reach what `owner` owns.
    pub fn may_reach(&self, owner: &str) -> bool {
        self.instructor().is_none_or(|me| me == owner)
    }

    /// Refuses instructors (platform-only operations).
    pub fn platform_only(&self) -> Result<(), ApiError> {
        match self {
            Actor::Platform { .. } => Ok(()),
            Actor::Instructor { .. } => Err(instructor_refused()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if let Some(i) = parts.extensions.get::<InstructorCaller>() {
            return Ok(Actor::Instructor { livemode: i.livemode, id: i.instructor_id.clone() });
        }
        parts
            .extensions
            .get::<Caller>()
            .map(|c| Actor::Platform { livemode: c.livemode })
            .ok_or_else(|| ApiError::unauthenticated("no API key provided"))
    }
}

/// A JSON body. Errors name the field (`param`) that caused them; unknown
/// fields are refused by the request types (`deny_unknown_fields`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            if !ct.starts_with("application/json") {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorType::InvalidRequestError,
                    "unsupported_media_type",
                    "request bodies must be JSON (Content-Type: application/json)",
                ));
            }
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::invalid("body", format!("could not read the request body: {e}"))
            }
        })?;
        parse_json(if bytes.is_empty() { b"{}" } else { &bytes }).map(ApiJson)
    }
}

pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorType::InvalidRequestError,
        "body_too_large",
        "the request body is larger than the configured limit",
    )
    .with_param("body")
}

/// 400 for a NUL character (U+0000) in a field: no field has a use for it,
/// and PostgreSQL cannot store it in text.
pub fn nul_refused(param: &str) -> ApiError {
    ApiError::invalid(param, format!("`{param}` must not contain the NUL character (U+0000)"))
}

/// Where a JSON value holds a NUL character, in a string or an object's key:
/// the field's path as other errors name it (`items[0].description`), or
/// `body` for a bare string.
pub fn nul_in_json(v: &serde_json::Value) -> Option<String> {
    fn walk(v: &serde_json::Value, path: &mut String) -> bool {
        use serde_json::Value;
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(fields) => fields.iter().any(|(k, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&k.replace('\0', "\\u0000"));
                let found = k.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(v, &mut path).then(|| if path.is_empty() { "body".to_string() } else { path })
}

/// Parses JSON into `T`, turning serde's error into an envelope that names
/// the field. A NUL character in any string or key is refused with the
/// field's path: JSON can only carry one as the escape `\u0000`, so only a
/// body holding that escape is walked.
/// A parser's message in the API's words: what it expected is said as a
/// JSON type ("an integer", "an object"), never as a Rust type name
/// (`i64`, `struct CustomerCreate`, `enum Interval`).
pub fn plain_words(msg: &str) -> String {
    let Some((head, expected)) = msg.split_once("expected ") else { return msg.to_string() };
    let mut words = expected.splitn(3, ' ');
    let first = words.next().unwrap_or_default();
    let said = match first.trim_end_matches(|c: char| !c.is_alphanumeric()) {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => {
            Some(("an integer", 1))
        }
        "f32" | "f64" => Some(("a number", 1)),
        "struct" | "map" => Some(("an object", 2)),
        "tuple" => Some(("an array", 3)),
        "enum" | "variant" => Some(("one of the allowed values", 2)),
        "unit" => Some(("null", 2)),
        _ => None,
    };
    let Some((words_said, taken)) = said else { return msg.to_string() };
    let rest: Vec<&str> = expected.splitn(taken + 1, ' ').skip(taken).collect();
    let tail = rest.first().map_or(String::new(), |r| format!(" {r}"));
    // Keep punctuation that closed the replaced words.
    let last = expected.split(' ').take(taken).last().unwrap_or_default();
    let punct: String = last.chars().rev().take_while(|c| !c.is_alphanumeric()).collect();
    format!("{head}expected {words_said}{punct}{tail}")
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        if let Some(param) = serde_json::from_slice(bytes).ok().as_ref().and_then(nul_in_json) {
            return Err(nul_refused(&param));
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let msg = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorType::InvalidRequestError,
                "json_invalid",
                format!("the body is not valid JSON: {msg}"),
            )
            .with_param("body");
        }
        let base = if path == "." { String::new() } else { path };
        let join = |f: &str| if base.is_empty() { f.to_string() } else { format!("{base}.{f}") };
        let quoted = msg.split('`').nth(1).map(str::to_string);
        let clean = plain_words(msg.split(" at line ").next().unwrap_or(&msg));
        if msg.starts_with("unknown field") {
            // The path already ends at the unknown field.
            let param = if base.is_empty() { quoted.unwrap_or_default() } else { base.clone() };
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorType::InvalidRequestError,
                "parameter_unknown",
                format!("unknown parameter `{param}`"),
            )
            .with_param(param)
        } else if msg.starts_with("missing field") {
            ApiError::missing(&join(&quoted.unwrap_or_default()))
        } else {
            let param = if base.is_empty() { "body".to_string() } else { base.clone() };
            ApiError::invalid(&param, format!("invalid value for `{param}`: {clean}"))
        }
    })
}

/// `limit` and `starting_after` for every list endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// 1 to 100, default 10.
    pub limit: Option<String>,
    /// An object id: return objects listed after it.
    pub starting_after: Option<String>,
}

impl ListParams {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match &self.limit {
            None => Ok(10),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid("limit", "limit must be an integer from 1 to 100")),
            },
        }
    }

    /// The page asked for (`starting_after` as given, even empty).
    pub fn page(self) -> Result<bursar_core::Page, ApiError> {
        Ok(bursar_core::Page { limit: self.limit()?, starting_after: self.starting_after })
    }
}

/// The page a list's `limit` and `starting_after` ask for.
pub fn page_of(limit: Option<String>, starting_after: Option<String>) -> Result<bursar_core::Page, ApiError> {
    ListParams { limit, starting_after }.page()
}

/// Query strings parsed with the same envelope as bodies.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded_deserializer(q);
        de.map(ApiQuery)
    }
}

fn serde_urlencoded_deserializer<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    // Query values are strings; turn the pairs into a JSON object so the
    // request types and their errors are the same as for bodies.
    let mut map = serde_json::Map::new();
    for (k, v) in form_pairs(q) {
        if map.insert(k.clone(), serde_json::Value::String(v)).is_some() {
            return Err(ApiError::invalid(&k, format!("parameter `{k}` given more than once")));
        }
    }
    parse_json(serde_json::Value::Object(map).to_string().as_bytes())
}

fn form_pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// A hosted page's form that carries its session's CSRF token (the staff
/// console's and the billing portal's form extractors check it).
pub trait CsrfForm {
    fn csrf(&self) -> &str;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        city: String,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        email: String,
        count: Option<i64>,
        address: Option<Inner>,
    }

    #[test]
    fn errors_never_name_rust_types() {
        let e = parse_json::<Outer>(br#""text""#).unwrap_err();
        assert!(!e.body.message.contains("struct") && !e.body.message.contains("Outer"), "{}", e.body.message);
        assert!(e.body.message.contains("an object"), "{}", e.body.message);
        let e = parse_json::<Outer>(br#"{"email":"a","count":"x"}"#).unwrap_err();
        assert_eq!(e.body.param.as_deref(), Some("count"));
        assert!(!e.body.message.contains("i64") && e.body.message.contains("an integer"), "{}", e.body.message);
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_json::<Outer>(br#"{"email":"a","bogus":1}"#).unwrap_err();
        assert_eq!(e.body.param.as_deref(), Some("bogus"));
        assert_eq!(e.body.code, "parameter_unknown");
        let e = parse_json::<Outer>(br#"{"email":"a","address":{"town":"x"}}"#).unwrap_err();
        assert_eq!(e.body.param.as_deref(), Some("address.town"));
        let e = parse_json::<Outer>(br#"{"count":1}"#).unwrap_err();
        assert_eq!(e.body.param.as_deref(), Some("email"));
        assert_eq!(e.body.code, "parameter_missing");
        let e = parse_json::<Outer>(br#"{"email":"a","count":"x"}"#).unwrap_err();
        assert_eq!(e.body.param.as_deref(), Some("count"));
        let e = parse_json::<Outer>(br#"{"email":"a","#).unwrap_err();
        assert_eq!(e.body.code, "json_invalid");
    }

    #[test]
    fn a_nul_character_is_refused_naming_its_field() {
        for (body, param) in [
            (r#"{"email":"a\u0000b"}"#, "email"),
            (r#"{"email":"a","address":{"city":"\u0000"}}"#, "address.city"),
            (r#"{"email":"a","tags":["x",{"k":"v\u0000"}]}"#, "tags[1].k"),
            (r#"{"email":"a","meta":{"k\u0000":"v"}}"#, "meta.k\\u0000"),
            (r#""\u0000""#, "body"),
        ] {
            let e = parse_json::<serde_json::Value>(body.as_bytes()).unwrap_err();
            assert_eq!((e.status.as_u16(), e.body.param.as_deref()), (400, Some(param)), "{body}");
            assert!(e.body.message.contains("NUL"), "{}", e.body.message);
        }
        // An escaped backslash followed by `u0000` is no NUL character.
        let v = parse_json::<Outer>(br#"{"email":"a\\u0000"}"#).unwrap();
        assert_eq!(v.email, "a\\u0000");
    }

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            form_pairs("a=1&b=x%20y+z&c=%e2%82%ac"),
            vec![("a".into(), "1".into()), ("b".into(), "x y z".into()), ("c".into(), "€".into()),]
        );
    }
}

#[cfg(test)]
mod words_tests {
    use super::plain_words;

    #[test]
    fn rust_type_names_become_json_words() {
        assert_eq!(
            plain_words("invalid type: string \"x\", expected i64"),
            "invalid type: string \"x\", expected an integer"
        );
        assert_eq!(
            plain_words("invalid type: sequence, expected struct CustomerCreate"),
            "invalid type: sequence, expected an object"
        );
        assert_eq!(
            plain_words("invalid value: integer `-1`, expected u32"),
            "invalid value: integer `-1`, expected an integer"
        );
        assert_eq!(plain_words("invalid type: map, expected f64"), "invalid type: map, expected a number");
        assert_eq!(
            plain_words("invalid type: string \"a\", expected a boolean"),
            "invalid type: string \"a\", expected a boolean"
        );
        assert_eq!(
            plain_words("unknown variant `x`, expected one of `a`, `b`"),
            "unknown variant `x`, expected one of `a`, `b`"
        );
        for msg in ["expected struct Foo", "expected enum Interval", "expected usize", "expected tuple struct Pair"] {
            let out = plain_words(msg);
            assert!(!["struct", "enum", "usize", "Foo", "Interval", "Pair"].iter().any(|w| out.contains(w)), "{out}");
        }
    }
}
