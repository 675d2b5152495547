//! Who is calling: password hashing, session tokens, and the [`Caller`] extractor that
//! every shop-scoped handler takes. A session is a random token the client holds (in the
//! `kefu_session` cookie for the UI, or `Authorization: Bearer` for API clients); the
//! database keeps only its SHA-256.

use crate::AppState;
use crate::error::ApiError;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use kefu_core::account::Account;
use kefu_core::ids::ShopId;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "kefu_session";

/// Hashes a password with argon2id off the async runtime (it takes tens of milliseconds on purpose).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    })
    .await?
}

/// Checks a password against a stored PHC hash, off the async runtime. An unparsable hash
/// never matches.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A new session token (256 random bits, hex) and the hash the database keeps.
pub fn new_token() -> (String, Vec<u8>) {
    let bytes: [u8; 32] = rand::random();
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The logged-in staff member making a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub account: Account,
    pub token_hash: Vec<u8>,
}

impl Caller {
    pub fn shop(&self) -> ShopId {
        self.account.shop_id
    }

    /// Owners and admins only (staff, settings, knowledge base).
    pub fn require_manager(&self) -> Result<(), ApiError> {
        if self.account.role.is_manager() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{} account may not do this; ask the shop owner or an admin",
                self.account.role.with_article()
            )))
        }
    }
}

fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = match bearer(parts) {
            Some(t) => t,
            None => CookieJar::from_headers(&parts.headers)
                .get(SESSION_COOKIE)
                .map(|c| c.value().to_string())
                .ok_or_else(|| ApiError::Unauthorized("log in first".into()))?,
        };
        let hash = token_hash(&token);
        let (_, account) = state
            .store
            .session(&hash, kefu_store::now())
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the session has ended; log in again".into()))?;
        Ok(Caller {
            account,
            token_hash: hash,
        })
    }
}
