//! Configuration, in one place. Values come from, lowest first: built-in defaults, a TOML
//! file (`kefu.toml` in the working directory, or the one `--config` names), environment
//! variables `KEFU_<NAME>` (e.g. `KEFU_ADDR`, `KEFU_DB`), and command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where API, WebSocket and UI are served.
    pub addr: SocketAddr,
    /// Where the SQLite file (and later uploads and indexes) live.
    pub data_dir: PathBuf,
    /// A database URL; empty means the SQLite file `<data_dir>/kefu.db`.
    pub db: Option<String>,
    /// Load the demo shop (once; later starts leave it as it is).
    pub demo: bool,
    /// How long a login lasts.
    pub session_ttl_hours: u32,
    /// Take the client address from the last `X-Forwarded-For` entry (only behind your own proxy).
    pub trust_proxy: bool,
    /// Mark the session cookie `Secure` (when served over HTTPS).
    pub secure_cookies: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Give the bot the semantic signal (the bundled sentence model, ~20 ms per new question
    /// and ~24 MB of memory); off, the bot matches words and characters only.
    pub bot_semantic: bool,
    /// Chat sockets one client address may hold open on a node at once (0: no limit). Buyers
    /// behind one carrier NAT share an address, so it is generous; a script is not.
    pub max_sockets_per_address: usize,
    /// Webhook deliveries (SPEC §7.2).
    #[serde(default)]
    pub webhooks: WebhookConfig,
    /// Outgoing e-mail over SMTP (SPEC §7.3); without a host no mail is sent.
    #[serde(default)]
    pub mail: MailConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Let shops' endpoints be on loopback, private or link-local addresses. Off by default:
    /// on a kefu shared by many shops, one shop must not make it call the operator's own
    /// network (SSRF). A single-shop install posting to its own LAN turns it on.
    pub allow_private: bool,
    /// How long one try may take, in seconds, before it counts as failed.
    pub timeout_secs: u64,
    /// Tries before a delivery is given up (1–6; the retry schedule has six).
    pub max_attempts: u32,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allow_private: false,
            timeout_secs: 10,
            max_attempts: kefu_core::webhooks::MAX_ATTEMPTS,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain SMTP: only for a relay on the same host or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS (usually port 587); refused if the server cannot.
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// The SMTP server; empty: e-mail is off.
    pub host: String,
    pub port: u16,
    pub tls: MailTls,
    /// Login, when the server wants one.
    pub user: String,
    pub password: String,
    /// The sender, e.g. `客服通知 <kefu@shop.example.com>`.
    pub from: String,
    /// How long one send may take, in seconds.
    pub timeout_secs: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            host: String::new(),
            port: 587,
            tls: MailTls::Starttls,
            user: String::new(),
            password: String::new(),
            from: String::new(),
            timeout_secs: 30,
        }
    }
}

/// Without the password: configurations get logged and printed.
impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &if self.password.is_empty() { "" } else { "***" })
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl MailConfig {
    pub fn enabled(&self) -> bool {
        !self.host.trim().is_empty()
    }
}

/// The settings `KEFU_*` variables may set; others (such as `KEFU_TEST_PG`) are not ours.
const FIELDS: [&str; 10] = [
    "addr",
    "data_dir",
    "db",
    "demo",
    "session_ttl_hours",
    "trust_proxy",
    "secure_cookies",
    "max_body_bytes",
    "bot_semantic",
    "max_sockets_per_address",
];

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            db: None,
            demo: false,
            session_ttl_hours: 24 * 7,
            trust_proxy: false,
            secure_cookies: false,
            max_body_bytes: 1024 * 1024,
            bot_semantic: true,
            max_sockets_per_address: 1000,
            webhooks: WebhookConfig::default(),
            mail: MailConfig::default(),
        }
    }
}

impl Config {
    /// Merges defaults, the config file, `KEFU_*` variables and `overrides` (the flags given,
    /// as a serializable struct whose `None` fields are skipped).
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Config, String> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(format!("config file {} does not exist", path.display()));
            }
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file("kefu.toml")),
        }
        figment = figment
            .merge(Env::prefixed("KEFU_").only(&FIELDS))
            // `KEFU_MAIL_PASSWORD`, `KEFU_WEBHOOKS_ALLOW_PRIVATE` …: the nested settings.
            .merge(Env::prefixed("KEFU_MAIL_").map(|k| format!("mail.{}", k.as_str()).into()))
            .merge(Env::prefixed("KEFU_WEBHOOKS_").map(|k| format!("webhooks.{}", k.as_str()).into()))
            .merge(Serialized::defaults(overrides));
        let config: Config = figment.extract().map_err(|e| format!("configuration: {e}"))?;
        if config.session_ttl_hours == 0 {
            return Err("configuration: session_ttl_hours must be at least 1".into());
        }
        if config.max_body_bytes < 1024 {
            return Err("configuration: max_body_bytes must be at least 1024".into());
        }
        if config.mail.enabled() {
            kefu_core::mail::check_address("mail.from", sender_address(&config.mail.from)).map_err(|e| {
                format!(
                    "configuration: mail.from must be the sender's address, e.g. 客服 <kefu@shop.example.com> ({e})"
                )
            })?;
        }
        if !(1..=kefu_core::webhooks::MAX_ATTEMPTS).contains(&config.webhooks.max_attempts) {
            return Err("configuration: webhooks.max_attempts must be between 1 and 6".into());
        }
        if config.webhooks.timeout_secs == 0 || config.webhooks.timeout_secs > 60 {
            return Err("configuration: webhooks.timeout_secs must be between 1 and 60".into());
        }
        Ok(config)
    }

    /// The database to open: `db` if set, else the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.db {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!("sqlite://{}", self.data_dir.join("kefu.db").display()),
        }
    }
}

/// The address in `Name <address>`, or the whole text.
pub fn sender_address(from: &str) -> &str {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => &from[a + 1..b],
        _ => from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        addr: Option<String>,
    }

    #[test]
    fn file_then_flags_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kefu.toml");
        std::fs::write(&file, "addr = \"127.0.0.1:9000\"\ndemo = true\n").unwrap();
        let c = Config::load(Some(&file), Flags { addr: None }).unwrap();
        assert_eq!(c.addr.port(), 9000);
        assert!(c.demo);
        let c = Config::load(
            Some(&file),
            Flags {
                addr: Some("0.0.0.0:7000".into()),
            },
        )
        .unwrap();
        assert_eq!(c.addr.port(), 7000);
        assert_eq!(c.database_url(), "sqlite://data/kefu.db");
    }

    #[test]
    fn mail_settings_nest_and_hide_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kefu.toml");
        std::fs::write(
            &file,
            "[mail]\nhost = \"smtp.example.com\"\ntls = \"tls\"\nport = 465\nuser = \"kefu\"\npassword = \"hunter2\"\nfrom = \"客服 <kefu@example.com>\"\n[webhooks]\nallow_private = true\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), Flags { addr: None }).unwrap();
        assert_eq!(c.mail.tls, MailTls::Tls);
        assert!(c.webhooks.allow_private);
        assert!(!format!("{c:?}").contains("hunter2"));
        std::fs::write(&file, "[mail]\nhost = \"smtp.example.com\"\nfrom = \"nobody\"\n").unwrap();
        assert!(
            Config::load(Some(&file), Flags { addr: None })
                .unwrap_err()
                .contains("mail.from")
        );
    }

    #[test]
    fn bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kefu.toml");
        std::fs::write(&file, "addr = \"not an address\"\n").unwrap();
        let e = Config::load(Some(&file), Flags { addr: None }).unwrap_err();
        assert!(e.contains("addr"), "{e}");
        std::fs::write(&file, "colour = \"red\"\n").unwrap();
        assert!(
            Config::load(Some(&file), Flags { addr: None })
                .unwrap_err()
                .contains("colour")
        );
        assert!(Config::load(Some(&dir.path().join("missing.toml")), Flags { addr: None }).is_err());
    }
}
