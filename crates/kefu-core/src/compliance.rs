//! Compliance guard (违规提醒, SPEC §2.9): what an agent's message must not say, found before it
//! is sent. The platform's rules and advertising law forbid four things in a seller's chat:
//!
//! - **another buyer's phone or address** (泄露他人信息): any phone number or street address in
//!   the text that is not this chat's buyer's own ([`BuyerContact`]: their record, their orders'
//!   addresses, and what they wrote themselves in the chat);
//! - **off-platform contact or payment** (站外联系/私下交易): 微信, QQ and their ids, `vx`, 加我…,
//!   bank card numbers, 转账, 私下交易, 支付宝转我 …;
//! - **absolute claims** (极限词) that the advertising law (广告法第九条) forbids: 最好, 第一,
//!   国家级, 100% … — the shop's own list ([`ComplianceSettings::banned_words`]), with phrases
//!   that only look like one (第一时间, 100%纯棉) exempt;
//! - **promises the shop cannot keep** (违背承诺): returns beyond the shop's window (随时退,
//!   30天包退 when the rule is [`crate::aftersales::NO_REASON_DAYS`] days), and a guaranteed
//!   delivery date (明天一定到): the carrier decides that, not the shop.
//!
//! [`check`] is a pure function of the text, the shop's [`Policy`] and the buyer's contact
//! data; every [`Finding`] has its kind, the byte range it covers in the text as written and a
//! Chinese explanation for the agent. Numbers are read the way people write them to dodge a
//! filter: full-width digits (１３８…), Chinese digits (一三八…, 壹贰叁, 幺), and digits split by
//! spaces, dashes or dots (138 1234 5678). The checks err on the side of warning: a shop that
//! blocks instead of warning ([`Mode::Block`]) accepts that a harmless sentence is sometimes
//! refused and rephrased.

use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// What the guard does with a message that has findings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Sent, and the agent is shown why it should not have been (default).
    #[default]
    Warn,
    /// Refused: nothing is sent or stored until the agent rephrases.
    Block,
}

/// Shop setting `compliance`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceSettings {
    pub mode: Mode,
    /// Absolute claims (极限词) agents must not use, matched ignoring case and full-width forms.
    pub banned_words: Vec<String>,
    /// Phrases that contain a banned word but say nothing absolute (第一时间, 100%纯棉): a banned
    /// word inside one of them is not a finding.
    pub exempt_phrases: Vec<String>,
}

/// The advertising law's best-known absolute words (广告法第九条第三项 and the platforms' lists).
pub const DEFAULT_BANNED_WORDS: &[&str] = &[
    "最好",
    "最佳",
    "最优",
    "最强",
    "最高级",
    "最高档",
    "最顶级",
    "最低价",
    "最便宜",
    "最先进",
    "最畅销",
    "第一",
    "唯一",
    "首选",
    "国家级",
    "世界级",
    "顶级",
    "顶尖",
    "极品",
    "100%",
    "百分之百",
    "百分百",
    "绝对",
    "万能",
    "史无前例",
    "独一无二",
    "全网最低",
    "销量冠军",
];

/// Everyday phrases that contain a default banned word.
pub const DEFAULT_EXEMPT_PHRASES: &[&str] = &[
    "第一时间",
    "第一次",
    "第一步",
    "第一天",
    "第一件",
    "第一个",
    "第一单",
    "100%棉",
    "100%纯棉",
    "100%全棉",
];

impl Default for ComplianceSettings {
    fn default() -> Self {
        ComplianceSettings {
            mode: Mode::Warn,
            banned_words: DEFAULT_BANNED_WORDS.iter().map(|w| (*w).to_owned()).collect(),
            exempt_phrases: DEFAULT_EXEMPT_PHRASES.iter().map(|w| (*w).to_owned()).collect(),
        }
    }
}

pub const MAX_WORDS: usize = 300;
pub const MAX_WORD_CHARS: usize = 20;

impl ComplianceSettings {
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (name, list) in [
            ("compliance.banned_words", &self.banned_words),
            ("compliance.exempt_phrases", &self.exempt_phrases),
        ] {
            if list.len() > MAX_WORDS {
                return Err(ValidationError::new(name, format!("list at most {MAX_WORDS} entries")));
            }
            let mut seen: Vec<String> = Vec::new();
            for (i, w) in list.iter().enumerate() {
                let field = format!("{name}[{i}]");
                let n = w.trim().chars().count();
                if n == 0 {
                    return Err(ValidationError::new(field, "must not be empty"));
                }
                if n > MAX_WORD_CHARS {
                    return Err(ValidationError::new(
                        field,
                        format!("is longer than {MAX_WORD_CHARS} characters"),
                    ));
                }
                if w.chars().any(char::is_control) {
                    return Err(ValidationError::new(field, "must not contain control characters"));
                }
                let key = normalize(w.trim());
                if seen.contains(&key) {
                    return Err(ValidationError::new(field, format!("“{}” is listed twice", w.trim())));
                }
                seen.push(key);
            }
        }
        Ok(())
    }
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A phone number that is not this chat's buyer's (泄露他人信息).
    OthersPhone,
    /// A street address that is not this chat's buyer's (泄露他人信息).
    OthersAddress,
    /// 微信, QQ, their ids, 加我…: taking the buyer off the platform.
    OffPlatformContact,
    /// Bank card numbers, 转账, 私下交易, 支付宝转我: paying outside the platform's protection.
    OffPlatformPayment,
    /// An absolute claim the advertising law forbids (极限词).
    AbsoluteClaim,
    /// Returns or exchanges beyond the shop's policy (随时退, 30天包换).
    ReturnPromise,
    /// A guaranteed delivery date (明天一定到).
    DeliveryPromise,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::OthersPhone,
        Kind::OthersAddress,
        Kind::OffPlatformContact,
        Kind::OffPlatformPayment,
        Kind::AbsoluteClaim,
        Kind::ReturnPromise,
        Kind::DeliveryPromise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OthersPhone => "others_phone",
            Kind::OthersAddress => "others_address",
            Kind::OffPlatformContact => "off_platform_contact",
            Kind::OffPlatformPayment => "off_platform_payment",
            Kind::AbsoluteClaim => "absolute_claim",
            Kind::ReturnPromise => "return_promise",
            Kind::DeliveryPromise => "delivery_promise",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The rule's name as the platforms' training material calls it.
    pub fn label_zh(self) -> &'static str {
        match self {
            Kind::OthersPhone | Kind::OthersAddress => "泄露他人信息",
            Kind::OffPlatformContact => "站外联系",
            Kind::OffPlatformPayment => "站外交易",
            Kind::AbsoluteClaim => "极限词",
            Kind::ReturnPromise | Kind::DeliveryPromise => "违背承诺",
        }
    }

    /// Whether the finding depends on who the buyer is (and may go away once their own
    /// contact data is known).
    pub fn is_personal(self) -> bool {
        matches!(self, Kind::OthersPhone | Kind::OthersAddress)
    }
}

/// One thing in a message the agent should not say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    pub kind: Kind,
    /// Byte offset of the first character in the checked text.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
    /// `text[start..end]`, as written.
    pub text: String,
    /// Why, for the agent (Chinese).
    pub message: String,
}

/// The shop's rules, prepared once so that [`check`] does no set-up per message.
#[derive(Clone, Debug)]
pub struct Policy {
    banned: Vec<Vec<char>>,
    exempt: Vec<Vec<char>>,
    /// Returns and exchanges are promised for this many days (7天无理由).
    pub return_days: i64,
}

impl Policy {
    pub fn new(banned_words: &[String], exempt_phrases: &[String], return_days: i64) -> Policy {
        let prepare = |list: &[String]| -> Vec<Vec<char>> {
            let mut out: Vec<Vec<char>> = list
                .iter()
                .map(|w| normalize(w.trim()).chars().collect::<Vec<char>>())
                .filter(|w| !w.is_empty())
                .collect();
            out.dedup();
            out
        };
        Policy {
            banned: prepare(banned_words),
            exempt: prepare(exempt_phrases),
            return_days,
        }
    }

    pub fn from_settings(s: &crate::settings::ShopSettings) -> Policy {
        Policy::new(
            &s.compliance.banned_words,
            &s.compliance.exempt_phrases,
            crate::aftersales::NO_REASON_DAYS,
        )
    }
}

impl Default for Policy {
    fn default() -> Self {
        let s = ComplianceSettings::default();
        Policy::new(&s.banned_words, &s.exempt_phrases, crate::aftersales::NO_REASON_DAYS)
    }
}

/// What is this chat's buyer's own: phone numbers and addresses an agent may repeat to them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuyerContact {
    /// Digits only, without a +86 prefix.
    phones: Vec<String>,
    /// Normalized, without spaces and punctuation.
    addresses: Vec<String>,
}

impl BuyerContact {
    /// A phone number on the buyer's record or order, in any format.
    pub fn add_phone(&mut self, phone: &str) {
        let digits: String = normalize(phone).chars().filter_map(digit).collect();
        let digits = strip_country(&digits).to_owned();
        if digits.len() >= 5 && !self.phones.contains(&digits) {
            self.phones.push(digits);
        }
    }

    /// An address on the buyer's record or one of their orders.
    pub fn add_address(&mut self, address: &str) {
        let a = squeeze(address);
        if a.chars().count() >= 4 && !self.addresses.contains(&a) {
            self.addresses.push(a);
        }
    }

    /// What the buyer wrote in the chat: a number or address they gave is theirs to hear again.
    pub fn learn_from_buyer(&mut self, text: &str) {
        let n = Normalized::new(text);
        for run in number_runs(&n) {
            if let Some(phone) = phone_number(&run.digits) {
                let phone = phone.to_owned();
                if !self.phones.contains(&phone) {
                    self.phones.push(phone);
                }
            }
        }
        for (s, e) in address_spans(&n) {
            self.add_address(&n.original(text, s, e));
        }
    }

    fn owns_phone(&self, digits: &str) -> bool {
        self.phones.iter().any(|p| p == digits)
    }

    /// The same address, however much of its start (province, 寄到…) either side left out.
    fn owns_address(&self, found: &str) -> bool {
        let found = squeeze(found);
        let chars: Vec<char> = found.chars().collect();
        self.addresses.iter().any(|own| {
            own.contains(&found)
                || (found.contains(own.as_str()) && own.chars().count() >= 6)
                || (1..=3).any(|skip| chars.len() > skip + 5 && own.contains(&chars[skip..].iter().collect::<String>()))
        })
    }
}

/// Finds what the agent should not say, in order of position.
pub fn check(text: &str, policy: &Policy, buyer: &BuyerContact) -> Vec<Finding> {
    let n = Normalized::new(text);
    let mut found: Vec<(Kind, usize, usize)> = Vec::new();
    personal_data(&n, buyer, &mut found);
    off_platform(&n, &mut found);
    absolute_claims(&n, policy, &mut found);
    return_promises(&n, policy, &mut found);
    delivery_promises(&n, &mut found);
    found.sort_by_key(|&(k, s, e)| (s, e, k as u8));
    found.dedup();
    // A shorter finding of the same kind inside a longer one says nothing more.
    let all = found.clone();
    found.retain(|&(k, s, e)| {
        !all.iter()
            .any(|&(k2, s2, e2)| k2 == k && s2 <= s && e <= e2 && (s2, e2) != (s, e))
    });
    found
        .into_iter()
        .map(|(kind, s, e)| {
            let matched = n.original(text, s, e);
            Finding {
                kind,
                start: n.byte(s),
                end: n.byte(e),
                message: explain(kind, &matched, policy),
                text: matched,
            }
        })
        .collect()
}

/// Whether the findings change once the buyer's own data is known.
pub fn needs_buyer(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.kind.is_personal())
}

fn explain(kind: Kind, text: &str, policy: &Policy) -> String {
    match kind {
        Kind::OthersPhone => {
            format!("“{text}”不是本会话买家的电话号码：不得泄露其他买家的信息（泄露他人信息）")
        }
        Kind::OthersAddress => {
            format!("“{text}”不是本会话买家的地址：不得泄露其他买家的收货地址（泄露他人信息）")
        }
        Kind::OffPlatformContact => {
            format!("“{text}”引导买家到站外联系（微信、QQ 等），违反平台规则：请只在本平台沟通")
        }
        Kind::OffPlatformPayment => {
            format!("“{text}”涉及站外付款或私下交易（转账、银行卡等），违反平台规则，买家的钱没有保障")
        }
        Kind::AbsoluteClaim => {
            format!("“{text}”是广告法禁止的绝对化用语（极限词），请换一种说法")
        }
        Kind::ReturnPromise => format!(
            "“{text}”超出店铺的退换政策（{}天无理由退换）：不要承诺做不到的事",
            policy.return_days
        ),
        Kind::DeliveryPromise => {
            format!("“{text}”保证了送达时间，快递时效店铺无法保证：请说“预计”，不要承诺（违背承诺）")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The text as the checks read it

/// The text with full-width forms folded to ASCII and ASCII lowercased, one char per char of the
/// original, so a match maps back to the original's bytes.
struct Normalized {
    chars: Vec<char>,
    /// Byte offset in the original of each char, and the original's length at the end.
    bytes: Vec<usize>,
}

impl Normalized {
    fn new(text: &str) -> Normalized {
        let mut chars = Vec::with_capacity(text.len());
        let mut bytes = Vec::with_capacity(text.len() + 1);
        for (i, c) in text.char_indices() {
            chars.push(fold(c));
            bytes.push(i);
        }
        bytes.push(text.len());
        Normalized { chars, bytes }
    }

    fn byte(&self, i: usize) -> usize {
        self.bytes[i]
    }

    fn original(&self, text: &str, s: usize, e: usize) -> String {
        text[self.bytes[s]..self.bytes[e]].to_owned()
    }

    fn len(&self) -> usize {
        self.chars.len()
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn starts_with(&self, i: usize, pat: &[char]) -> bool {
        self.chars.get(i..i + pat.len()) == Some(pat)
    }

    /// Every place `pat` starts.
    fn find_all<'a>(&'a self, pat: &'a [char]) -> impl Iterator<Item = usize> + 'a {
        let last = (self.len() + 1).saturating_sub(pat.len().max(1));
        (0..last).filter(move |&i| !pat.is_empty() && self.starts_with(i, pat))
    }
}

fn fold(c: char) -> char {
    let c = match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    c.to_ascii_lowercase()
}

fn normalize(s: &str) -> String {
    s.chars().map(fold).collect()
}

/// The text without spaces and punctuation, folded: how addresses are compared.
fn squeeze(s: &str) -> String {
    s.chars().map(fold).filter(|c| c.is_alphanumeric()).collect()
}

/// The digit a (folded) character stands for: ASCII, or a Chinese numeral as phone numbers are
/// read out (幺 for 1, 〇 for 0) and written on cheques (壹贰叁…).
fn digit(c: char) -> Option<char> {
    Some(match c {
        '0'..='9' => c,
        '〇' | '零' => '0',
        '一' | '壹' | '幺' => '1',
        '二' | '贰' => '2',
        '三' | '叁' => '3',
        '四' | '肆' => '4',
        '五' | '伍' => '5',
        '六' | '陆' => '6',
        '七' | '柒' => '7',
        '八' | '捌' => '8',
        '九' | '玖' => '9',
        _ => return None,
    })
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

/// Ends a clause: punctuation and line breaks, not spaces (`明天 一定到`) nor `%`.
fn breaks_clause(c: char) -> bool {
    c == '\n' || (!c.is_alphanumeric() && !c.is_whitespace() && !matches!(c, '%' | '-' | '#'))
}

// ---------------------------------------------------------------------------------------------
// Numbers: phones, bank cards

/// A run of digits, perhaps split by spaces, dashes or dots.
struct NumberRun {
    start: usize,
    end: usize,
    digits: String,
    /// Written in groups of four (`6222 0212 …`), as card numbers are.
    grouped_by_four: bool,
}

fn is_number_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '_' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\t')
}

fn number_runs(n: &Normalized) -> Vec<NumberRun> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < n.len() {
        if digit(n.chars[i]).is_none() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        let mut groups: Vec<usize> = vec![0];
        let mut end = i;
        let mut j = i;
        loop {
            match n.at(j).and_then(digit) {
                Some(d) => {
                    digits.push(d);
                    *groups.last_mut().expect("one group") += 1;
                    j += 1;
                    end = j;
                }
                None => {
                    // Up to three separators between two digits keep the run going.
                    let mut k = j;
                    while k < n.len() && k - j < 3 && is_number_separator(n.chars[k]) {
                        k += 1;
                    }
                    if k > j && n.at(k).and_then(digit).is_some() {
                        groups.push(0);
                        j = k;
                    } else {
                        break;
                    }
                }
            }
        }
        let grouped_by_four = groups.len() >= 4 && groups[..groups.len() - 1].iter().all(|&g| g == 4);
        runs.push(NumberRun {
            start,
            end,
            digits,
            grouped_by_four,
        });
        i = end;
    }
    runs
}

/// +86 and 0086 say nothing about whose number it is.
fn strip_country(digits: &str) -> &str {
    match digits.len() {
        13 if digits.starts_with("86") => &digits[2..],
        15 if digits.starts_with("0086") => &digits[4..],
        _ => digits,
    }
}

/// The number a run's digits are, if it is a phone number: a mobile (11 digits, 13x–19x) or a
/// landline with its area code (0 and 9–11 more digits). Longer runs are order or tracking
/// numbers, shorter ones quantities, prices and dates.
fn phone_number(digits: &str) -> Option<&str> {
    let d = strip_country(digits);
    let b = d.as_bytes();
    let mobile = d.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
    let landline = (10..=12).contains(&d.len()) && b[0] == b'0' && b[1] != b'0';
    (mobile || landline).then_some(d)
}

/// The Luhn checksum every bank card number passes.
fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

const BANK_WORDS: &[&str] = &["卡", "银行", "账号", "账户", "帐号", "帐户", "转账", "汇款", "打款"];

/// Phone numbers and addresses that are not the buyer's; bank card numbers.
fn personal_data(n: &Normalized, buyer: &BuyerContact, out: &mut Vec<(Kind, usize, usize)>) {
    let bank_context = BANK_WORDS
        .iter()
        .any(|w| n.find_all(&w.chars().collect::<Vec<_>>()).next().is_some());
    for run in number_runs(n) {
        if let Some(phone) = phone_number(&run.digits) {
            if !buyer.owns_phone(phone) {
                out.push((Kind::OthersPhone, run.start, run.end));
            }
            continue;
        }
        let card = (16..=19).contains(&run.digits.len())
            && luhn(&run.digits)
            && (run.digits.starts_with("62") || run.grouped_by_four || bank_context);
        if card {
            out.push((Kind::OffPlatformPayment, run.start, run.end));
        }
    }
    for (s, e) in address_spans(n) {
        let text: String = n.chars[s..e].iter().collect();
        if !buyer.owns_address(&text) {
            out.push((Kind::OthersAddress, s, e));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Addresses

const ADMIN_MARKERS: &[&str] = &["自治区", "省", "市", "区", "县"];
const STREET_MARKERS: &[&str] = &[
    "路", "街", "道", "巷", "弄", "村", "镇", "乡", "小区", "大厦", "广场", "花园", "公寓", "苑",
];
const NUMBER_MARKERS: &[&str] = &["号", "栋", "幢", "室", "楼", "单元", "座", "弄"];

/// Street addresses: a stretch of Han characters and digits with an administrative division
/// (省 市 区 县), a street or second division, and a house number (12号, 3栋, 501室), in that
/// order — 杭州市西湖区文三路100号, 上海市浦东新区1号. A date (11月11号) or a city alone is not one.
fn address_spans(n: &Normalized) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < n.len() {
        let c = n.chars[i];
        if !(is_han(c) || c.is_ascii_digit()) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < n.len()
            && (is_han(n.chars[end]) || n.chars[end].is_ascii_alphanumeric() || matches!(n.chars[end], '-' | '#'))
        {
            end += 1;
        }
        if let Some(span) = address_in(n, start, end) {
            spans.push(span);
        }
        i = end.max(i + 1);
    }
    spans
}

fn address_in(n: &Normalized, start: usize, end: usize) -> Option<(usize, usize)> {
    let markers = |list: &[&str]| -> Vec<(usize, usize)> {
        let mut at = Vec::new();
        for m in list {
            let m: Vec<char> = m.chars().collect();
            for i in start..end {
                if i + m.len() <= end && n.starts_with(i, &m) && !at.iter().any(|&(s, e)| s <= i && i < e) {
                    at.push((i, i + m.len()));
                }
            }
        }
        at.sort();
        at
    };
    let admin = markers(ADMIN_MARKERS);
    let first_admin = admin.first()?.0;
    // A division is a name before it: 市 opening the stretch is no city.
    if first_admin == start {
        return None;
    }
    let streets = markers(STREET_MARKERS);
    let later_admin = admin.iter().filter(|&&(s, _)| s > first_admin).count();
    let has_street = streets.iter().any(|&(s, _)| s > first_admin);
    if !(has_street || later_admin >= 1) {
        return None;
    }
    // House numbers: digits followed by a number marker, after the first division.
    let mut last_number = None;
    for (s, e) in markers(NUMBER_MARKERS) {
        if s > first_admin + 1 && n.at(s - 1).and_then(digit).is_some() {
            last_number = Some(e);
        }
    }
    let stop = last_number?;
    let from = first_admin.saturating_sub(2).max(start);
    Some((from, stop))
}

// ---------------------------------------------------------------------------------------------
// Off the platform

/// Contact words; the ASCII ones count only as words of their own (`vx`, not `vxyz`).
const CONTACT_WORDS: &[&str] = &[
    "微信",
    "威信",
    "薇信",
    "徽信",
    "微芯",
    "v信",
    "微x",
    "vx",
    "wx",
    "weixin",
    "wechat",
    "加v",
    "+v",
    "加微",
    "qq",
    "扣扣",
    "企鹅号",
    "q号",
];

const PAYMENT_WORDS: &[&str] = &[
    "转账",
    "汇款",
    "私下交易",
    "私下付款",
    "私下转",
    "线下交易",
    "线下付款",
    "不走平台",
    "绕过平台",
    "跳过平台",
    "银行卡号",
    "卡号",
    "转到银行卡",
    "转银行卡",
    "收款码",
    "扫码付",
    "支付宝转",
    "转支付宝",
    "转我支付宝",
    "转到我支付宝",
    "转到支付宝",
    "支付宝账号",
    "支付宝号",
];

fn off_platform(n: &Normalized, out: &mut Vec<(Kind, usize, usize)>) {
    for w in CONTACT_WORDS {
        let pat: Vec<char> = w.chars().collect();
        let ascii_edges = pat.last().is_some_and(char::is_ascii_alphabetic);
        for s in n.find_all(&pat) {
            let e = s + pat.len();
            if ascii_edges {
                let before = s.checked_sub(1).and_then(|i| n.at(i));
                let after = n.at(e);
                let first_ascii = pat[0].is_ascii_alphabetic();
                if (first_ascii && before.is_some_and(|c| c.is_ascii_alphabetic()))
                    || after.is_some_and(|c| c.is_ascii_alphabetic())
                {
                    continue;
                }
            }
            // 加我 / 添加 / 加 before it belongs to the finding; so does the id after it.
            let mut from = s;
            for lead in ["添加", "加我", "加", "+"] {
                let lead: Vec<char> = lead.chars().collect();
                if from >= lead.len() && n.starts_with(from - lead.len(), &lead) && !pat.starts_with(&lead) {
                    from -= lead.len();
                    break;
                }
            }
            out.push((Kind::OffPlatformContact, from, contact_id_end(n, e)));
        }
    }
    // 加我 followed by an id without naming the app: 加我 abc123.
    let jia: Vec<char> = "加我".chars().collect();
    for s in n.find_all(&jia) {
        let e = contact_id_end(n, s + jia.len());
        if e > s + jia.len() {
            out.push((Kind::OffPlatformContact, s, e));
        }
    }
    for w in PAYMENT_WORDS {
        let pat: Vec<char> = w.chars().collect();
        for s in n.find_all(&pat) {
            out.push((Kind::OffPlatformPayment, s, s + pat.len()));
        }
    }
}

/// Where an account id after a contact word ends (`微信号：abc_123`), or `from` if none follows.
fn contact_id_end(n: &Normalized, from: usize) -> usize {
    let mut i = from;
    while i < n.len() && i - from < 4 && matches!(n.chars[i], ' ' | ':' | '号' | '是' | '为' | '的' | '-') {
        i += 1;
    }
    let id_start = i;
    while i < n.len()
        && (n.chars[i].is_ascii_alphanumeric() || matches!(n.chars[i], '_' | '-') || digit(n.chars[i]).is_some())
    {
        i += 1;
    }
    if i - id_start >= 5 { i } else { from }
}

// ---------------------------------------------------------------------------------------------
// Absolute claims

fn absolute_claims(n: &Normalized, policy: &Policy, out: &mut Vec<(Kind, usize, usize)>) {
    let exempt: Vec<(usize, usize)> = policy
        .exempt
        .iter()
        .flat_map(|p| n.find_all(p).map(move |s| (s, s + p.len())))
        .collect();
    for w in &policy.banned {
        for s in n.find_all(w) {
            let e = s + w.len();
            if !exempt.iter().any(|&(xs, xe)| xs <= s && e <= xe) {
                out.push((Kind::AbsoluteClaim, s, e));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Promises

const UNBOUNDED: &[&str] = &["随时", "任何时候", "无限期", "终身", "永久", "无条件", "不限时"];
const RETURN_TARGETS: &[char] = &['退', '换'];

fn return_promises(n: &Normalized, policy: &Policy, out: &mut Vec<(Kind, usize, usize)>) {
    let direct: Vec<char> = "想退就退".chars().collect();
    for s in n.find_all(&direct) {
        out.push((Kind::ReturnPromise, s, s + direct.len()));
    }
    // 随时退, 终身包换, 无条件退换货, 终身保修: within a few characters, in the same clause.
    for w in UNBOUNDED {
        let pat: Vec<char> = w.chars().collect();
        for s in n.find_all(&pat) {
            let e = s + pat.len();
            if let Some(t) = target_after(n, e, 4, |n, i| {
                RETURN_TARGETS.contains(&n.chars[i])
                    || n.starts_with(i, &['保', '修'])
                    || n.starts_with(i, &['质', '保'])
            }) {
                out.push((Kind::ReturnPromise, s, end_of_target(n, t)));
            }
        }
    }
    // 30天无理由退货, 三个月包换, 半年内可退: a window longer than the shop's. A date is no
    // window: 11月 and 2026年 count only as 个月 and small numbers of years, 日 only as 日内.
    for (i, &c) in n.chars.iter().enumerate() {
        let (unit_days, unit_len) = match c {
            '天' => (1.0, 1),
            '日' if n.at(i + 1) == Some('内') => (1.0, 1),
            '周' => (7.0, 1),
            '星' if n.at(i + 1) == Some('期') => (7.0, 2),
            '月' => (30.0, 1),
            '年' => (365.0, 1),
            _ => continue,
        };
        let Some(count) = number_before(n, i) else { continue };
        if c == '月' && !count.counted {
            continue;
        }
        if count.value >= 100.0 {
            continue;
        }
        let days = count.value * unit_days;
        if days <= policy.return_days as f64 {
            continue;
        }
        let after = i + unit_len;
        if let Some(t) = target_after(n, after, 7, |n, k| RETURN_TARGETS.contains(&n.chars[k])) {
            out.push((Kind::ReturnPromise, count.start, end_of_target(n, t)));
        }
    }
}

/// The first place within `window` chars after `from`, in the same clause, where `is_target`
/// holds.
fn target_after(
    n: &Normalized,
    from: usize,
    window: usize,
    is_target: impl Fn(&Normalized, usize) -> bool,
) -> Option<usize> {
    (from..(from + window + 1).min(n.len()))
        .take_while(|&i| !breaks_clause(n.chars[i]))
        .find(|&i| is_target(n, i))
}

/// A target word with what completes it: 退 → 退货 / 退换 / 退款, 保修.
fn end_of_target(n: &Normalized, t: usize) -> usize {
    let mut e = t + 1;
    while e < n.len() && e - t < 3 && matches!(n.chars[e], '换' | '货' | '款' | '修' | '保' | '退') {
        e += 1;
    }
    e
}

/// A count written before a unit of time.
struct Count {
    start: usize,
    value: f64,
    /// Written with 个 (三个月) or as 半 (半年): a duration, not a date (3月).
    counted: bool,
}

/// The count written just before `unit` (`30`天, 三十天, 一个月, 半年, 15个工作日).
fn number_before(n: &Normalized, unit: usize) -> Option<Count> {
    let mut end = unit;
    let mut counted = false;
    for filler in [&['个', '工', '作'][..], &['工', '作'][..], &['个'][..]] {
        if end >= filler.len() && n.starts_with(end - filler.len(), filler) {
            end -= filler.len();
            counted = true;
            break;
        }
    }
    if end > 0 && n.chars[end - 1] == '半' {
        return Some(Count {
            start: end - 1,
            value: 0.5,
            counted: true,
        });
    }
    let mut start = end;
    while start > 0 && (digit(n.chars[start - 1]).is_some() || matches!(n.chars[start - 1], '十' | '两' | '百')) {
        start -= 1;
    }
    if start == end {
        return None;
    }
    let word: String = n.chars[start..end].iter().collect();
    let value = if word.chars().all(|c| c.is_ascii_digit()) {
        word.parse::<f64>().ok()?
    } else {
        f64::from(chinese_number(&word)?)
    };
    Some(Count { start, value, counted })
}

/// 三十 → 30, 十五 → 15, 两 → 2, 一百 → 100, 15 → 15.
fn chinese_number(s: &str) -> Option<u32> {
    let mut total = 0;
    let mut current: Option<u32> = None;
    for c in s.chars() {
        match c {
            '十' => {
                total += current.unwrap_or(1) * 10;
                current = None;
            }
            '百' => {
                total += current.unwrap_or(1) * 100;
                current = None;
            }
            '两' => current = Some(current.unwrap_or(0) * 10 + 2),
            c => current = Some(current.unwrap_or(0) * 10 + digit(c)?.to_digit(10)?),
        }
    }
    Some(total + current.unwrap_or(0))
}

const CERTAINTY: &[&str] = &[
    "一定",
    "肯定",
    "保证",
    "必定",
    "必须",
    "绝对",
    "百分百",
    "100%",
    "铁定",
    "担保",
    "包你",
    "准能",
    "准保",
];
/// Right before the arrival word: 包到, 准到, 必到.
const CERTAIN_PREFIX: &[char] = &['包', '准', '必'];
const ARRIVAL: &[&str] = &["送到", "送达", "到货", "到达", "收到", "必达", "到"];
const WHEN: &[&str] = &[
    "今天",
    "今晚",
    "今日",
    "明天",
    "明早",
    "明晚",
    "明日",
    "后天",
    "大后天",
    "当天",
    "次日",
    "隔天",
    "隔日",
    "周",
    "星期",
    "礼拜",
    "号",
    "小时",
    "天内",
    "日内",
    "马上",
    "立刻",
];

/// 明天一定到, 保证后天送达, 24小时内必达: a delivery time the shop vouches for.
fn delivery_promises(n: &Normalized, out: &mut Vec<(Kind, usize, usize)>) {
    let arrival: Vec<Vec<char>> = ARRIVAL.iter().map(|w| w.chars().collect()).collect();
    let certainty: Vec<Vec<char>> = CERTAINTY.iter().map(|w| w.chars().collect()).collect();
    let when: Vec<Vec<char>> = WHEN.iter().map(|w| w.chars().collect()).collect();
    let mut i = 0;
    while i < n.len() {
        let Some(word) = arrival.iter().find(|w| n.starts_with(i, w)) else {
            i += 1;
            continue;
        };
        let end = i + word.len();
        // The clause before the arrival word, at most 12 characters back.
        let mut from = i;
        while from > 0 && i - from < 12 && !breaks_clause(n.chars[from - 1]) {
            from -= 1;
        }
        // The nearest certainty and time words before it: 今天下单明天肯定能收到 promises 明天.
        let last = |list: &[Vec<char>]| {
            (from..i)
                .rev()
                .find(|&k| list.iter().any(|w| k + w.len() <= i && n.starts_with(k, w)))
        };
        let certain = last(&certainty)
            .or_else(|| (i > from && CERTAIN_PREFIX.contains(&n.chars[i - 1])).then(|| i - 1))
            .or_else(|| (word.as_slice() == ['必', '达']).then_some(i));
        let dated = (from..i).rev().find(|&k| {
            when.iter().any(|w| {
                k + w.len() <= i
                    && n.starts_with(k, w)
                    // 号 of a date needs its number: 11号, not 单号.
                    && (w.as_slice() != ['号'] || k.checked_sub(1).and_then(|p| n.at(p)).and_then(digit).is_some())
            })
        });
        if let (Some(c), Some(d)) = (certain, dated) {
            let mut s = c.min(d);
            // The number of 24小时内 / 3号 belongs to the promise.
            while s > from && (digit(n.chars[s - 1]).is_some() || n.chars[s - 1] == '十') {
                s -= 1;
            }
            out.push((Kind::DeliveryPromise, s, end));
        }
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, String)> {
        check(text, &Policy::default(), &BuyerContact::default())
            .into_iter()
            .map(|f| (f.kind, f.text))
            .collect()
    }

    fn has(text: &str, kind: Kind, matched: &str) {
        let found = kinds(text);
        assert!(
            found.iter().any(|(k, t)| *k == kind && t == matched),
            "{text}: wanted {kind:?} “{matched}”, got {found:?}"
        );
    }

    fn clean(text: &str) {
        let found = kinds(text);
        assert!(found.is_empty(), "{text}: wanted nothing, got {found:?}");
    }

    #[test]
    fn phone_numbers_in_every_form_people_write_them() {
        use Kind::OthersPhone as P;
        for (text, matched) in [
            ("他的电话13812345678", "13812345678"),
            ("电话 138 1234 5678 找他", "138 1234 5678"),
            ("138-1234-5678", "138-1234-5678"),
            ("138.1234.5678", "138.1234.5678"),
            ("１３８１２３４５６７８", "１３８１２３４５６７８"),
            ("一三八一二三四五六七八", "一三八一二三四五六七八"),
            ("幺三八 幺二三四 五六七八", "幺三八 幺二三四 五六七八"),
            ("壹叁捌壹贰叁肆伍陆柒捌", "壹叁捌壹贰叁肆伍陆柒捌"),
            ("138一二三四5678", "138一二三四5678"),
            ("+86 138 1234 5678", "86 138 1234 5678"),
            ("座机021-12345678", "021-12345678"),
            ("打0571 8888 6666", "0571 8888 6666"),
        ] {
            has(text, P, matched);
        }
        // Order and tracking numbers, prices, dates and quantities are not phone numbers.
        for text in [
            "订单号 900000000000000001",
            "单号2026112300001已发货",
            "价格 138 元",
            "11月11号发货",
            "一三五发货",
            "退款 12345678 分",
            "SF1234567890123",
            "400-123-4567 是官方热线",
        ] {
            assert!(!kinds(text).iter().any(|(k, _)| *k == P), "{text}: {:?}", kinds(text));
        }
    }

    #[test]
    fn the_buyers_own_phone_and_address_may_be_repeated_to_them() {
        let mut own = BuyerContact::default();
        own.add_phone("+86 138-1234-5678");
        own.add_address("浙江省杭州市西湖区文三路100号1幢");
        let p = Policy::default();
        assert!(check("您的电话 138 1234 5678 对吗", &p, &own).is_empty());
        assert!(check("寄到浙江省杭州市西湖区文三路100号1幢，对吗", &p, &own).is_empty());
        assert!(check("地址是杭州市西湖区文三路100号吗", &p, &own).is_empty());
        let other = check("另一位买家 13900001111，上海市浦东新区1号", &p, &own);
        assert_eq!(
            other.iter().map(|f| (f.kind, f.text.as_str())).collect::<Vec<_>>(),
            vec![
                (Kind::OthersPhone, "13900001111"),
                (Kind::OthersAddress, "上海市浦东新区1号")
            ]
        );
        // What the buyer wrote in the chat is theirs.
        let mut learned = BuyerContact::default();
        learned.learn_from_buyer("我的手机号是一三九零零零零一一一一，地址上海市浦东新区1号");
        assert!(check("好的，13900001111，上海市浦东新区1号，已备注", &p, &learned).is_empty());
    }

    #[test]
    fn addresses_need_a_division_a_street_and_a_number() {
        use Kind::OthersAddress as A;
        has("发到浙江省杭州市西湖区文三路100号", A, "浙江省杭州市西湖区文三路100号");
        has(
            "北京市朝阳区建国路88号SOHO现代城5栋1201室",
            A,
            "北京市朝阳区建国路88号SOHO现代城5栋1201室",
        );
        has("广东省深圳市南山区科技园1栋", A, "广东省深圳市南山区科技园1栋");
        for text in [
            "我们从杭州市发货",
            "11月11号从杭州发",
            "浙江省杭州市西湖区",
            "市区3号线",
            "您所在地区",
        ] {
            assert!(!kinds(text).iter().any(|(k, _)| *k == A), "{text}: {:?}", kinds(text));
        }
    }

    #[test]
    fn off_platform_contact_and_its_ids() {
        use Kind::OffPlatformContact as C;
        for (text, matched) in [
            ("加我微信 abc123", "加我微信 abc123"),
            ("加我微信abc123", "加我微信abc123"),
            ("微信号：kefu_2026", "微信号：kefu_2026"),
            ("vx: abc12345", "vx: abc12345"),
            ("VX 123456789", "VX 123456789"),
            ("加v吧", "加v"),
            ("+V xiaomei88", "+V xiaomei88"),
            ("ＶＸ１２３４５６", "ＶＸ１２３４５６"),
            ("qq 12345678", "qq 12345678"),
            ("QQ号：一二三四五六七八", "QQ号：一二三四五六七八"),
            ("扣扣联系", "扣扣"),
            ("可以加我 xiaomei2026 聊", "加我 xiaomei2026"),
            ("我们微信群里有优惠", "微信"),
            ("wechat me", "wechat"),
        ] {
            has(text, C, matched);
        }
        for text in ["我们的wxyz系列", "vxe材料", "qqq", "加我为旺旺好友", "已加入购物车"] {
            assert!(!kinds(text).iter().any(|(k, _)| *k == C), "{text}: {:?}", kinds(text));
        }
    }

    #[test]
    fn off_platform_payment_words_and_card_numbers() {
        use Kind::OffPlatformPayment as M;
        for (text, matched) in [
            ("直接转账给我就行", "转账"),
            ("我们可以私下交易，便宜点", "私下交易"),
            ("支付宝转我就可以", "支付宝转"),
            ("不走平台更便宜", "不走平台"),
        ] {
            has(text, M, matched);
        }
        let card = with_check_digit("621700001000123456");
        has(&format!("打到这张卡 {card}"), M, &card);
        has(&card, M, &card);
        has(&format!("卡号 {card}"), M, "卡号");
        let visa = with_check_digit("411111111111111");
        let grouped = format!("{} {} {} {}", &visa[..4], &visa[4..8], &visa[8..12], &visa[12..]);
        has(&format!("账号是 {grouped}"), M, &grouped);
        has(&grouped, M, &grouped);
        // An 18-digit order number is no card, even when its checksum happens to pass.
        let order = with_check_digit("40000000000000000");
        assert!(luhn(&order));
        clean(&format!("您的订单{order}已发货"));
        assert!(
            !kinds(&format!("卡号 {}", &order[..17]))
                .iter()
                .any(|(_, t)| t.len() > 10),
            "no checksum, no card"
        );
        clean("请用支付宝付款");
        clean("退款会原路退回您的账户");
    }

    #[test]
    fn absolute_claims_from_the_shops_list() {
        use Kind::AbsoluteClaim as X;
        has("这是全网最好的连体衣", X, "最好");
        has("销量第一", X, "第一");
        has("国家级品质", X, "国家级");
        has("１００％ 好评", X, "１００％");
        has("100%好评", X, "100%");
        has("顶级面料", X, "顶级");
        has("绝对不会掉色", X, "绝对");
        // Everyday phrases are exempt.
        clean("客服会第一时间回复您");
        clean("第一次购买有优惠");
        clean("面料是100%纯棉的");
        // The shop's own list.
        let p = Policy::new(&["秒杀全网".into()], &[], 7);
        let f = check("我们秒杀全网，最好的", &p, &BuyerContact::default());
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].kind, f[0].text.as_str()), (X, "秒杀全网"));
        assert!(f[0].message.contains("极限词"), "{}", f[0].message);
    }

    #[test]
    fn return_promises_beyond_the_window() {
        use Kind::ReturnPromise as R;
        has("不满意随时退", R, "随时退");
        has("终身包换哦", R, "终身包换");
        has("想退就退", R, "想退就退");
        has("支持30天无理由退货", R, "30天无理由退货");
        has("三十天包退", R, "三十天包退");
        has("十五天内可以换", R, "十五天内可以换");
        has("一个月内随便退换", R, "一个月内随便退换");
        has("半年包换", R, "半年包换");
        has("终身保修", R, "终身保修");
        // The shop's own window, and what is not about returns.
        clean("支持7天无理由退换货");
        clean("七天无理由退货");
        clean("3天内发货");
        clean("15天后到账，请留意退款");
        clean("一年质量问题可以联系我们");
        // Dates are no windows.
        clean("11月11号可以退吗");
        clean("2026年买的可以换吗");
        clean("11日前退款到账");
        let longer = Policy::new(&[], &[], 15);
        assert!(check("15天无理由退货", &longer, &BuyerContact::default()).is_empty());
        let f = check("30天无理由退货", &longer, &BuyerContact::default());
        assert!(f[0].message.contains("15天无理由"), "{}", f[0].message);
    }

    #[test]
    fn delivery_dates_the_shop_cannot_promise() {
        use Kind::DeliveryPromise as D;
        has("明天一定到", D, "明天一定到");
        has("保证后天送达", D, "保证后天送达");
        has("放心，今天下单明天肯定能收到", D, "明天肯定能收到");
        has("24小时内必达", D, "24小时内必达");
        has("周五前包到", D, "周五前包到");
        has("3号之前一定到货", D, "3号之前一定到货");
        clean("预计明天到");
        clean("一般2-3天到");
        clean("我们一定尽快发货");
        clean("您放心，肯定是正品");
        clean("单号一定要核对，到了告诉我");
    }

    #[test]
    fn findings_carry_byte_spans_of_the_text_as_written() {
        let text = "亲，加我微信 abc123，明天一定到，最好的";
        let f = check(text, &Policy::default(), &BuyerContact::default());
        assert_eq!(
            f.iter().map(|f| f.kind).collect::<Vec<_>>(),
            vec![Kind::OffPlatformContact, Kind::DeliveryPromise, Kind::AbsoluteClaim]
        );
        for x in &f {
            assert_eq!(&text[x.start..x.end], x.text);
            assert!(!x.message.is_empty());
        }
        assert_eq!(f[0].text, "加我微信 abc123");
        assert!(f[0].message.contains("站外"));
        // Plain service talk has nothing.
        clean("亲，您好，宝宝6个月建议穿80码，今天16点前付款当天发货，预计2-3天到哦");
        assert!(!needs_buyer(&f));
        assert!(needs_buyer(&kinds_full("13812345678")));
    }

    /// Appends the Luhn check digit.
    fn with_check_digit(prefix: &str) -> String {
        (0..10)
            .map(|d| format!("{prefix}{d}"))
            .find(|n| luhn(n))
            .expect("one digit checks")
    }

    fn kinds_full(text: &str) -> Vec<Finding> {
        check(text, &Policy::default(), &BuyerContact::default())
    }

    #[test]
    fn settings_default_and_validate() {
        let s = ComplianceSettings::default();
        s.validate().unwrap();
        assert_eq!(s.mode, Mode::Warn);
        assert!(s.banned_words.iter().any(|w| w == "国家级"));
        let mut bad = s.clone();
        bad.banned_words.push(" ".into());
        assert_eq!(
            bad.validate().unwrap_err().field,
            format!("compliance.banned_words[{}]", s.banned_words.len())
        );
        let twice = ComplianceSettings {
            exempt_phrases: vec!["第一次".into(), "第一次".into()],
            ..Default::default()
        };
        assert_eq!(twice.validate().unwrap_err().field, "compliance.exempt_phrases[1]");
        let long = ComplianceSettings {
            banned_words: vec!["好".repeat(21)],
            ..Default::default()
        };
        assert!(long.validate().is_err());
        let parsed: ComplianceSettings = serde_json::from_str(r#"{"mode":"block"}"#).unwrap();
        assert_eq!(parsed.mode, Mode::Block);
        assert_eq!(parsed.banned_words, s.banned_words);
        assert!(serde_json::from_str::<ComplianceSettings>(r#"{"mode":"shout"}"#).is_err());
        assert_eq!(Kind::parse("others_phone"), Some(Kind::OthersPhone));
        assert_eq!(Kind::DeliveryPromise.label_zh(), "违背承诺");
    }

    #[test]
    fn numbers_are_read_as_written() {
        assert_eq!(chinese_number("三十"), Some(30));
        assert_eq!(chinese_number("十五"), Some(15));
        assert_eq!(chinese_number("两"), Some(2));
        assert_eq!(chinese_number("一百"), Some(100));
        assert_eq!(chinese_number("二十一"), Some(21));
        assert!(luhn("4111111111111111"));
        assert!(!luhn("4111111111111112"));
        assert_eq!(phone_number("8613812345678"), Some("13812345678"));
        assert_eq!(phone_number("12812345678"), None);
    }
}
