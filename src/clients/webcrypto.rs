//! RS256 signatures checked by the runtime's WebCrypto (`crypto.subtle`), for Google's ID
//! tokens: the runtime's RSA instead of an RSA stack compiled into the Worker (see
//! `auth::id_token` for the split). Only the verdict crosses back.

use crate::clients::google::RsaKey;
use wasm_bindgen::prelude::*;
use worker::wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
export function verify_rs256(n, e, data, signature) {
  const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  // Views of wasm memory: copied now, before anything awaits.
  const message = data.slice(), sig = signature.slice();
  return crypto.subtle
    .importKey("jwk", { kty: "RSA", n, e, alg: "RS256", ext: true }, algorithm, false, ["verify"])
    .then((key) => crypto.subtle.verify(algorithm, key, sig, message));
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn verify_rs256(
        n: &str,
        e: &str,
        data: &[u8],
        signature: &[u8],
    ) -> Result<worker::js_sys::Promise, JsValue>;
}

/// Whether `signature` is `key`'s RSASSA-PKCS1-v1_5 SHA-256 signature of `message`; an error when
/// the runtime refuses the key itself (not an RSA key, a bad modulus).
pub async fn verify_rs256_signature(key: &RsaKey, message: &[u8], signature: &[u8]) -> Result<bool, String> {
    let described = |e: JsValue| crate::error::js_message(&e);
    let promise = verify_rs256(&key.n, &key.e, message, signature).map_err(described)?;
    let verdict = JsFuture::from(promise).await.map_err(described)?;
    Ok(verdict.as_bool() == Some(true))
}
