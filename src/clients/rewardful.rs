//! Rewardful's REST API over fetch (`{REWARDFUL_API_BASE}/v1/…`): the API secret is the HTTP
//! Basic user name with an empty password, bodies are form-encoded, answers are JSON, errors are
//! `{"error": "...", "details": [...]}`. Server-side only: the secret never reaches a page.
//! Only what "Refer & earn" needs: create and read affiliates, find one by email, list the
//! commissions of one.

use crate::config::{Config, Secret};
use crate::error::AppError;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;
use worker::{Headers, Method, Request, RequestInit};

const TIMEOUT: Duration = Duration::from_secs(8);

/// An affiliate as Rewardful shows it (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Affiliate {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub visitors: i64,
    #[serde(default)]
    pub leads: i64,
    #[serde(default)]
    pub conversions: i64,
    #[serde(default)]
    pub links: Vec<AffiliateLink>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AffiliateLink {
    pub url: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub visitors: i64,
    #[serde(default)]
    pub leads: i64,
    #[serde(default)]
    pub conversions: i64,
}

/// A commission: `amount` in the currency's minor unit; `state` pending | due | paid | voided.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Commission {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub state: String,
}

/// Rewardful's list answers: `{"pagination": {...}, "data": [...]}`.
#[derive(Debug, Deserialize)]
struct List<T> {
    data: Vec<T>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewardfulError {
    /// Rewardful answered with an error status; `message` is its `error` (and `details`).
    Api {
        status: u16,
        message: String,
    },
    Network(String),
    Decode(String),
}

impl RewardfulError {
    /// A 422 saying the address belongs to an affiliate already.
    pub fn is_email_taken(&self) -> bool {
        matches!(self, RewardfulError::Api { status: 422, message } if message.to_lowercase().contains("email"))
    }
}

impl std::fmt::Display for RewardfulError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RewardfulError::Api { status, message } => write!(f, "HTTP {status}: {message}"),
            RewardfulError::Network(e) => write!(f, "no answer: {e}"),
            RewardfulError::Decode(e) => write!(f, "unreadable answer: {e}"),
        }
    }
}

impl From<RewardfulError> for AppError {
    fn from(e: RewardfulError) -> AppError {
        AppError::Upstream { service: "rewardful", detail: e.to_string() }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    details: Vec<String>,
}

pub struct Rewardful {
    base: String,
    key: Secret,
}

impl Rewardful {
    /// 503 (naming `REWARDFUL_API_KEY` in the log) when the programme is not configured.
    pub fn from_config(config: &Config) -> Result<Rewardful, AppError> {
        let key = config
            .rewardful
            .api_key
            .clone()
            .ok_or(AppError::Misconfigured { var: "REWARDFUL_API_KEY", problem: "is not set".into() })?;
        Ok(Rewardful { base: config.endpoints.rewardful_api.clone(), key })
    }

    pub async fn create_affiliate(
        &self,
        first_name: &str,
        last_name: &str,
        email: &str,
    ) -> Result<Affiliate, RewardfulError> {
        let form: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("first_name", first_name)
            .append_pair("last_name", last_name)
            .append_pair("email", email)
            .finish();
        self.call(Method::Post, "/v1/affiliates", Some(form)).await
    }

    pub async fn affiliate(&self, id: &str) -> Result<Affiliate, RewardfulError> {
        self.call(Method::Get, &format!("/v1/affiliates/{}", path_id(id)), None).await
    }

    /// The affiliate with this address, if there is one.
    pub async fn affiliate_by_email(&self, email: &str) -> Result<Option<Affiliate>, RewardfulError> {
        let query: String =
            url::form_urlencoded::Serializer::new(String::new()).append_pair("email", email).finish();
        let list: List<Affiliate> = self.call(Method::Get, &format!("/v1/affiliates?{query}"), None).await?;
        Ok(list.data.into_iter().find(|a| a.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email))))
    }

    /// The affiliate's newest commissions (one page of 100: enough for a summary).
    pub async fn commissions(&self, affiliate_id: &str) -> Result<Vec<Commission>, RewardfulError> {
        let path = format!("/v1/commissions?affiliate_id={}&limit=100", path_id(affiliate_id));
        let list: List<Commission> = self.call(Method::Get, &path, None).await?;
        Ok(list.data)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: Option<String>,
    ) -> Result<T, RewardfulError> {
        let net = |e: worker::Error| RewardfulError::Network(e.to_string());
        let headers = Headers::new();
        headers.set("Authorization", &basic_auth(self.key.expose())).map_err(net)?;
        headers.set("Accept", "application/json").map_err(net)?;
        let mut init = RequestInit::new();
        init.with_method(method);
        if let Some(form) = form {
            headers.set("Content-Type", "application/x-www-form-urlencoded").map_err(net)?;
            init.with_body(Some(form.into()));
        }
        init.with_headers(headers);
        let request = Request::new_with_init(&format!("{}{path}", self.base), &init).map_err(net)?;
        let answer = crate::fetch::fetch(request, TIMEOUT)
            .await
            .map_err(|e| RewardfulError::Network(e.to_string()))?;
        let (status, body) = (answer.status, answer.body);
        parse(status, &body)
    }
}

/// `Basic base64("<secret>:")`: the secret is the user name, the password is empty.
pub fn basic_auth(secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{secret}:")))
}

fn parse<T: DeserializeOwned>(status: u16, body: &str) -> Result<T, RewardfulError> {
    if (200..300).contains(&status) {
        return serde_json::from_str(body).map_err(|e| RewardfulError::Decode(e.to_string()));
    }
    let message = match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) if e.details.is_empty() => e.error,
        Ok(e) => format!("{}: {}", e.error, e.details.join("; ")),
        Err(_) => format!("non-JSON error body ({} bytes)", body.len()),
    };
    Err(RewardfulError::Api { status, message })
}

/// Ids go into paths and queries: Rewardful ids are UUIDs.
fn path_id(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_the_basic_user_with_an_empty_password() {
        assert_eq!(basic_auth("rewd_s3cr3t"), "Basic cmV3ZF9zM2NyM3Q6");
    }

    #[test]
    fn an_affiliate_parses_from_rewardfuls_documented_shape() {
        let a: Affiliate = parse(
            200,
            r#"{"id":"d0ed8392-8880-4f39-8715-60230f9eceab","created_at":"2019-05-09T16:18:59.920Z",
                "first_name":"Adam","last_name":"Jones","email":"adam.jones@example.com","paypal_email":null,
                "state":"active","visitors":100,"leads":42,"conversions":18,
                "campaign":{"id":"a638ebe4","name":"Best Friends"},
                "links":[{"id":"eb84","url":"http://www.example.com/?via=adam","token":"adam","visitors":100,"leads":42,"conversions":18}]}"#,
        )
        .unwrap();
        assert_eq!((a.visitors, a.leads, a.conversions), (100, 42, 18));
        assert_eq!(a.links[0].url, "http://www.example.com/?via=adam");
    }

    #[test]
    fn errors_carry_rewardfuls_message_and_details() {
        let e = parse::<Affiliate>(
            422,
            r#"{"error":"Validation failed","details":["Email has already been taken"]}"#,
        )
        .unwrap_err();
        assert!(e.is_email_taken(), "{e}");
        let e = parse::<Affiliate>(404, r#"{"error":"Affiliate not found: x"}"#).unwrap_err();
        assert!(!e.is_email_taken());
        assert_eq!(e.to_string(), "HTTP 404: Affiliate not found: x");
    }

    #[test]
    fn ids_cannot_smuggle_paths_or_queries() {
        assert_eq!(path_id("d0ed8392-8880&limit=1/../x"), "d0ed8392-8880limit1x");
    }
}
