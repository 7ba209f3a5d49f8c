//! Okta's JSON shapes as revokd reads them (`OAuth2RefreshToken`, `OAuth2Client`, the error
//! body). Okta's schema marks no field required, so every field is optional and unknown fields
//! are tolerated; decoding keeps each token's raw JSON for the snapshot history.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

/// `GrantOrTokenStatus`: `ACTIVE` or `REVOKED`; anything else is kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    Revoked,
    Other(String),
}

impl TokenStatus {
    /// The spelling Okta uses.
    pub fn as_str(&self) -> &str {
        match self {
            TokenStatus::Active => "ACTIVE",
            TokenStatus::Revoked => "REVOKED",
            TokenStatus::Other(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for TokenStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "ACTIVE" => TokenStatus::Active,
            "REVOKED" => TokenStatus::Revoked,
            _ => TokenStatus::Other(s),
        })
    }
}

/// One `_embedded.scopes[]` item (present with `expand=scope`), as far as revokd decides on
/// it: its name. The item itself is kept whole in the token's raw JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbeddedScope {
    pub name: Option<String>,
}

/// `_embedded` of a refresh token.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Embedded {
    #[serde(default)]
    pub scopes: Vec<EmbeddedScope>,
}

/// `OAuth2RefreshToken`, fields exactly as Okta names them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshToken {
    pub id: Option<String>,
    pub status: Option<TokenStatus>,
    pub created: Option<DateTime<Utc>>,
    pub last_updated: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub issuer: Option<String>,
    /// camelCase in the schema; some Okta examples spell it `client_id`.
    #[serde(alias = "client_id")]
    pub client_id: Option<String>,
    #[serde(alias = "user_id")]
    pub user_id: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[serde(rename = "_embedded")]
    pub embedded: Option<Embedded>,
}

impl RefreshToken {
    /// Scope names: `scopes`, or else the names in `_embedded.scopes`.
    pub fn scope_names(&self) -> Vec<String> {
        if let Some(s) = &self.scopes {
            return s.clone();
        }
        self.embedded
            .iter()
            .flat_map(|e| e.scopes.iter().filter_map(|s| s.name.clone()))
            .collect()
    }

    /// [`RefreshToken::scope_names`], moving `scopes` out rather than copying it.
    pub fn take_scope_names(&mut self) -> Vec<String> {
        match self.scopes.take() {
            Some(scopes) => scopes,
            None => self.scope_names(),
        }
    }

    /// Whether Okta may still honour the token: it is listed `ACTIVE`, or with no status at
    /// all (the schema marks no field required, so a missing status proves nothing; the
    /// report views count such a token active too).
    pub fn may_be_active(&self) -> bool {
        status_may_be_active(self.status.as_ref().map(TokenStatus::as_str))
    }

    /// The status as a message names it: `ACTIVE`, `REVOKED` (or what else Okta sent), or
    /// `with no status` when Okta sent none.
    pub fn status_text(&self) -> &str {
        self.status
            .as_ref()
            .map_or("with no status", TokenStatus::as_str)
    }
}

/// Whether a token listed with `status` (as Okta spells it, or none) may still be honoured:
/// `ACTIVE`, or no status at all. The one rule for tokens decoded and tokens stored.
pub fn status_may_be_active(status: Option<&str>) -> bool {
    matches!(status, None | Some("ACTIVE"))
}

/// A decoded token together with the exact JSON Okta sent for it.
#[derive(Debug, Clone)]
pub struct ObservedToken {
    pub token: RefreshToken,
    pub raw_json: String,
}

/// `OAuth2Client`, the item of `GET /api/v1/users/{userId}/clients` (snake_case in Okta's schema).
#[derive(Debug, Clone, Deserialize)]
pub struct UserClient {
    pub client_id: Option<String>,
    pub client_name: Option<String>,
}

/// Okta's error body (`components.schemas.Error`); every field optional, causes parsed leniently.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OktaErrorBody {
    pub error_code: Option<String>,
    pub error_summary: Option<String>,
    pub error_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_causes")]
    pub error_causes: Vec<String>,
}

fn lenient_causes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let summary = |v: &serde_json::Value| {
        v.get("errorSummary")
            .and_then(|s| s.as_str())
            .map(str::to_owned)
    };
    Ok(match value {
        serde_json::Value::Array(items) => items.iter().filter_map(summary).collect(),
        other => summary(&other).into_iter().collect(),
    })
}

/// A body that is not the JSON Okta promised: where, and what was wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[error("at `{path}`: {message}")]
pub struct DecodeError {
    pub path: String,
    pub message: String,
}

/// Decodes a JSON array of tokens, keeping each item's raw text. Items are borrowed from the
/// body while they are decoded (one copy each, their kept text); the path of a decoding error
/// is worked out only when there is one.
pub fn decode_tokens(body: &str) -> Result<Vec<ObservedToken>, DecodeError> {
    let items: Vec<&RawValue> = match serde_json::from_str(body) {
        Ok(items) => items,
        Err(_) => decode(body)?,
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let token: RefreshToken = match serde_json::from_str(raw.get()) {
                Ok(token) => token,
                Err(_) => decode(raw.get()).map_err(|e| DecodeError {
                    path: format!("[{i}].{}", e.path),
                    message: e.message,
                })?,
            };
            Ok(ObservedToken {
                token,
                raw_json: raw.get().to_owned(),
            })
        })
        .collect()
}

/// Decodes any JSON value, reporting the path of the first offending field.
pub fn decode<'a, T: Deserialize<'a>>(body: &'a str) -> Result<T, DecodeError> {
    let mut de = serde_json::Deserializer::from_str(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| DecodeError {
        path: e.path().to_string(),
        message: e.into_inner().to_string(),
    })?;
    de.end().map_err(|e| DecodeError {
        path: ".".into(),
        message: e.to_string(),
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = r#"{"id":"oar579Mcp7OUsNTlo0g3","status":"ACTIVE",
        "created":"2018-03-09T03:18:06.000Z","lastUpdated":"2018-03-09T03:18:06.000Z",
        "expiresAt":"2018-03-16T03:18:06.000Z","issuer":"https://x.okta.com/oauth2/ausain6z9zIedDCxB0h7",
        "clientId":"0oabskvc6442nkvQO0h7","userId":"00u5t60iloOHN9pBi0h7",
        "scopes":["offline_access","car:drive"],"newField":{"x":1},
        "_links":{"self":{"href":"https://x"}}}"#;

    #[test]
    fn a_token_decodes_with_unknown_fields_and_keeps_its_raw_json() {
        let body = format!("[{TOKEN}]");
        let tokens = decode_tokens(&body).unwrap();
        assert_eq!(tokens.len(), 1);
        let t = &tokens[0].token;
        assert_eq!(t.id.as_deref(), Some("oar579Mcp7OUsNTlo0g3"));
        assert!(t.may_be_active());
        assert_eq!(t.client_id.as_deref(), Some("0oabskvc6442nkvQO0h7"));
        assert_eq!(t.scope_names(), vec!["offline_access", "car:drive"]);
        assert!(tokens[0].raw_json.contains("newField"));
    }

    #[test]
    fn client_id_in_snake_case_and_missing_fields_are_accepted() {
        let tokens = decode_tokens(r#"[{"client_id":"0oa1"},{}]"#).unwrap();
        assert_eq!(tokens[0].token.client_id.as_deref(), Some("0oa1"));
        assert!(tokens[1].token.id.is_none());
        assert!(tokens[1].token.may_be_active(), "no status proves nothing");
    }

    #[test]
    fn scopes_fall_back_to_embedded_names() {
        let tokens = decode_tokens(
            r#"[{"_embedded":{"scopes":[{"id":"scp1","name":"openid"},{"id":"scp2"}]}}]"#,
        )
        .unwrap();
        assert_eq!(tokens[0].token.scope_names(), vec!["openid"]);
    }

    #[test]
    fn a_bad_field_is_reported_with_its_path() {
        let err = decode_tokens(r#"[{"id":"a"},{"created":"yesterday"}]"#).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("[1].created"), "{text}");
    }

    #[test]
    fn truncated_and_trailing_garbage_bodies_are_errors() {
        assert!(decode_tokens(r#"[{"id":"a"},{"id":"#).is_err());
        assert!(decode_tokens(r#"[] []"#).is_err());
        assert!(decode_tokens(r#"{"id":"a"}"#).is_err());
    }

    #[test]
    fn error_bodies_parse_leniently() {
        let e: OktaErrorBody = decode(
            r#"{"errorCode":"E0000007","errorSummary":"Not found","errorId":"x","errorCauses":{"errorSummary":"one"}}"#,
        )
        .unwrap();
        assert_eq!(e.error_causes, vec!["one"]);
        let e: OktaErrorBody = decode(r#"{"errorCauses":[{"errorSummary":"a"},{}]}"#).unwrap();
        assert_eq!(e.error_causes, vec!["a"]);
    }
}
