//! Money is kept in integer fen (分, 1/100 yuan) everywhere: no float ever touches a price.

use crate::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in fen. Negative amounts are allowed (a discount line), the rules that forbid
/// them live where they apply.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// Parses a yuan amount as staff write it: `12`, `12.5`, `12.50`, `¥12.50`, `-3.00`.
    /// More than two decimals is refused rather than rounded: a price is never silently changed.
    pub fn parse_yuan(field: &str, text: &str) -> Result<Fen, ValidationError> {
        let bad = || ValidationError::new(field, format!("“{text}” is not an amount in yuan such as 12.50"));
        let t = text.trim().trim_start_matches(['¥', '￥']).trim();
        let (negative, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (whole, frac) = match t.split_once('.') {
            Some((_, "")) => return Err(bad()),
            Some(parts) => parts,
            None => (t, ""),
        };
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 2
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac: i64 = match frac.len() {
            0 => 0,
            1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
            _ => frac.parse().map_err(|_| bad())?,
        };
        let fen = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(frac))
            .ok_or_else(bad)?;
        Ok(Fen(if negative { -fen } else { fen }))
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_mul(self, n: i64) -> Option<Fen> {
        self.0.checked_mul(n).map(Fen)
    }
}

impl fmt::Display for Fen {
    /// `¥12.50`, the way prices are shown to buyers and staff.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}¥{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yuan_forms() {
        assert_eq!(Fen::parse_yuan("p", "12").unwrap(), Fen(1200));
        assert_eq!(Fen::parse_yuan("p", "12.5").unwrap(), Fen(1250));
        assert_eq!(Fen::parse_yuan("p", " ¥0.05 ").unwrap(), Fen(5));
        assert_eq!(Fen::parse_yuan("p", "￥199.00").unwrap(), Fen(19900));
        assert_eq!(Fen::parse_yuan("p", "-3.00").unwrap(), Fen(-300));
    }

    #[test]
    fn refuses_what_is_not_an_amount() {
        for bad in ["", "abc", "1.234", "1,00", ".5", "1.", "1e3", "99999999999999999999"] {
            let e = Fen::parse_yuan("price", bad);
            assert!(e.is_err(), "{bad:?} accepted");
            assert_eq!(e.unwrap_err().field, "price");
        }
    }

    #[test]
    fn displays_as_yuan() {
        assert_eq!(Fen(1250).to_string(), "¥12.50");
        assert_eq!(Fen(5).to_string(), "¥0.05");
        assert_eq!(Fen(-300).to_string(), "-¥3.00");
    }

    #[test]
    fn round_trips_every_amount_shown() {
        for n in [-100_001_i64, -1, 0, 1, 99, 100, 12345, 9_999_999] {
            let shown = Fen(n).to_string().replace('¥', "");
            assert_eq!(Fen::parse_yuan("p", &shown).unwrap(), Fen(n));
        }
    }
}
