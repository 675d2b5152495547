//! Link safety (SPEC §2.8): every link in a chat message is judged against the shop's trusted
//! domains before anyone can click it.
//!
//! A chat message is plain text; the UI makes a link clickable only when [`scan`] found it and
//! judged it [`Verdict::Trusted`] or [`Verdict::Allowed`]. Anything else — flagged links and text
//! the scanner did not take for a link — stays inert text, so a miss here costs a warning, never
//! a click. Flagged links carry their [`Reason`]s so the agent sees why.
//!
//! Domains are compared by registrable domain (the public suffix list, compiled in by `psl`):
//! `ershou.taobao.com.baidu.com` belongs to `baidu.com`, whatever it starts with. Hosts are read
//! with the WHATWG URL parser (`url`), the one browsers follow, so `http://3232235777/`,
//! `http://0xC0A80101/` and `http://taobao.com@evil.com/` resolve here as they would in a browser.
//!
//! The scanner is hand-written rather than `linkify`'s: Chinese text glues links to full-width
//! punctuation and Han characters (`链接：https://…，谢谢`), which linkify takes into the link, and
//! linkify misses IP hosts, `javascript:`/`data:` and finds file names such as `文件名.txt`.
//! Here a link without a scheme must end in a suffix on the public suffix list (`evil.cn/item`,
//! not `1.5kg`, `v2.0` or `文件名.txt`); a dotted IPv4 address without a scheme counts only with a
//! port or a path (`192.168.1.1/admin`), since a bare one is as likely a version number. Hosts
//! written in Han characters without a scheme (`淘宝.com`) are not found: Chinese text has no
//! spaces to tell where such a host starts.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use unicode_security::{RestrictionLevel, RestrictionLevelDetection};
use url::{Host, Url};

/// Short-link services. Where they lead is hidden until clicked and can change afterwards, so
/// they are flagged even if a shop lists one among its trusted domains. Taobao's own share links
/// (`m.tb.cn`) are deliberately not here: they only lead to Taobao and Tmall pages, and buyers
/// paste them all day; a shop that wants them allowed adds `tb.cn` to its trusted domains.
pub const SHORTENERS: &[&str] = &[
    "t.cn",
    "dwz.cn",
    "url.cn",
    "suo.im",
    "suo.nz",
    "bit.ly",
    "tinyurl.com",
    "goo.gl",
    "t.co",
    "ow.ly",
    "is.gd",
    "v.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "t.ly",
    "shorturl.at",
    "rb.gy",
    "tiny.cc",
];

/// Schemes that run or embed content instead of naming a web page; found even without `//`
/// (`javascript:alert(1)`). Other schemes count as links only when written with `//`.
const OPAQUE_SCHEMES: &[&str] = &["javascript", "vbscript", "data", "blob", "file"];

/// The Taobao and Tmall item pages (desktop and mobile), the default item-link forms.
pub const DEFAULT_ITEM_LINK_FORMS: &[&str] = &[
    "https://item.taobao.com/item.htm?id=",
    "https://detail.tmall.com/item.htm?id=",
    "https://h5.m.taobao.com/awp/core/detail.htm?id=",
    "https://detail.m.tmall.com/item.htm?id=",
];

/// What the shop trusts, prepared once so that [`scan`] does no set-up per message.
#[derive(Clone, Debug)]
pub struct LinkPolicy {
    trusted: Vec<TrustedDomain>,
    item_links: Vec<ItemLinkForm>,
}

#[derive(Clone, Debug)]
struct TrustedDomain {
    /// Registrable, lowercase ASCII: `taobao.com`.
    domain: String,
    /// The whole domain's skeleton between dots, `.taobao.corn.`, to find it inside a longer host.
    dotted_skeleton: String,
    /// The skeleton of the part before the public suffix: `taobao`.
    name_skeleton: String,
}

impl LinkPolicy {
    /// Builds the policy from the shop's lists. A trusted entry stands for its registrable
    /// domain — `www.taobao.com` trusts `taobao.com` — because that is the unit a single owner
    /// controls and the unit links are compared by. Entries that settings validation refuses
    /// (no registrable domain, an unparsable item-link form) are left out rather than trusted
    /// in some guessed form; validated settings have none.
    pub fn new(trusted_domains: &[String], item_links: &[String]) -> LinkPolicy {
        let mut trusted: Vec<TrustedDomain> = Vec::new();
        for d in trusted_domains {
            let Some(domain) = registrable_domain(d) else { continue };
            if trusted.iter().any(|t| t.domain == domain) {
                continue;
            }
            let (name, _) = split_name(&domain);
            trusted.push(TrustedDomain {
                dotted_skeleton: format!(".{}.", skeleton_lower(&domain)),
                name_skeleton: skeleton_lower(name),
                domain,
            });
        }
        let item_links = item_links
            .iter()
            .filter_map(|f| ItemLinkForm::parse(f).ok())
            .filter(|f| {
                trusted
                    .iter()
                    .any(|t| Some(t.domain.as_str()) == psl::domain_str(&f.host))
            })
            .collect();
        LinkPolicy { trusted, item_links }
    }

    pub fn from_settings(s: &crate::settings::ShopSettings) -> LinkPolicy {
        LinkPolicy::new(&s.trusted_link_domains, &s.item_link_forms)
    }

    fn is_trusted(&self, domain: &str) -> bool {
        self.trusted.iter().any(|t| t.domain == domain)
    }

    /// The trusted domain an untrusted one imitates, if any: it contains the trusted domain
    /// among its labels (`taobao.com.evil.cn`), or its name before the suffix is confusable
    /// with, one typo away from, or built around a trusted name (`tаobao.com` in Cyrillic,
    /// `tao6ao.com`, `taobao.net`, `taobao-vip.cn`). Names shorter than five letters only count
    /// when confusable, or every short domain would look like `jd.com`.
    ///
    /// `written` is the host as the message spells it: the URL parser lowercases, and `tmaIl.com`
    /// (capital i) only meets `tmall.com` in the skeleton before that.
    fn lookalike(&self, host: &str, written: &str, domain: Option<&str>) -> Option<&str> {
        let hosts = [to_unicode(host).into_owned(), written.to_owned()].map(|h| format!(".{}.", skeleton_lower(&h)));
        if let Some(t) = self
            .trusted
            .iter()
            .find(|t| hosts.iter().any(|h| h.contains(&t.dotted_skeleton)))
        {
            return Some(&t.domain);
        }
        let domain = domain?;
        let (name, _) = split_name(domain);
        let mut names = vec![skeleton_lower(&to_unicode(name))];
        // The same labels of the written host, when it has as many as the parsed one.
        let (written_labels, labels) = (written.split('.').count(), host.split('.').count());
        if written_labels == labels {
            let skip = labels - domain.split('.').count();
            let written_name: Vec<&str> = written.split('.').skip(skip).take(name.split('.').count()).collect();
            names.push(skeleton_lower(&written_name.join(".")));
        }
        self.trusted
            .iter()
            .find(|t| {
                let len = t.name_skeleton.chars().count();
                let typos = match len {
                    0..5 => 0,
                    5..10 => 1,
                    _ => 2,
                };
                names.iter().any(|name| {
                    *name == t.name_skeleton
                        || (len >= 5 && name.contains(&t.name_skeleton))
                        || strsim::damerau_levenshtein(name, &t.name_skeleton) <= typos
                })
            })
            .map(|t| t.domain.as_str())
    }
}

/// A link found in a message and how far it may be trusted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Link {
    /// Byte offset of the link's first character in the scanned text.
    pub start: usize,
    /// Byte offset just past the link's last character.
    pub end: usize,
    /// The link exactly as written (`text[start..end]`).
    pub url: String,
    /// The host a browser would connect to: lowercase, IDN as punycode (so a homograph shows
    /// as `xn--…`), an IP address in its usual form (`3232235777` → `192.168.1.1`), no trailing dot.
    pub host: Option<String>,
    /// The host's registrable domain (`ershou.taobao.com.baidu.com` → `baidu.com`).
    pub domain: Option<String>,
    pub verdict: Verdict,
}

/// How the UI may show a link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// One of the shop's item-link forms: shown as the shop's own.
    Trusted,
    /// On a trusted domain, but not an item link: clickable, not vouched for.
    Allowed,
    /// Shown to the agent with the reasons, never clickable. The most telling reason comes first.
    Flagged { reasons: Vec<Reason> },
}

/// Why a link is flagged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Not `http:` or `https:` (`javascript:`, `data:`, `ftp://`).
    Scheme,
    /// Text before an `@` in the address (`http://taobao.com@evil.com`): the browser opens the
    /// host after it.
    Userinfo,
    /// A raw IPv4 or IPv6 address, in any of the forms browsers accept.
    IpAddress,
    /// The domain imitates this trusted domain.
    Lookalike { of: String },
    /// A label in punycode (`xn--`), the form IDN homographs take.
    Punycode,
    /// A label mixing scripts that look alike (Latin with Cyrillic or Greek).
    MixedScript,
    /// A short-link service hides the destination.
    Shortener,
    /// The registrable domain is not among the shop's trusted domains.
    UntrustedDomain,
    /// Looks like a link but no browser would open it as written.
    Malformed,
}

impl Reason {
    /// For the agent's workbench.
    pub fn message_zh(&self) -> String {
        match self {
            Reason::Scheme => "不是普通网页链接（如 javascript:、data:），请勿打开".into(),
            Reason::Userinfo => "链接在 @ 前藏了文字，实际打开的是 @ 后面的网站".into(),
            Reason::IpAddress => "链接直接指向 IP 地址，而不是网站域名".into(),
            Reason::Lookalike { of } => format!("域名仿冒 {of}，可能是钓鱼链接"),
            Reason::Punycode => "域名含编码的特殊字符（xn--），可能在冒充其他网站".into(),
            Reason::MixedScript => "域名混用了不同文字的字母（如用西里尔字母冒充英文字母）".into(),
            Reason::Shortener => "短链接隐藏了真正的目标网址".into(),
            Reason::UntrustedDomain => "链接不属于本店信任的域名".into(),
            Reason::Malformed => "链接格式有误，无法安全打开".into(),
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            Reason::Scheme => "Not a web link (e.g. javascript:, data:); do not open it".into(),
            Reason::Userinfo => "The link hides text before an @; it opens the site after the @".into(),
            Reason::IpAddress => "The link points at a raw IP address, not a domain".into(),
            Reason::Lookalike { of } => format!("The domain imitates {of}; it may be phishing"),
            Reason::Punycode => "The domain has encoded special characters (xn--) and may imitate another site".into(),
            Reason::MixedScript => {
                "The domain mixes letters of different scripts (e.g. Cyrillic posing as Latin)".into()
            }
            Reason::Shortener => "A short link hides where it really leads".into(),
            Reason::UntrustedDomain => "The link is not on one of the shop's trusted domains".into(),
            Reason::Malformed => "The link is malformed and cannot be opened safely".into(),
        }
    }

    /// Position in a flagged link's list: the most telling reason first.
    fn rank(&self) -> u8 {
        match self {
            Reason::Scheme => 0,
            Reason::Userinfo => 1,
            Reason::IpAddress => 2,
            Reason::Lookalike { .. } => 3,
            Reason::Punycode => 4,
            Reason::MixedScript => 5,
            Reason::Shortener => 6,
            Reason::UntrustedDomain => 7,
            Reason::Malformed => 8,
        }
    }
}

/// Finds the links in a chat message, in order, and judges each against the policy.
pub fn scan(text: &str, policy: &LinkPolicy) -> Vec<Link> {
    let mut links = Vec::new();
    let mut pos = 0;
    let mut prev: Option<char> = None;
    while let Some(c) = text[pos..].chars().next() {
        if c.is_ascii_alphabetic()
            && starts_scheme(prev)
            && let Some(found) = with_scheme(text, pos)
        {
            links.push(judge(text, &found, policy));
            prev = text[..found.end].chars().next_back();
            pos = found.end;
            continue;
        }
        if is_label_char(c) && c != '-' && starts_bare(prev) {
            match bare(text, pos) {
                Ok(found) => {
                    links.push(judge(text, &found, policy));
                    pos = found.end;
                }
                Err(skip_to) => pos = skip_to,
            }
            prev = text[..pos].chars().next_back();
            continue;
        }
        prev = Some(c);
        pos += c.len_utf8();
    }
    links
}

/// A stretch of text taken for a link, before judgement.
struct Found {
    start: usize,
    end: usize,
    /// Lowercase scheme; `None` for a link written without one.
    scheme: Option<String>,
    /// Where host (with any userinfo and port) starts; `None` for `javascript:` and the like.
    authority: Option<usize>,
}

/// `scheme:` followed by slashes (or an opaque scheme's content) starting at `pos`.
fn with_scheme(text: &str, pos: usize) -> Option<Found> {
    let bytes = text.as_bytes();
    let mut i = pos;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'+' | b'-' | b'.')) {
        i += 1;
    }
    if bytes.get(i) != Some(&b':') || i - pos > 32 {
        return None;
    }
    let scheme = text[pos..i].to_ascii_lowercase();
    let after_colon = i + 1;
    let mut j = after_colon;
    while matches!(bytes.get(j), Some(b'/' | b'\\')) {
        j += 1;
    }
    let slashes = j - after_colon;
    // Browsers read `https:/x` and `https:\\x` as `https://x` for these schemes.
    let special = matches!(scheme.as_str(), "http" | "https" | "ftp" | "ws" | "wss" | "file");
    if (special && slashes >= 1) || slashes >= 2 {
        let end = path_end(text, authority_end(text, j));
        let end = trim_end(text, pos, j, end);
        return Some(Found {
            start: pos,
            end,
            scheme: Some(scheme),
            authority: Some(j),
        });
    }
    if OPAQUE_SCHEMES.contains(&scheme.as_str()) {
        let end = text[after_colon..]
            .char_indices()
            .find(|&(_, c)| c.is_whitespace() || is_stop(c))
            .map_or(text.len(), |(k, _)| after_colon + k);
        let end = trim_end(text, pos, after_colon, end);
        // `Data:` followed by a space is a word in a sentence, not a link.
        if end > after_colon {
            return Some(Found {
                start: pos,
                end,
                scheme: Some(scheme),
                authority: None,
            });
        }
    }
    None
}

/// A link written without a scheme, starting at `pos`; or, when there is none, where the
/// token that is not one ends, so the scan does not retry inside it.
fn bare(text: &str, pos: usize) -> Result<Found, usize> {
    let host_end = label_run_end(text, pos);
    let host = text[pos..host_end].trim_end_matches('.');
    let mut authority_end = host_end;
    if text[host_end..].starts_with('@') {
        // `taobao.com@evil.com` opens evil.com; `kefu@evil.com` is an e-mail address, not a link.
        let after = host_end + 1;
        let other_end = label_run_end(text, after);
        let other = text[after..other_end].trim_end_matches('.');
        if !(has_known_suffix(host) && has_known_suffix(other)) {
            return Err(other_end.max(after));
        }
        authority_end = after + other.len();
    }
    let is_domain = authority_end > host_end || has_known_suffix(host);
    let mut end = authority_end;
    let port_digits = text[end..]
        .strip_prefix(':')
        .map_or(0, |rest| rest.bytes().take_while(u8::is_ascii_digit).count());
    if (1..=5).contains(&port_digits) {
        end += 1 + port_digits;
    }
    let has_path = matches!(text.as_bytes().get(end), Some(b'/' | b'?' | b'#'));
    let ip_with_more = is_dotted_ipv4(host) && (has_path || end > authority_end);
    if !(is_domain || ip_with_more) {
        return Err(host_end);
    }
    let end = trim_end(text, pos, pos, path_end(text, end));
    Ok(Found {
        start: pos,
        end,
        scheme: None,
        authority: Some(pos),
    })
}

/// Decides the verdict of one found link.
fn judge(text: &str, found: &Found, policy: &LinkPolicy) -> Link {
    let mut reasons = Vec::new();
    if found.scheme.as_deref().is_some_and(|s| s != "http" && s != "https") {
        reasons.push(Reason::Scheme);
    }
    let mut host = None;
    let mut domain = None;
    let mut item_link = false;
    if let Some(authority) = found.authority {
        // Read every authority as http's (https's for https, whose default port differs), so a
        // host means the same whatever the scheme and however many slashes precede it.
        let scheme = if found.scheme.as_deref() == Some("https") {
            "https"
        } else {
            "http"
        };
        match Url::parse(&format!("{scheme}://{}", &text[authority..found.end])) {
            Err(_) => reasons.push(Reason::Malformed),
            Ok(url) => {
                if !url.username().is_empty() || url.password().is_some() {
                    reasons.push(Reason::Userinfo);
                }
                match url.host() {
                    None => reasons.push(Reason::Malformed),
                    Some(Host::Ipv4(ip)) => {
                        host = Some(ip.to_string());
                        reasons.push(Reason::IpAddress);
                    }
                    Some(Host::Ipv6(ip)) => {
                        host = Some(ip.to_string());
                        reasons.push(Reason::IpAddress);
                    }
                    Some(Host::Domain(name)) => {
                        let name = name.trim_end_matches('.');
                        domain = psl::domain_str(name).map(str::to_owned);
                        let written = written_host(&text[authority..found.end]);
                        judge_domain(name, written, domain.as_deref(), policy, &mut reasons);
                        item_link = reasons.is_empty() && policy.item_links.iter().any(|f| f.matches(name, &url));
                        host = Some(name.to_owned());
                    }
                }
            }
        }
    }
    reasons.sort_by_key(Reason::rank);
    reasons.dedup();
    let verdict = if !reasons.is_empty() {
        Verdict::Flagged { reasons }
    } else if item_link {
        Verdict::Trusted
    } else {
        Verdict::Allowed
    };
    Link {
        start: found.start,
        end: found.end,
        url: text[found.start..found.end].to_owned(),
        host,
        domain,
        verdict,
    }
}

/// The checks on a host name (lowercase ASCII, as the URL parser leaves it).
fn judge_domain(host: &str, written: &str, domain: Option<&str>, policy: &LinkPolicy, reasons: &mut Vec<Reason>) {
    if host.split('.').any(|label| label.starts_with("xn--")) {
        reasons.push(Reason::Punycode);
    }
    // Han with Latin (`淘宝.com`, `天猫shop`) is ordinary; Latin with Cyrillic or Greek is the
    // homograph trick, and such a level is above "highly restrictive" (UTS #39).
    if to_unicode(host)
        .split('.')
        .any(|label| label.detect_restriction_level() > RestrictionLevel::HighlyRestrictive)
    {
        reasons.push(Reason::MixedScript);
    }
    if domain.is_some_and(|d| SHORTENERS.contains(&d)) {
        reasons.push(Reason::Shortener);
    }
    if !domain.is_some_and(|d| policy.is_trusted(d)) {
        if let Some(of) = policy.lookalike(host, written, domain) {
            reasons.push(Reason::Lookalike { of: of.to_owned() });
        }
        reasons.push(Reason::UntrustedDomain);
    }
}

/// One of the shop's item-link forms: `https://item.taobao.com/item.htm?id=` matches a link on
/// exactly that host and path whose query gives `id` a value; other parameters (`spm=…`) and the
/// scheme (http or https) do not matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ItemLinkForm {
    host: String,
    path: String,
    params: Vec<String>,
}

impl ItemLinkForm {
    /// Reads a form as the shop writes it; the error says what is wrong with it.
    pub(crate) fn parse(form: &str) -> Result<ItemLinkForm, String> {
        let lower = form.trim().to_ascii_lowercase();
        let rest = ["https://", "http://"]
            .iter()
            .find_map(|s| lower.starts_with(s).then(|| &form.trim()[s.len()..]))
            .unwrap_or(form.trim());
        let url = Url::parse(&format!("https://{rest}")).map_err(|e| format!("is not a web address ({e})"))?;
        let Some(Host::Domain(host)) = url.host() else {
            return Err("must name a host such as item.taobao.com, not an IP address".into());
        };
        if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
            return Err("must not have a user name, password or port".into());
        }
        if url.fragment().is_some() {
            return Err("must not have a #fragment".into());
        }
        if url.path() == "/" {
            return Err("must have the item page's path, such as /item.htm".into());
        }
        let params: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        if params.is_empty() {
            return Err("must name the item's parameter, such as ?id=".into());
        }
        if url.query_pairs().any(|(k, v)| k.is_empty() || !v.is_empty()) {
            return Err("must name parameters without values, such as ?id= (the value is the item's)".into());
        }
        Ok(ItemLinkForm {
            host: host.trim_end_matches('.').to_owned(),
            path: url.path().to_owned(),
            params,
        })
    }

    /// The form's host, lowercase ASCII.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    fn matches(&self, host: &str, url: &Url) -> bool {
        host == self.host
            && url.port().is_none()
            && url.path() == self.path
            && self
                .params
                .iter()
                .all(|p| url.query_pairs().any(|(k, v)| k == p.as_str() && !v.is_empty()))
    }
}

/// The host as written in an authority (`user@Host.com:80/x` → `Host.com`).
fn written_host(authority: &str) -> &str {
    let authority = authority.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    host.split(':').next().unwrap_or_default().trim_end_matches('.')
}

/// The registrable domain of a host name as a shop writes it (`www.taobao.com` → `taobao.com`),
/// lowercase ASCII; `None` for a public suffix itself (`com.cn`) or something that is no host.
pub(crate) fn registrable_domain(host: &str) -> Option<String> {
    let ascii = idna::domain_to_ascii(host.trim().trim_end_matches('.')).ok()?;
    psl::domain_str(&ascii).map(str::to_owned)
}

/// `taobao.com` → (`taobao`, `com`); `taobao.com.cn` → (`taobao`, `com.cn`).
fn split_name(domain: &str) -> (&str, &str) {
    let suffix_len = psl::suffix_str(domain).map_or(0, str::len);
    match domain.len().checked_sub(suffix_len + 1) {
        Some(n) if suffix_len > 0 => (&domain[..n], &domain[n + 1..]),
        _ => (domain, ""),
    }
}

/// The UTS #39 confusable skeleton, lowercased: `tаobao` (Cyrillic а) and `taobao` meet, and so
/// do `taoba0` and `taobao` (the skeleton maps `0` to `O`, which lowercasing makes `o`).
fn skeleton_lower(s: &str) -> String {
    unicode_security::skeleton(s).flat_map(char::to_lowercase).collect()
}

fn to_unicode(host: &str) -> Cow<'_, str> {
    if host.split('.').any(|l| l.starts_with("xn--")) {
        Cow::Owned(idna::domain_to_unicode(host).0)
    } else {
        Cow::Borrowed(host)
    }
}

/// Whether a dotted name without a scheme is a host: at least two labels, ending in a suffix on
/// the public suffix list, with a registrable domain. This is what keeps `1.5kg`, `v2.0`,
/// `e.g.` and `文件名.txt` from being taken for links.
fn has_known_suffix(name: &str) -> bool {
    if !name.contains('.') || name.split('.').any(str::is_empty) {
        return false;
    }
    let Ok(ascii) = idna::domain_to_ascii(name) else {
        return false;
    };
    psl::suffix(ascii.as_bytes()).is_some_and(|s| s.is_known()) && psl::domain(ascii.as_bytes()).is_some()
}

fn is_dotted_ipv4(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Where the host part (with any userinfo and port) of a link with a scheme ends.
fn authority_end(text: &str, from: usize) -> usize {
    let mut prev_ascii_alnum = false;
    for (k, c) in text[from..].char_indices() {
        // A Han character right after a Latin letter or digit starts the sentence again
        // (`https://a.cn谢谢`), while `https://淘宝.com` keeps its Han host.
        let glued_han = prev_ascii_alnum && is_cjk(c);
        if c.is_whitespace() || is_stop(c) || matches!(c, '/' | '\\' | '?' | '#' | '<' | '>' | '"' | '`') || glued_han {
            return from + k;
        }
        prev_ascii_alnum = c.is_ascii_alphanumeric();
    }
    text.len()
}

/// Where a path, query and fragment starting at `from` end: at the first space or non-ASCII
/// character, since Chinese text follows a link without a space and browsers percent-encode
/// what they copy.
fn path_end(text: &str, from: usize) -> usize {
    if !matches!(text.as_bytes().get(from), Some(b'/' | b'\\' | b'?' | b'#')) {
        return from;
    }
    text[from..]
        .char_indices()
        .find(|&(_, c)| !c.is_ascii_graphic() || matches!(c, '<' | '>' | '"' | '`'))
        .map_or(text.len(), |(k, _)| from + k)
}

/// Drops sentence punctuation after a link (`see http://a.cn/x.`), and closing brackets that
/// close something opened before the link (`(http://a.cn/x)`), but keeps balanced ones
/// (`/wiki/Foo_(bar)`). Never cuts below `floor`.
fn trim_end(text: &str, start: usize, floor: usize, mut end: usize) -> usize {
    const PAIRS: [(u8, u8); 3] = [(b'(', b')'), (b'[', b']'), (b'{', b'}')];
    // Net closers per pair, counted once: a link ending in thousands of `)` stays linear.
    let mut excess = PAIRS.map(|(open, close)| {
        text.as_bytes()[start..end]
            .iter()
            .fold(0i64, |n, &b| n + i64::from(b == close) - i64::from(b == open))
    });
    while end > floor {
        let c = text.as_bytes()[end - 1];
        let drop = match PAIRS.iter().position(|&(_, close)| close == c) {
            Some(k) if excess[k] > 0 => {
                excess[k] -= 1;
                true
            }
            Some(_) => false,
            None => matches!(c, b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\'' | b'"' | b'*'),
        };
        if !drop {
            break;
        }
        end -= 1;
    }
    end
}

/// End of a run of host-name characters and dots (`www.evil.cn` in `www.evil.cn/x`).
fn label_run_end(text: &str, from: usize) -> usize {
    text[from..]
        .char_indices()
        .find(|&(_, c)| !(is_label_char(c) || c == '.'))
        .map_or(text.len(), |(k, _)| from + k)
}

/// A character of a host label written without a scheme: ASCII letters, digits and `-`, and
/// letters of other alphabets (so `tаobao.com` with a Cyrillic а is found). Han, kana, hangul
/// and full-width forms are left out: they are the sentence around the link.
fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric() && !is_cjk(c))
}

/// Whether a link with a scheme may start after `prev`: not inside a word.
fn starts_scheme(prev: Option<char>) -> bool {
    prev.is_none_or(|p| !is_label_char(p) && !matches!(p, '+' | '.' | '_'))
}

/// Whether a link without a scheme may start after `prev`: not inside a word, an e-mail address
/// (`@`), or the path or query of something else.
fn starts_bare(prev: Option<char>) -> bool {
    prev.is_none_or(|p| {
        !is_label_char(p)
            && !matches!(
                p,
                '@' | '.' | '_' | '/' | '\\' | '%' | '#' | '&' | '=' | '+' | '~' | '$'
            )
    })
}

/// Punctuation and symbols outside ASCII (`，。：）」》、`, the ideographic space): never part
/// of a link, whatever IDNA would make of them (it maps `。` to a dot).
fn is_stop(c: char) -> bool {
    c.is_control() || (!c.is_ascii() && !c.is_alphanumeric())
}

/// Han, kana, hangul, CJK symbols and full-width forms.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF
        | 0x2E80..=0x9FFF
        | 0xA960..=0xA97F
        | 0xAC00..=0xD7FF
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFFEF
        | 0x20000..=0x3FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Reason::*;

    fn policy() -> LinkPolicy {
        LinkPolicy::from_settings(&crate::settings::ShopSettings::default())
    }

    fn flagged(reasons: &[Reason]) -> Verdict {
        Verdict::Flagged {
            reasons: reasons.to_vec(),
        }
    }

    fn lookalike(of: &str) -> Reason {
        Lookalike { of: of.into() }
    }

    /// A link as (as written, host, verdict).
    type Expected<'a> = (&'a str, Option<&'a str>, Verdict);

    /// Each case: a message, and the links it holds.
    #[test]
    fn judges_every_kind_of_link() {
        let cases: Vec<(&str, Vec<Expected>)> = vec![
            // The shop's item links, and other pages on trusted domains.
            (
                "看这个链接：https://item.taobao.com/item.htm?id=1，谢谢",
                vec![(
                    "https://item.taobao.com/item.htm?id=1",
                    Some("item.taobao.com"),
                    Verdict::Trusted,
                )],
            ),
            (
                "https://detail.tmall.com/item.htm?spm=a1z10.1&id=5201314&ns=1#detail",
                vec![(
                    "https://detail.tmall.com/item.htm?spm=a1z10.1&id=5201314&ns=1#detail",
                    Some("detail.tmall.com"),
                    Verdict::Trusted,
                )],
            ),
            (
                "http://item.taobao.com/item.htm?id=9",
                vec![(
                    "http://item.taobao.com/item.htm?id=9",
                    Some("item.taobao.com"),
                    Verdict::Trusted,
                )],
            ),
            (
                "item.taobao.com/item.htm?id=3 拍这个",
                vec![(
                    "item.taobao.com/item.htm?id=3",
                    Some("item.taobao.com"),
                    Verdict::Trusted,
                )],
            ),
            (
                "https://item.taobao.com/item.htm 没有 id",
                vec![(
                    "https://item.taobao.com/item.htm",
                    Some("item.taobao.com"),
                    Verdict::Allowed,
                )],
            ),
            (
                "https://item.taobao.com/item.htm?id=",
                vec![(
                    "https://item.taobao.com/item.htm?id=",
                    Some("item.taobao.com"),
                    Verdict::Allowed,
                )],
            ),
            (
                "https://taobao.com/item.htm?id=1",
                vec![("https://taobao.com/item.htm?id=1", Some("taobao.com"), Verdict::Allowed)],
            ),
            (
                "店铺 https://shop123.taobao.com/?spm=1 和 www.tmall.com",
                vec![
                    (
                        "https://shop123.taobao.com/?spm=1",
                        Some("shop123.taobao.com"),
                        Verdict::Allowed,
                    ),
                    ("www.tmall.com", Some("www.tmall.com"), Verdict::Allowed),
                ],
            ),
            // Upper case, trailing dots, ports.
            (
                "HTTPS://ITEM.TAOBAO.COM/item.htm?id=7",
                vec![(
                    "HTTPS://ITEM.TAOBAO.COM/item.htm?id=7",
                    Some("item.taobao.com"),
                    Verdict::Trusted,
                )],
            ),
            (
                "WWW.TAOBAO.COM",
                vec![("WWW.TAOBAO.COM", Some("www.taobao.com"), Verdict::Allowed)],
            ),
            (
                "https://item.taobao.com./item.htm?id=1",
                vec![(
                    "https://item.taobao.com./item.htm?id=1",
                    Some("item.taobao.com"),
                    Verdict::Trusted,
                )],
            ),
            (
                "访问 www.taobao.com. 就行",
                vec![("www.taobao.com", Some("www.taobao.com"), Verdict::Allowed)],
            ),
            (
                "https://item.taobao.com:443/item.htm?id=1",
                vec![(
                    "https://item.taobao.com:443/item.htm?id=1",
                    Some("item.taobao.com"),
                    Verdict::Trusted,
                )],
            ),
            (
                "https://item.taobao.com:8443/item.htm?id=1",
                vec![(
                    "https://item.taobao.com:8443/item.htm?id=1",
                    Some("item.taobao.com"),
                    Verdict::Allowed,
                )],
            ),
            (
                "evil.cn:8080/x",
                vec![("evil.cn:8080/x", Some("evil.cn"), flagged(&[UntrustedDomain]))],
            ),
            (
                "http://evil.cn:99999/",
                vec![("http://evil.cn:99999/", None, flagged(&[Malformed]))],
            ),
            // Trusted names inside a foreign registrable domain.
            (
                "二手的看 ershou.taobao.com.baidu.com",
                vec![(
                    "ershou.taobao.com.baidu.com",
                    Some("ershou.taobao.com.baidu.com"),
                    flagged(&[lookalike("taobao.com"), UntrustedDomain]),
                )],
            ),
            (
                "https://taobao.com.evil.cn/item.htm?id=1",
                vec![(
                    "https://taobao.com.evil.cn/item.htm?id=1",
                    Some("taobao.com.evil.cn"),
                    flagged(&[lookalike("taobao.com"), UntrustedDomain]),
                )],
            ),
            // Userinfo: the browser opens what follows the @.
            (
                "http://taobao.com@evil.com/item.htm?id=1",
                vec![(
                    "http://taobao.com@evil.com/item.htm?id=1",
                    Some("evil.com"),
                    flagged(&[Userinfo, UntrustedDomain]),
                )],
            ),
            (
                "taobao.com@evil.com",
                vec![(
                    "taobao.com@evil.com",
                    Some("evil.com"),
                    flagged(&[Userinfo, UntrustedDomain]),
                )],
            ),
            (
                "http://item.taobao.com:pw@item.taobao.com/item.htm?id=1",
                vec![(
                    "http://item.taobao.com:pw@item.taobao.com/item.htm?id=1",
                    Some("item.taobao.com"),
                    flagged(&[Userinfo]),
                )],
            ),
            (
                "http://evil.com#@taobao.com",
                vec![(
                    "http://evil.com#@taobao.com",
                    Some("evil.com"),
                    flagged(&[UntrustedDomain]),
                )],
            ),
            (
                "http:\\\\evil.cn\\@taobao.com",
                vec![(
                    "http:\\\\evil.cn\\@taobao.com",
                    Some("evil.cn"),
                    flagged(&[UntrustedDomain]),
                )],
            ),
            // Homographs: punycode, Cyrillic letters, confusable and misspelt names.
            (
                "http://xn--tobao-4ve.com/",
                vec![(
                    "http://xn--tobao-4ve.com/",
                    Some("xn--tobao-4ve.com"),
                    flagged(&[lookalike("taobao.com"), Punycode, MixedScript, UntrustedDomain]),
                )],
            ),
            (
                "快来 https://tаobao.com/item.htm?id=1 领券",
                vec![(
                    "https://tаobao.com/item.htm?id=1",
                    Some("xn--tobao-4ve.com"),
                    flagged(&[lookalike("taobao.com"), Punycode, MixedScript, UntrustedDomain]),
                )],
            ),
            (
                "tаobao.com",
                vec![(
                    "tаobao.com",
                    Some("xn--tobao-4ve.com"),
                    flagged(&[lookalike("taobao.com"), Punycode, MixedScript, UntrustedDomain]),
                )],
            ),
            (
                "http://xn--80ak6aa92e.com",
                vec![(
                    "http://xn--80ak6aa92e.com",
                    Some("xn--80ak6aa92e.com"),
                    flagged(&[Punycode, UntrustedDomain]),
                )],
            ),
            (
                "http://淘宝.com/",
                vec![(
                    "http://淘宝.com/",
                    Some("xn--pbt173b.com"),
                    flagged(&[Punycode, UntrustedDomain]),
                )],
            ),
            (
                "tao6ao.com",
                vec![(
                    "tao6ao.com",
                    Some("tao6ao.com"),
                    flagged(&[lookalike("taobao.com"), UntrustedDomain]),
                )],
            ),
            (
                "https://taoba0.com/item",
                vec![(
                    "https://taoba0.com/item",
                    Some("taoba0.com"),
                    flagged(&[lookalike("taobao.com"), UntrustedDomain]),
                )],
            ),
            (
                "http://tmaIl.com",
                vec![(
                    "http://tmaIl.com",
                    Some("tmail.com"),
                    flagged(&[lookalike("tmall.com"), UntrustedDomain]),
                )],
            ),
            (
                "https://rnall.tmall-vip.cn/",
                vec![(
                    "https://rnall.tmall-vip.cn/",
                    Some("rnall.tmall-vip.cn"),
                    flagged(&[lookalike("tmall.com"), UntrustedDomain]),
                )],
            ),
            (
                "taobao.cn 和 taobao.com.cn",
                vec![
                    (
                        "taobao.cn",
                        Some("taobao.cn"),
                        flagged(&[lookalike("taobao.com"), UntrustedDomain]),
                    ),
                    (
                        "taobao.com.cn",
                        Some("taobao.com.cn"),
                        flagged(&[lookalike("taobao.com"), UntrustedDomain]),
                    ),
                ],
            ),
            (
                "https://www.alipay.com/",
                vec![(
                    "https://www.alipay.com/",
                    Some("www.alipay.com"),
                    flagged(&[UntrustedDomain]),
                )],
            ),
            // Raw IP addresses, in the forms browsers accept.
            (
                "http://192.168.1.1/admin",
                vec![("http://192.168.1.1/admin", Some("192.168.1.1"), flagged(&[IpAddress]))],
            ),
            (
                "http://3232235777/",
                vec![("http://3232235777/", Some("192.168.1.1"), flagged(&[IpAddress]))],
            ),
            (
                "http://0xC0A80101/x",
                vec![("http://0xC0A80101/x", Some("192.168.1.1"), flagged(&[IpAddress]))],
            ),
            (
                "http://0300.0250.1.1",
                vec![("http://0300.0250.1.1", Some("192.168.1.1"), flagged(&[IpAddress]))],
            ),
            (
                "http://[::1]:8080/x",
                vec![("http://[::1]:8080/x", Some("::1"), flagged(&[IpAddress]))],
            ),
            (
                "登录 10.0.0.1:8080 或 192.168.1.1/admin",
                vec![
                    ("10.0.0.1:8080", Some("10.0.0.1"), flagged(&[IpAddress])),
                    ("192.168.1.1/admin", Some("192.168.1.1"), flagged(&[IpAddress])),
                ],
            ),
            // Short links.
            (
                "https://t.cn/A6abc",
                vec![(
                    "https://t.cn/A6abc",
                    Some("t.cn"),
                    flagged(&[Shortener, UntrustedDomain]),
                )],
            ),
            (
                "bit.ly/3xyz",
                vec![("bit.ly/3xyz", Some("bit.ly"), flagged(&[Shortener, UntrustedDomain]))],
            ),
            (
                "【淘宝】https://m.tb.cn/h.5abc 复制打开",
                vec![("https://m.tb.cn/h.5abc", Some("m.tb.cn"), flagged(&[UntrustedDomain]))],
            ),
            // Other schemes.
            (
                "点我 javascript:alert(1)",
                vec![("javascript:alert(1)", None, flagged(&[Scheme]))],
            ),
            (
                "JavaScript:void(0)",
                vec![("JavaScript:void(0)", None, flagged(&[Scheme]))],
            ),
            (
                "data:text/html;base64,PHNjcmlwdD4=",
                vec![("data:text/html;base64,PHNjcmlwdD4=", None, flagged(&[Scheme]))],
            ),
            (
                "ftp://taobao.com/x",
                vec![("ftp://taobao.com/x", Some("taobao.com"), flagged(&[Scheme]))],
            ),
            // Without a scheme.
            (
                "www.evil.cn/x 和 evil.cn/item",
                vec![
                    ("www.evil.cn/x", Some("www.evil.cn"), flagged(&[UntrustedDomain])),
                    ("evil.cn/item", Some("evil.cn"), flagged(&[UntrustedDomain])),
                ],
            ),
            (
                "请访问evil.cn/item谢谢",
                vec![("evil.cn/item", Some("evil.cn"), flagged(&[UntrustedDomain]))],
            ),
            (
                "https://www.taobao.com谢谢",
                vec![("https://www.taobao.com", Some("www.taobao.com"), Verdict::Allowed)],
            ),
            // Punctuation around links.
            (
                "（https://a.taobao.com/x）。",
                vec![("https://a.taobao.com/x", Some("a.taobao.com"), Verdict::Allowed)],
            ),
            (
                "(see https://www.taobao.com/a_(b)) and https://www.taobao.com/c.",
                vec![
                    ("https://www.taobao.com/a_(b)", Some("www.taobao.com"), Verdict::Allowed),
                    ("https://www.taobao.com/c", Some("www.taobao.com"), Verdict::Allowed),
                ],
            ),
            (
                "「https://t.cn/abc」《m.tb.cn/h.xyz》",
                vec![
                    ("https://t.cn/abc", Some("t.cn"), flagged(&[Shortener, UntrustedDomain])),
                    ("m.tb.cn/h.xyz", Some("m.tb.cn"), flagged(&[UntrustedDomain])),
                ],
            ),
            (
                "链接:https://www.taobao.com/x?a=1&b=2!",
                vec![(
                    "https://www.taobao.com/x?a=1&b=2",
                    Some("www.taobao.com"),
                    Verdict::Allowed,
                )],
            ),
            // Several links in one message.
            (
                "先看 https://item.taobao.com/item.htm?id=1 再看 evil.cn/x，或者 https://t.cn/abc。",
                vec![
                    (
                        "https://item.taobao.com/item.htm?id=1",
                        Some("item.taobao.com"),
                        Verdict::Trusted,
                    ),
                    ("evil.cn/x", Some("evil.cn"), flagged(&[UntrustedDomain])),
                    ("https://t.cn/abc", Some("t.cn"), flagged(&[Shortener, UntrustedDomain])),
                ],
            ),
            // Not links.
            ("", vec![]),
            ("你好，请问有货吗？", vec![]),
            ("重1.5kg，v2.0 版本，3.5寸屏，12.5元。", vec![]),
            ("e.g. i.e. Mr.Smith No.1 版本 1.2.3.4", vec![]),
            ("文件名.txt 和 照片.jpg", vec![]),
            ("邮箱 kefu@qq.com 或 li.lei@xiaomianao.cn", vec![]),
            ("Data: 3 items; javascript: 一种语言; http:", vec![]),
        ];
        let policy = policy();
        let mut wrong = Vec::new();
        for (text, expected) in cases {
            let links = scan(text, &policy);
            for l in &links {
                assert_eq!(&text[l.start..l.end], l.url, "offsets of {:?} in {text:?}", l.url);
                let is_ip = |h: &&str| h.parse::<std::net::IpAddr>().is_ok();
                let domain = l.host.as_deref().filter(|h| !is_ip(h)).and_then(psl::domain_str);
                assert_eq!(l.domain.as_deref(), domain, "registrable domain of {:?}", l.url);
            }
            let got: Vec<Expected> = links
                .iter()
                .map(|l| (l.url.as_str(), l.host.as_deref(), l.verdict.clone()))
                .collect();
            if got != expected {
                wrong.push(format!("in {text:?}\n   got {got:?}\n  want {expected:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn offsets_are_bytes_in_the_text() {
        let text = "看这个链接：https://item.taobao.com/item.htm?id=1，谢谢";
        let links = scan(text, &policy());
        assert_eq!((links[0].start, links[0].end), (18, 55));
        assert_eq!(&text[55..], "，谢谢");
        assert_eq!(links[0].domain.as_deref(), Some("taobao.com"));
    }

    #[test]
    fn a_trusted_host_stands_for_its_registrable_domain() {
        let policy = LinkPolicy::new(&["www.taobao.com".into(), "WWW.Tmall.com.".into()], &[]);
        let verdicts: Vec<Verdict> = scan(
            "https://item.taobao.com/item.htm?id=1 https://detail.tmall.com/item.htm?id=1",
            &policy,
        )
        .into_iter()
        .map(|l| l.verdict)
        .collect();
        // Trusted domains without item-link forms: allowed, never vouched for.
        assert_eq!(verdicts, [Verdict::Allowed, Verdict::Allowed]);
    }

    #[test]
    fn item_link_forms_are_the_shops_own() {
        let policy = LinkPolicy::new(
            &["xiaomianao.cn".into()],
            &[
                "xiaomianao.cn/p/detail?sku=".into(),
                // Not on a trusted domain: ignored rather than trusting the domain through it.
                "https://item.jd.com/x.html?id=".into(),
                "not a form".into(),
            ],
        );
        let verdicts: Vec<Verdict> = scan(
            "https://xiaomianao.cn/p/detail?sku=BB-1 https://xiaomianao.cn/p/detail?id=1 \
             https://item.taobao.com/item.htm?id=1 https://item.jd.com/x.html?id=1",
            &policy,
        )
        .into_iter()
        .map(|l| l.verdict)
        .collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Trusted,
                Verdict::Allowed,
                flagged(&[UntrustedDomain]),
                flagged(&[UntrustedDomain]),
            ]
        );
    }

    #[test]
    fn a_shortener_stays_flagged_even_when_trusted() {
        let policy = LinkPolicy::new(&["t.cn".into()], &[]);
        assert_eq!(scan("https://t.cn/x", &policy)[0].verdict, flagged(&[Shortener]));
    }

    #[test]
    fn verdicts_serialise_for_the_ui() {
        let link = &scan("http://taobao.com@evil.com/", &policy())[0];
        assert_eq!(
            serde_json::to_value(link).unwrap(),
            serde_json::json!({
                "start": 0, "end": 27, "url": "http://taobao.com@evil.com/",
                "host": "evil.com", "domain": "evil.com",
                "verdict": {"kind": "flagged", "reasons": [{"kind": "userinfo"}, {"kind": "untrusted_domain"}]}
            })
        );
        assert_eq!(
            serde_json::to_value(lookalike("taobao.com")).unwrap(),
            serde_json::json!({"kind": "lookalike", "of": "taobao.com"})
        );
        assert_eq!(
            serde_json::to_value(Verdict::Trusted).unwrap(),
            serde_json::json!({"kind": "trusted"})
        );
        let back: Link = serde_json::from_value(serde_json::to_value(link).unwrap()).unwrap();
        assert_eq!(&back, link);
    }

    #[test]
    fn every_reason_explains_itself_in_both_languages() {
        for r in [
            Scheme,
            Userinfo,
            IpAddress,
            lookalike("taobao.com"),
            Punycode,
            MixedScript,
            Shortener,
            UntrustedDomain,
            Malformed,
        ] {
            let (zh, en) = (r.message_zh(), r.message_en());
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{zh}");
            assert!(en.is_ascii() && en.len() > 20, "{en}");
            if let Lookalike { of } = &r {
                assert!(zh.contains(of.as_str()) && en.contains(of.as_str()));
            }
        }
    }

    #[test]
    fn long_messages_scan_in_linear_time() {
        let text = "亲，1.5kg 的 v2.0 款在 https://item.taobao.com/item.htm?id=1 有货，www.evil.cn 别点。".repeat(2000);
        let started = std::time::Instant::now();
        let links = scan(&text, &policy());
        assert_eq!(links.len(), 4000);
        assert!(started.elapsed().as_secs() < 2, "{:?}", started.elapsed());
        let dots = "a.".repeat(50_000);
        assert!(scan(&dots, &policy()).is_empty());
        let closers = format!("https://www.taobao.com/x{}", ")".repeat(100_000));
        assert_eq!(scan(&closers, &policy())[0].url, "https://www.taobao.com/x");
        assert!(started.elapsed().as_secs() < 4, "{:?}", started.elapsed());
    }
}
