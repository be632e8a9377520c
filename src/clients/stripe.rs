//! Stripe's REST API over the Worker's fetch: `Authorization: Bearer <secret key>`, form-encoded
//! bodies (`stripe_form`), an `Idempotency-Key` on every POST, each attempt bounded by a timeout
//! (AbortController + Delay), and retries with backoff the way Stripe's own libraries do them:
//! on network errors, timeouts, 409 and 5xx, always obeying `Stripe-Should-Retry`. Every call
//! we make is safe to retry (GETs and DELETEs, and POSTs that carry an idempotency key).

use super::stripe_charges::{Charge, InvoicePayment};
use super::stripe_form::StripeForm;
use super::stripe_objects::{CheckoutSession, Customer, List, PortalSession, Price, Subscription};
use crate::config::{Config, Secret};
use crate::error::AppError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;
use worker::{Delay, Headers, Method, Request, RequestInit};

/// The API version our parsing follows (period dates on subscription items).
pub const API_VERSION: &str = "2025-03-31.basil";
pub const MAX_RETRIES: u32 = 2;
const USER_AGENT: &str = concat!("ghosttools-worker/", env!("CARGO_PKG_VERSION"));

/// Stripe's error body: `{"error":{"type","code","decline_code","message","param"}}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ApiError {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ApiError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeError {
    /// Stripe answered with an error status.
    Api { status: u16, error: Box<ApiError>, request_id: Option<String> },
    /// No answer: connection failed, or the attempt timed out.
    Network(String),
    /// An answer we could not read.
    Decode(String),
}

impl StripeError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, StripeError::Api { status: 404, .. })
    }

    /// Stripe's message when it is meant for the customer (card errors are worded for them);
    /// every other message is for developers and stays in the logs.
    pub fn customer_message(&self) -> Option<&str> {
        match self {
            StripeError::Api { error, .. } if error.kind == "card_error" => error.message.as_deref(),
            _ => None,
        }
    }
}

impl std::fmt::Display for StripeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StripeError::Api { status, error, request_id } => write!(
                f,
                "HTTP {status} {} {} (param {}, request {}): {}",
                error.kind,
                error.code.as_deref().unwrap_or("-"),
                error.param.as_deref().unwrap_or("-"),
                request_id.as_deref().unwrap_or("-"),
                error.message.as_deref().unwrap_or("")
            ),
            StripeError::Network(e) => write!(f, "no answer: {e}"),
            StripeError::Decode(e) => write!(f, "unreadable answer: {e}"),
        }
    }
}

impl From<StripeError> for AppError {
    fn from(e: StripeError) -> AppError {
        match e.customer_message() {
            Some(message) => AppError::BadRequest { field: None, message: message.to_string() },
            None => AppError::Upstream { service: "stripe", detail: e.to_string() },
        }
    }
}

/// Whether an attempt that ended like this may be tried again (the policy of Stripe's
/// libraries): the server's `Stripe-Should-Retry` wins; otherwise 409 (a lock or idempotency
/// conflict) and 5xx are retried, and so is no answer at all.
pub fn should_retry(status: Option<u16>, should_retry_header: Option<&str>) -> bool {
    match should_retry_header.map(str::trim) {
        Some("false") => return false,
        Some("true") => return true,
        _ => {}
    }
    match status {
        None => true,
        Some(409) => true,
        Some(s) => s >= 500,
    }
}

/// Exponential backoff before retry `n` (1-based), halved at random (jitter), at most 2 s.
pub fn backoff(retry: u32, jitter: f64) -> Duration {
    let base = 500.0 * 2f64.powi(retry.saturating_sub(1) as i32);
    let capped = base.min(2_000.0);
    Duration::from_millis((capped * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))) as u64)
}

/// A random idempotency key (128 bits) for one user action, reused by its retries.
pub fn random_idempotency_key(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    crate::security::fill_random(&mut bytes);
    format!("{prefix}-{}", hex::encode(bytes))
}

pub struct Stripe {
    base: String,
    key: Secret,
    timeout: Duration,
}

struct Answer {
    status: u16,
    should_retry: Option<String>,
    request_id: Option<String>,
    body: String,
}

impl Stripe {
    pub fn from_config(config: &Config) -> Result<Stripe, AppError> {
        let stripe = config.stripe.as_ref().map_err(|p| AppError::from(p.clone()))?;
        Ok(Stripe {
            base: config.endpoints.stripe_api.clone(),
            key: stripe.secret_key.clone(),
            timeout: Duration::from_millis(config.stripe_timeout_ms),
        })
    }

    pub async fn retrieve_price(&self, id: &str) -> Result<Price, StripeError> {
        let query = StripeForm::new().field(&["expand", "0"], "product");
        self.get(&format!("/v1/prices/{}", path_id(id)), &query).await
    }

    pub async fn create_customer(
        &self,
        form: &StripeForm,
        idempotency_key: &str,
    ) -> Result<Customer, StripeError> {
        self.post("/v1/customers", form, idempotency_key).await
    }

    pub async fn create_checkout_session(
        &self,
        form: &StripeForm,
        idempotency_key: &str,
    ) -> Result<CheckoutSession, StripeError> {
        self.post("/v1/checkout/sessions", form, idempotency_key).await
    }

    pub async fn retrieve_checkout_session(&self, id: &str) -> Result<CheckoutSession, StripeError> {
        self.get(&format!("/v1/checkout/sessions/{}", path_id(id)), &StripeForm::new()).await
    }

    pub async fn retrieve_subscription(&self, id: &str) -> Result<Subscription, StripeError> {
        self.get(&format!("/v1/subscriptions/{}", path_id(id)), &StripeForm::new()).await
    }

    /// An event as Stripe keeps it (for replaying one whose delivery failed).
    pub async fn retrieve_event(&self, id: &str) -> Result<super::stripe_objects::Event, StripeError> {
        self.get(&format!("/v1/events/{}", path_id(id)), &StripeForm::new()).await
    }

    pub async fn retrieve_charge(&self, id: &str) -> Result<Charge, StripeError> {
        self.get(&format!("/v1/charges/{}", path_id(id)), &StripeForm::new()).await
    }

    /// The invoice a payment intent paid, if any (since API 2025-03-31 neither the charge nor
    /// the payment intent names it; the invoice's payments do).
    pub async fn invoice_paid_by(&self, payment_intent: &str) -> Result<Option<String>, StripeError> {
        let query = StripeForm::new()
            .field(&["payment", "type"], "payment_intent")
            .field(&["payment", "payment_intent"], payment_intent)
            .field(&["limit"], 1);
        let payments: List<InvoicePayment> = self.get("/v1/invoice_payments", &query).await?;
        Ok(payments.data.into_iter().find_map(|p| p.invoice))
    }

    pub async fn create_portal_session(
        &self,
        form: &StripeForm,
        idempotency_key: &str,
    ) -> Result<PortalSession, StripeError> {
        self.post("/v1/billing_portal/sessions", form, idempotency_key).await
    }

    /// Deletes a customer: Stripe cancels its subscriptions at once (no further charges) and
    /// forgets its email and cards. One already gone counts as deleted, so a retry of an
    /// account deletion that failed later on goes through.
    pub async fn delete_customer(&self, id: &str) -> Result<(), StripeError> {
        let url = format!("{}/v1/customers/{}", self.base, path_id(id));
        let answer = self.exchange(Method::Delete, &url, None, None).await;
        match answer.and_then(|body| decode::<serde_json::Value>(&body)) {
            Err(e) if !e.is_not_found() => Err(e),
            _ => Ok(()),
        }
    }

    /// Gives a customer a new email address (receipts and the billing portal use it). A random
    /// key per change, reused by its retries.
    pub async fn update_customer_email(&self, id: &str, email: &str) -> Result<(), StripeError> {
        let form = StripeForm::new().field(&["email"], email);
        let key = random_idempotency_key("gt-customer-email");
        self.post::<serde_json::Value>(&format!("/v1/customers/{}", path_id(id)), &form, &key)
            .await
            .map(|_| ())
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &StripeForm) -> Result<T, StripeError> {
        let encoded = query.encode();
        let url = if encoded.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{encoded}", self.base)
        };
        decode(&self.exchange(Method::Get, &url, None, None).await?)
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &StripeForm,
        idempotency_key: &str,
    ) -> Result<T, StripeError> {
        let url = format!("{}{path}", self.base);
        decode(&self.exchange(Method::Post, &url, Some(form.encode()), Some(idempotency_key)).await?)
    }

    /// The body of a 2xx answer, after the retries Stripe allows; any other answer as its error.
    async fn exchange(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<String, StripeError> {
        let mut retry = 0;
        loop {
            let outcome = self.attempt(method.clone(), url, body.clone(), idempotency_key).await;
            let (status, header) = match &outcome {
                Ok(a) if (200..300).contains(&a.status) => break success(outcome),
                Ok(a) => (Some(a.status), a.should_retry.clone()),
                Err(_) => (None, None),
            };
            if retry >= MAX_RETRIES || !should_retry(status, header.as_deref()) {
                break success(outcome);
            }
            retry += 1;
            let mut jitter = [0u8; 1];
            crate::security::fill_random(&mut jitter);
            Delay::from(backoff(retry, jitter[0] as f64 / 255.0)).await;
        }
    }

    /// One request, aborted when it takes longer than the timeout (reading the body included).
    async fn attempt(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, StripeError> {
        let net = |e: worker::Error| StripeError::Network(e.to_string());
        let headers = Headers::new();
        headers.set("Authorization", &format!("Bearer {}", self.key.expose())).map_err(net)?;
        headers.set("Stripe-Version", API_VERSION).map_err(net)?;
        headers.set("User-Agent", USER_AGENT).map_err(net)?;
        if body.is_some() {
            headers.set("Content-Type", "application/x-www-form-urlencoded").map_err(net)?;
        }
        if let Some(key) = idempotency_key {
            headers.set("Idempotency-Key", key).map_err(net)?;
        }
        let mut init = RequestInit::new();
        init.with_method(method).with_headers(headers).with_body(body.map(Into::into));
        let request = Request::new_with_init(url, &init).map_err(net)?;
        let answer = crate::fetch::fetch(request, self.timeout)
            .await
            .map_err(|e| StripeError::Network(e.to_string()))?;
        Ok(Answer {
            status: answer.status,
            should_retry: answer.header("stripe-should-retry"),
            request_id: answer.header("request-id"),
            body: answer.body,
        })
    }
}

/// A 2xx answer's JSON as `T`. Only this is generic: the exchange with its retries is one
/// function for every object type (one per type was 1.8 KiB more of the gzip wasm).
fn decode<T: DeserializeOwned>(body: &str) -> Result<T, StripeError> {
    serde_json::from_str(body).map_err(|e| StripeError::Decode(e.to_string()))
}

/// A 2xx answer's body, or Stripe's error (its JSON error object when it sent one).
fn success(outcome: Result<Answer, StripeError>) -> Result<String, StripeError> {
    let answer = outcome?;
    if (200..300).contains(&answer.status) {
        return Ok(answer.body);
    }
    let error =
        serde_json::from_str::<ErrorBody>(&answer.body).map(|b| b.error).unwrap_or_else(|_| ApiError {
            kind: "api_error".into(),
            message: Some(format!("non-JSON error body ({} bytes)", answer.body.len())),
            ..ApiError::default()
        });
    Err(StripeError::Api { status: answer.status, error: Box::new(error), request_id: answer.request_id })
}

/// Ids go into paths: keep only the characters Stripe ids have.
fn path_id(id: &str) -> String {
    id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_stripes_header_first_then_409_and_5xx() {
        assert!(should_retry(None, None), "no answer at all");
        assert!(should_retry(Some(409), None));
        assert!(should_retry(Some(500), None));
        assert!(should_retry(Some(503), None));
        assert!(!should_retry(Some(400), None));
        assert!(!should_retry(Some(402), None));
        assert!(!should_retry(Some(429), None), "rate limits only when Stripe says so");
        assert!(should_retry(Some(429), Some("true")));
        assert!(!should_retry(Some(503), Some("false")));
        assert!(!should_retry(Some(409), Some("false")));
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        assert_eq!(backoff(1, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(2, 1.0), Duration::from_millis(1000));
        assert_eq!(backoff(5, 1.0), Duration::from_millis(2000));
        assert_eq!(backoff(1, 0.0), Duration::from_millis(250));
    }

    #[test]
    fn stripe_errors_are_parsed_and_only_card_errors_reach_the_customer() {
        let answer = |body: &str| Answer {
            status: 402,
            should_retry: None,
            request_id: Some("req_1".into()),
            body: body.into(),
        };
        let card = success(Ok(answer(
            r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#,
        )))
        .unwrap_err();
        assert_eq!(card.customer_message(), Some("Your card has insufficient funds."));
        let app: AppError = card.into();
        assert_eq!(app.status(), 400);
        assert_eq!(app.public_message(), "Your card has insufficient funds.");

        let invalid = success(Ok(answer(
            r#"{"error":{"type":"invalid_request_error","param":"line_items[0][price]","message":"No such price: 'price_x'"}}"#,
        )))
        .unwrap_err();
        assert_eq!(invalid.customer_message(), None);
        let app: AppError = invalid.clone().into();
        assert_eq!(app.status(), 502);
        assert!(!app.public_message().contains("price_x"));
        assert!(invalid.to_string().contains("line_items[0][price]"));
        assert!(invalid.to_string().contains("req_1"));

        let garbage = success(Ok(answer("<html>bad gateway</html>"))).unwrap_err();
        assert!(matches!(garbage, StripeError::Api { status: 402, .. }));
    }

    #[test]
    fn ids_cannot_smuggle_paths_or_queries() {
        assert_eq!(path_id("cs_test_123"), "cs_test_123");
        assert_eq!(path_id("../v1/customers?x=1"), "v1customersx1");
    }
}
