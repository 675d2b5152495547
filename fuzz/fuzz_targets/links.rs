//! The link checker on any text: it never panics, and every link it reports is where it says,
//! as written.
#![no_main]
use kefu_core::links::{LinkPolicy, scan};
use kefu_core::settings::ShopSettings;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|text: &str| {
    static POLICY: OnceLock<LinkPolicy> = OnceLock::new();
    let policy = POLICY.get_or_init(|| LinkPolicy::from_settings(&ShopSettings::default()));
    for link in scan(text, policy) {
        assert!(link.start < link.end && link.end <= text.len());
        assert_eq!(&text[link.start..link.end], link.url);
    }
});
