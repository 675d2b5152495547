//! kefu's pure core: the domain types and the shop's rules, with no I/O and no async.
//!
//! Everything here is plain functions over plain types so that each rule of the
//! specification (SPEC.md) can be read in one file, unit-tested and benchmarked alone.
//! Storage (`kefu-store`) and the server (`kefu-server`) call into this crate; it never
//! calls out.

pub mod account;
pub mod aftersales;
pub mod bot;
pub mod buyer_token;
pub mod buyer_types;
pub mod catalog;
pub mod chat;
pub mod clock;
pub mod compliance;
pub mod customers;
pub mod error;
pub mod ids;
pub mod kb;
pub mod links;
pub mod lockout;
pub mod mail;
pub mod money;
pub mod order;
pub mod order_answers;
pub mod order_feed;
pub mod phrases;
pub mod product_knowledge;
pub mod reminders;
pub mod routing;
pub mod service_tickets;
pub mod settings;
pub mod shop;
pub mod stats;
pub mod visits;
pub mod webhooks;

pub use error::{RuleError, ValidationError};
