//! Signed buyer tokens (SPEC §2.6): a shop whose pages know the logged-in buyer signs who they
//! are with the shop's widget secret, so that the chat knows the buyer (and their orders)
//! instead of an anonymous visitor. The token is `v1.<payload>.<signature>`: the payload is
//! base64url JSON `{"buyer": id, "nick": name, "exp": unix seconds}`, the signature
//! base64url HMAC-SHA256 of `v1.<payload>` with the secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Who the shop says the buyer is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerClaims {
    /// The shop's id for the buyer (e.g. the platform's buyer id): 1–64 characters.
    pub buyer: String,
    /// What agents call them (买家昵称).
    #[serde(default)]
    pub nick: String,
    /// Until when the token is good, in Unix seconds.
    pub exp: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the buyer token is not of the form v1.<payload>.<signature>")]
    Malformed,
    #[error("the buyer token's signature does not match the shop's widget secret")]
    BadSignature,
    #[error("the buyer token has expired")]
    Expired,
    #[error("the buyer token names no buyer, or one longer than 64 characters")]
    BadBuyer,
}

const VERSION: &str = "v1";

fn mac(secret: &[u8], signed: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(signed.as_bytes());
    m
}

/// Signs claims (what the shop's server does; kefu uses it in tests and examples).
pub fn sign(claims: &BuyerClaims, secret: &[u8]) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let signed = format!("{VERSION}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &signed).finalize().into_bytes());
    format!("{signed}.{signature}")
}

/// Checks the signature (in constant time) and the expiry, and returns the claims.
pub fn verify(token: &str, secret: &[u8], now_unix: i64) -> Result<BuyerClaims, TokenError> {
    let mut parts = token.split('.');
    let (Some(VERSION), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
    mac(secret, &format!("{VERSION}.{payload}"))
        .verify_slice(&signature)
        .map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Malformed)?;
    let claims: BuyerClaims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if claims.exp <= now_unix {
        return Err(TokenError::Expired);
    }
    let n = claims.buyer.chars().count();
    if n == 0 || n > 64 || claims.buyer.chars().any(char::is_control) {
        return Err(TokenError::BadBuyer);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_tokens_verify_and_tampered_ones_do_not() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let claims = BuyerClaims {
            buyer: "tb_2088001".into(),
            nick: "小王".into(),
            exp: 2_000_000_000,
        };
        let token = sign(&claims, secret);
        assert_eq!(verify(&token, secret, 1_900_000_000), Ok(claims.clone()));
        assert_eq!(
            verify(&token, b"another secret", 1_900_000_000),
            Err(TokenError::BadSignature)
        );
        assert_eq!(verify(&token, secret, 2_000_000_000), Err(TokenError::Expired));
        // Another payload under the same signature.
        let forged = sign(
            &BuyerClaims {
                buyer: "tb_victim".into(),
                ..claims.clone()
            },
            b"guess",
        );
        let (head, _) = forged.rsplit_once('.').unwrap();
        let (_, sig) = token.rsplit_once('.').unwrap();
        assert_eq!(
            verify(&format!("{head}.{sig}"), secret, 0),
            Err(TokenError::BadSignature)
        );
        for bad in ["", "v1", "v1.a", "v2.a.b", "v1.a.b.c", "v1.!!.??"] {
            assert!(verify(bad, secret, 0).is_err(), "{bad}");
        }
        let empty = sign(
            &BuyerClaims {
                buyer: String::new(),
                nick: String::new(),
                exp: 2_000_000_000,
            },
            secret,
        );
        assert_eq!(verify(&empty, secret, 0), Err(TokenError::BadBuyer));
    }
}
