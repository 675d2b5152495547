//! Shops (店铺, SPEC §6.3): one installation hosts several, strictly isolated.

use crate::ValidationError;
use crate::ids::ShopId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A shop's short name, used at login and in URLs: 2–32 of `a-z 0-9 -`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "demo")]
pub struct ShopSlug(String);

impl ShopSlug {
    pub fn parse(s: &str) -> Result<ShopSlug, ValidationError> {
        let s = s.trim().to_ascii_lowercase();
        let ok_len = (2..=32).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok_len || !ok_chars || s.starts_with('-') || s.ends_with('-') {
            return Err(ValidationError::new(
                "shop",
                format!("“{s}” is not a shop name: use 2–32 of a-z, 0-9 and -"),
            ));
        }
        Ok(ShopSlug(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ShopSlug {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        ShopSlug::parse(&s)
    }
}

impl From<ShopSlug> for String {
    fn from(s: ShopSlug) -> String {
        s.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shop {
    pub id: ShopId,
    pub slug: ShopSlug,
    /// The name buyers see, e.g. 小棉袄母婴旗舰店.
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub fn check_shop_name(name: &str) -> Result<(), ValidationError> {
    let n = name.trim().chars().count();
    if n == 0 || n > 60 {
        return Err(ValidationError::new("name", "must be 1 to 60 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(ShopSlug::parse(" Demo ").unwrap().as_str(), "demo");
        assert!(ShopSlug::parse("baby-shop-2").is_ok());
        for bad in ["d", "-demo", "demo-", "店铺", "a b", "a_b"] {
            assert!(ShopSlug::parse(bad).is_err(), "{bad}");
        }
        assert!(check_shop_name("").is_err());
        assert!(check_shop_name("小棉袄母婴旗舰店").is_ok());
    }
}
