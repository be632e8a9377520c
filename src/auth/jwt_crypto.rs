//! jsonwebtoken's cryptography for our session tokens: HS256 with the `hmac` and `sha2` we
//! already link, installed as its process-wide provider. Its own `rust_crypto` provider would
//! also compile RSA, P-256, P-384 and Ed25519 into the Worker (a fifth of the bundle); Google's
//! RS256 ID tokens are checked by WebCrypto instead (`clients::webcrypto`). Natively (tests,
//! fuzzing) other algorithms fall through to `rust_crypto`, which signs the test tokens.

use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use sha2::Sha256;

struct Hs256(Hmac<Sha256>);

impl Hs256 {
    fn new(secret: &[u8]) -> Result<Hs256> {
        Ok(Hs256(<Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| ErrorKind::InvalidKeyFormat)?))
    }
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        let mut mac = self.0.clone();
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        let mut mac = self.0.clone();
        mac.update(message);
        // Constant time (`verify_slice`), like every other MAC check of ours.
        mac.verify_slice(signature).map_err(|_| SignatureError::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    match (algorithm, key.family()) {
        (Algorithm::HS256, AlgorithmFamily::Hmac) => Ok(Box::new(Hs256::new(key.as_bytes())?)),
        #[cfg(not(target_arch = "wasm32"))]
        _ => (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.signer_factory)(algorithm, key),
        #[cfg(target_arch = "wasm32")]
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    match (algorithm, key.family()) {
        (Algorithm::HS256, AlgorithmFamily::Hmac) => Ok(Box::new(Hs256::new(key.try_get_as_bytes()?)?)),
        #[cfg(not(target_arch = "wasm32"))]
        _ => (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory)(algorithm, key),
        #[cfg(target_arch = "wasm32")]
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes ours the provider (once per process; later calls do nothing).
pub fn install() {
    let _ = PROVIDER.install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs256_signs_like_rustcrypto_and_refuses_a_changed_signature() {
        let key = EncodingKey::from_secret(b"k");
        let ours = signer(&Algorithm::HS256, &key).unwrap().try_sign(b"m").unwrap();
        let theirs =
            (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.signer_factory)(&Algorithm::HS256, &key)
                .unwrap()
                .try_sign(b"m")
                .unwrap();
        assert_eq!(ours, theirs);
        let check = verifier(&Algorithm::HS256, &DecodingKey::from_secret(b"k")).unwrap();
        assert!(check.verify(b"m", &ours).is_ok());
        let mut changed = ours.clone();
        changed[0] ^= 1;
        assert!(check.verify(b"m", &changed).is_err());
        assert!(check.verify(b"n", &ours).is_err());
    }
}
