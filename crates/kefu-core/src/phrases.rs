//! Quick phrases (快捷短语, SPEC §2.7): texts an agent sends with one click or by typing a
//! shortcut code such as `sc` in the message box, kept in groups (分组: 售前, 售后, 物流 …).
//!
//! Team phrases (团队短语) belong to the shop and are written by its owner and admins; personal
//! phrases (个人短语) belong to one account and nobody else sees them. An agent sees both, so
//! a shortcut is unique within its scope — among the shop's team phrases, or among one
//! account's personal phrases — and an agent's personal shortcut may deliberately shadow a team
//! one: the agent who keeps their own `sc` gets their own text, everybody else the team's.
//!
//! A phrase's text may name variables, `{买家昵称}` `{订单号}` `{客服昵称}` `{店铺名}` (or their
//! English aliases), filled from the conversation when the phrase is used. A misspelt variable
//! would otherwise reach a buyer as `{订单好}`, so texts naming an unknown one are refused when
//! saved; `{{` writes a literal brace.

use crate::ValidationError;
use crate::ids::{AccountId, PhraseId, ShopId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

pub const MAX_TEXT_CHARS: usize = 500;
pub const MAX_GROUP_CHARS: usize = 20;
pub const MAX_SHORTCUT_CHARS: usize = 16;

/// Whose phrase it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PhraseScope {
    /// 团队短语: the shop's, for every member of staff.
    Team,
    /// 个人短语: one account's own.
    Personal,
}

impl PhraseScope {
    pub fn as_str(self) -> &'static str {
        match self {
            PhraseScope::Team => "team",
            PhraseScope::Personal => "personal",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuickPhrase {
    pub id: PhraseId,
    pub shop_id: ShopId,
    /// `None` for a team phrase, the account for a personal one.
    pub owner: Option<AccountId>,
    pub group: String,
    /// Lower-case ASCII letters and digits; typed in the message box to expand the phrase.
    pub shortcut: Option<String>,
    pub text: String,
    /// 0-based place within its group of its scope.
    pub position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl QuickPhrase {
    pub fn scope(&self) -> PhraseScope {
        match self.owner {
            None => PhraseScope::Team,
            Some(_) => PhraseScope::Personal,
        }
    }

    /// Team phrases are everybody's; a personal one only its owner's.
    pub fn visible_to(&self, account: AccountId) -> bool {
        self.owner.is_none_or(|o| o == account)
    }

    /// Trims and checks group, shortcut and text (see [`clean_group`], [`clean_shortcut`],
    /// [`clean_text`]).
    pub fn normalize_and_check(&mut self) -> Result<(), ValidationError> {
        self.group = clean_group(&self.group)?;
        self.shortcut = match self.shortcut.as_deref() {
            Some(s) => clean_shortcut(s)?,
            None => None,
        };
        self.text = clean_text(&self.text)?;
        Ok(())
    }
}

/// A group name: trimmed, 1–20 characters.
pub fn clean_group(group: &str) -> Result<String, ValidationError> {
    let g = group.trim();
    if g.is_empty() {
        return Err(ValidationError::new(
            "group",
            "must not be empty, e.g. 售前, 售后 or 物流",
        ));
    }
    if g.chars().count() > MAX_GROUP_CHARS {
        return Err(ValidationError::new(
            "group",
            format!("is longer than {MAX_GROUP_CHARS} characters"),
        ));
    }
    Ok(g.to_string())
}

/// A shortcut code: blank means none; otherwise 1–16 ASCII letters and digits, kept in lower
/// case — agents type it with the input method switched to English, in whatever case.
pub fn clean_shortcut(shortcut: &str) -> Result<Option<String>, ValidationError> {
    let s = shortcut.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() > MAX_SHORTCUT_CHARS || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ValidationError::new(
            "shortcut",
            format!("“{s}” is not a shortcut: use 1–{MAX_SHORTCUT_CHARS} ASCII letters and digits, e.g. sc or fh1"),
        ));
    }
    Ok(Some(s.to_ascii_lowercase()))
}

/// A phrase's text: trimmed (Windows line ends become `\n`), 1–500 characters, naming only
/// known variables.
pub fn clean_text(text: &str) -> Result<String, ValidationError> {
    let t = text.replace("\r\n", "\n");
    let t = t.trim();
    if t.is_empty() {
        return Err(ValidationError::new("text", "must not be empty"));
    }
    if t.chars().count() > MAX_TEXT_CHARS {
        return Err(ValidationError::new(
            "text",
            format!("is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    for piece in pieces(t) {
        match piece {
            Piece::Var { var: None, raw } => {
                return Err(ValidationError::new(
                    "text",
                    format!(
                        "names “{raw}”, which is not a variable: use {{买家昵称}}, {{订单号}}, {{客服昵称}} or {{店铺名}} (write {{{{ for a brace)"
                    ),
                ));
            }
            Piece::Unclosed(_) => {
                return Err(ValidationError::new(
                    "text",
                    "has a “{” that is never closed: name a variable such as {订单号}, or write {{ for a brace",
                ));
            }
            _ => {}
        }
    }
    Ok(t.to_string())
}

/// What a phrase's text can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Variable {
    /// `{买家昵称}` / `{buyer_nick}`
    BuyerNick,
    /// `{订单号}` / `{order_no}`
    OrderNo,
    /// `{客服昵称}` / `{agent_nick}`
    AgentNick,
    /// `{店铺名}` / `{shop_name}`
    ShopName,
}

impl Variable {
    pub const ALL: [Variable; 4] = [
        Variable::BuyerNick,
        Variable::OrderNo,
        Variable::AgentNick,
        Variable::ShopName,
    ];

    /// The name staff write, e.g. 订单号.
    pub fn name(self) -> &'static str {
        match self {
            Variable::BuyerNick => "买家昵称",
            Variable::OrderNo => "订单号",
            Variable::AgentNick => "客服昵称",
            Variable::ShopName => "店铺名",
        }
    }

    /// The English alias, e.g. order_no.
    pub fn alias(self) -> &'static str {
        match self {
            Variable::BuyerNick => "buyer_nick",
            Variable::OrderNo => "order_no",
            Variable::AgentNick => "agent_nick",
            Variable::ShopName => "shop_name",
        }
    }

    /// By either name; the alias in any case.
    pub fn parse(name: &str) -> Option<Variable> {
        let name = name.trim();
        Variable::ALL
            .into_iter()
            .find(|v| v.name() == name || v.alias().eq_ignore_ascii_case(name))
    }
}

/// The values a phrase is filled with; a blank value counts as missing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhraseVars {
    pub buyer_nick: Option<String>,
    pub order_no: Option<String>,
    pub agent_nick: Option<String>,
    pub shop_name: Option<String>,
}

impl PhraseVars {
    pub fn get(&self, var: Variable) -> Option<&str> {
        let v = match var {
            Variable::BuyerNick => &self.buyer_nick,
            Variable::OrderNo => &self.order_no,
            Variable::AgentNick => &self.agent_nick,
            Variable::ShopName => &self.shop_name,
        };
        v.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }
}

/// A text cut at its braces.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    /// `{{`: a literal `{`.
    Brace,
    /// `{…}`, with what it names if it names a variable.
    Var {
        var: Option<Variable>,
        raw: &'a str,
    },
    /// A `{` with no `}` after it, and the rest of the text.
    Unclosed(&'a str),
}

fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 1..];
        if let Some(tail) = after.strip_prefix('{') {
            out.push(Piece::Brace);
            rest = tail;
            continue;
        }
        // A variable ends at the first `}`; another `{` before it means this one never closed.
        match after.find(['{', '}']) {
            Some(close) if after.as_bytes()[close] == b'}' => {
                let raw = &rest[open..open + 1 + close + 1];
                out.push(Piece::Var {
                    var: Variable::parse(&after[..close]),
                    raw,
                });
                rest = &after[close + 1..];
            }
            _ => {
                out.push(Piece::Unclosed(&rest[open..]));
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// Fills a phrase's variables. A variable with no value stays as written, `{订单号}`, so that
/// the agent sees in the message box what is left to fill in before sending — an empty
/// value would silently send "您的订单已发货" with the order number missing.
pub fn fill(text: &str, vars: &PhraseVars) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) | Piece::Unclosed(t) => out.push_str(t),
            Piece::Brace => out.push('{'),
            Piece::Var { var, raw } => match var.and_then(|v| vars.get(v)) {
                Some(value) => out.push_str(value),
                None => out.push_str(raw),
            },
        }
    }
    out
}

/// The variables a text names, each once, in order.
pub fn variables(text: &str) -> Vec<Variable> {
    let mut seen = Vec::new();
    for piece in pieces(text) {
        if let Piece::Var { var: Some(v), .. } = piece
            && !seen.contains(&v)
        {
            seen.push(v);
        }
    }
    seen
}

/// The variables [`fill`] leaves unfilled for want of a value.
pub fn unfilled(text: &str, vars: &PhraseVars) -> Vec<Variable> {
    variables(text).into_iter().filter(|v| vars.get(*v).is_none()).collect()
}

/// Whether a phrase moves towards the top of its group or the bottom (上移 / 下移).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

/// One phrase of an import file, already checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhraseRow {
    pub group: String,
    pub shortcut: Option<String>,
    pub text: String,
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PhraseImportSummary {
    pub created: i64,
    pub updated: i64,
    /// Phrases removed because a replacing import did not list them.
    pub deleted: i64,
}

/// The phrases of one scope after an import, and what changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportPlan {
    /// Every phrase of the scope afterwards, positions numbered from 0 in each group.
    pub phrases: Vec<QuickPhrase>,
    /// Phrases that no longer exist.
    pub removed: Vec<PhraseId>,
    pub summary: PhraseImportSummary,
}

/// Works out an import into one scope (`owner`), given the phrases it has.
///
/// Merging adds and updates and never removes: a row is the existing phrase with its
/// shortcut, else the one with its group and text. A matched phrase takes the row's group and
/// text (moving to the end of a new group) and its shortcut when the row has one — a blank
/// cell removes nothing. Rows matching nothing are appended to their groups in file order.
/// Replacing makes the scope exactly the file, in the file's order.
pub fn plan_import(
    shop: ShopId,
    owner: Option<AccountId>,
    mut existing: Vec<QuickPhrase>,
    rows: &[PhraseRow],
    replace: bool,
    now: DateTime<Utc>,
) -> ImportPlan {
    let mut summary = PhraseImportSummary::default();
    let new_phrase = |r: &PhraseRow| QuickPhrase {
        id: PhraseId::new(),
        shop_id: shop,
        owner,
        group: r.group.clone(),
        shortcut: r.shortcut.clone(),
        text: r.text.clone(),
        position: 0,
        created_at: now,
        updated_at: now,
    };
    let mut groups: BTreeMap<String, Vec<QuickPhrase>> = BTreeMap::new();
    let mut removed = Vec::new();
    if replace {
        summary.deleted = existing.len() as i64;
        removed = existing.iter().map(|p| p.id).collect();
        for r in rows {
            groups.entry(r.group.clone()).or_default().push(new_phrase(r));
            summary.created += 1;
        }
    } else {
        existing.sort_by(|a, b| (&a.group, a.position).cmp(&(&b.group, b.position)));
        // Which existing phrase each row is, shortcuts first so that a row naming a shortcut
        // always finds the phrase that has it.
        let mut claimed: Vec<Option<usize>> = vec![None; rows.len()];
        let mut taken = HashSet::new();
        for (i, r) in rows.iter().enumerate() {
            if let Some(sc) = &r.shortcut
                && let Some(j) = existing.iter().position(|p| p.shortcut.as_ref() == Some(sc))
                && taken.insert(j)
            {
                claimed[i] = Some(j);
            }
        }
        for (i, r) in rows.iter().enumerate() {
            if claimed[i].is_none()
                && let Some(j) = (0..existing.len())
                    .find(|j| !taken.contains(j) && existing[*j].group == r.group && existing[*j].text == r.text)
            {
                taken.insert(j);
                claimed[i] = Some(j);
            }
        }
        let mut updates: Vec<Option<&PhraseRow>> = vec![None; existing.len()];
        for (i, r) in rows.iter().enumerate() {
            if let Some(j) = claimed[i] {
                updates[j] = Some(r);
            }
        }
        // Phrases staying in their group keep their places; those moving go last, in file order.
        let mut moving: Vec<(usize, QuickPhrase)> = Vec::new();
        for (j, mut p) in existing.into_iter().enumerate() {
            if let Some(r) = updates[j] {
                let shortcut = r.shortcut.clone().or_else(|| p.shortcut.clone());
                if p.group != r.group || p.text != r.text || p.shortcut != shortcut {
                    summary.updated += 1;
                    p.updated_at = now;
                }
                p.text = r.text.clone();
                p.shortcut = shortcut;
                if p.group != r.group {
                    p.group = r.group.clone();
                    let line = claimed.iter().position(|c| *c == Some(j)).unwrap_or(0);
                    moving.push((line, p));
                    continue;
                }
            }
            groups.entry(p.group.clone()).or_default().push(p);
        }
        let mut added: Vec<(usize, QuickPhrase)> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| claimed[*i].is_none())
            .map(|(i, r)| (i, new_phrase(r)))
            .collect();
        summary.created = added.len() as i64;
        added.append(&mut moving);
        added.sort_by_key(|(line, _)| *line);
        for (_, p) in added {
            groups.entry(p.group.clone()).or_default().push(p);
        }
    }
    let mut phrases = Vec::new();
    for (_, group) in groups {
        for (i, mut p) in group.into_iter().enumerate() {
            p.position = i as i64;
            phrases.push(p);
        }
    }
    ImportPlan {
        phrases,
        removed,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> PhraseVars {
        PhraseVars {
            buyer_nick: Some("tb_小王".into()),
            order_no: Some("2026110100001".into()),
            agent_nick: Some("小美".into()),
            shop_name: Some("小棉袄母婴旗舰店".into()),
        }
    }

    #[test]
    fn fills_variables_by_either_name() {
        assert_eq!(
            fill(
                "{买家昵称}您好,我是{客服昵称},欢迎光临{店铺名}!订单{订单号}已发货",
                &vars()
            ),
            "tb_小王您好,我是小美,欢迎光临小棉袄母婴旗舰店!订单2026110100001已发货"
        );
        assert_eq!(
            fill("{buyer_nick} / {Order_No} / { 客服昵称 }", &vars()),
            "tb_小王 / 2026110100001 / 小美"
        );
        assert_eq!(fill("没有变量的短语", &PhraseVars::default()), "没有变量的短语");
    }

    #[test]
    fn a_missing_value_stays_visible() {
        let v = PhraseVars {
            buyer_nick: Some("tb_小王".into()),
            order_no: Some("  ".into()),
            ..Default::default()
        };
        let text = "亲爱的{买家昵称},您的订单{订单号}已发货,{order_no}";
        assert_eq!(fill(text, &v), "亲爱的tb_小王,您的订单{订单号}已发货,{order_no}");
        assert_eq!(unfilled(text, &v), vec![Variable::OrderNo]);
        assert_eq!(unfilled(text, &vars()), vec![]);
        assert_eq!(variables(text), vec![Variable::BuyerNick, Variable::OrderNo]);
    }

    #[test]
    fn double_braces_are_literal() {
        let text = "表情{{^_^}} 和 {{买家昵称}";
        assert_eq!(clean_text(text).unwrap(), text);
        assert_eq!(fill(text, &vars()), "表情{^_^}} 和 {买家昵称}");
        assert!(variables(text).is_empty());
        // A lone closing brace is just a character.
        assert_eq!(fill("好的}", &vars()), "好的}");
    }

    #[test]
    fn unknown_and_unclosed_variables_are_refused() {
        let e = clean_text("您的订单{订单好}已发货").unwrap_err();
        assert_eq!(e.field, "text");
        assert!(e.message.contains("{订单好}"), "{e}");
        let e = clean_text("您好{买家昵称").unwrap_err();
        assert!(e.message.contains("never closed"), "{e}");
        assert!(clean_text("{买家 {订单号}").is_err());
        assert!(clean_text("{}").is_err());
        // Filling an unchecked text leaves what it cannot read alone.
        assert_eq!(fill("{订单好} {订单号", &vars()), "{订单好} {订单号");
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(
            clean_text("  亲,在的~\r\n请问有什么可以帮您 ").unwrap(),
            "亲,在的~\n请问有什么可以帮您"
        );
        assert_eq!(clean_text(" \n ").unwrap_err().message, "must not be empty");
        assert!(clean_text(&"好".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(clean_text(&"好".repeat(MAX_TEXT_CHARS + 1)).is_err());
    }

    #[test]
    fn shortcuts_and_groups() {
        assert_eq!(clean_shortcut(" SC ").unwrap(), Some("sc".into()));
        assert_eq!(clean_shortcut("fh1").unwrap(), Some("fh1".into()));
        assert_eq!(clean_shortcut("  ").unwrap(), None);
        for bad in ["s c", "发货", "sc!", "a_b", &"a".repeat(MAX_SHORTCUT_CHARS + 1)] {
            assert_eq!(clean_shortcut(bad).unwrap_err().field, "shortcut", "{bad:?}");
        }
        assert_eq!(clean_group(" 售前 ").unwrap(), "售前");
        assert!(clean_group("").is_err());
        assert!(clean_group(&"组".repeat(MAX_GROUP_CHARS + 1)).is_err());
    }

    fn phrase(owner: Option<AccountId>, group: &str, shortcut: Option<&str>, text: &str, position: i64) -> QuickPhrase {
        QuickPhrase {
            id: PhraseId::new(),
            shop_id: ShopId::new(),
            owner,
            group: group.into(),
            shortcut: shortcut.map(str::to_string),
            text: text.into(),
            position,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn scope_and_visibility() {
        let me = AccountId::new();
        let team = phrase(None, "售前", None, "在的", 0);
        let mine = phrase(Some(me), "售前", None, "在的", 0);
        assert_eq!((team.scope(), mine.scope()), (PhraseScope::Team, PhraseScope::Personal));
        assert!(team.visible_to(AccountId::new()) && mine.visible_to(me));
        assert!(!mine.visible_to(AccountId::new()));
        let mut p = phrase(None, " 物流 ", Some("FH"), " 已发货 ", 0);
        p.normalize_and_check().unwrap();
        assert_eq!(
            (p.group.as_str(), p.shortcut.as_deref(), p.text.as_str()),
            ("物流", Some("fh"), "已发货")
        );
    }

    fn row(group: &str, shortcut: Option<&str>, text: &str) -> PhraseRow {
        PhraseRow {
            group: group.into(),
            shortcut: shortcut.map(str::to_string),
            text: text.into(),
        }
    }

    fn listing(plan: &ImportPlan) -> Vec<(String, i64, Option<String>, String)> {
        plan.phrases
            .iter()
            .map(|p| (p.group.clone(), p.position, p.shortcut.clone(), p.text.clone()))
            .collect()
    }

    #[test]
    fn merging_matches_by_shortcut_then_text_and_removes_nothing() {
        let shop = ShopId::new();
        let existing = vec![
            phrase(None, "售前", Some("sc"), "实物拍摄", 0),
            phrase(None, "售前", None, "在的亲", 1),
            phrase(None, "售前", Some("hi"), "您好", 2),
            phrase(None, "物流", Some("fh"), "已发货", 0),
        ];
        let ids: Vec<PhraseId> = existing.iter().map(|p| p.id).collect();
        let rows = vec![
            row("售前", Some("sc"), "亲,都是实物拍摄哦"), // updates by shortcut
            row("售前", None, "在的亲"),                  // the same phrase: unchanged
            row("物流", Some("hi"), "您好"),              // moves group: goes last there
            row("售后", None, "退货地址见详情页"),        // new group
            row("物流", Some("kd"), "默认中通快递"),      // new: after the moved one, in file order
        ];
        let plan = plan_import(shop, None, existing, &rows, false, Utc::now());
        assert_eq!(
            plan.summary,
            PhraseImportSummary {
                created: 2,
                updated: 2,
                deleted: 0
            }
        );
        assert!(plan.removed.is_empty());
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            listing(&plan),
            vec![
                ("售前".into(), 0, s("sc"), "亲,都是实物拍摄哦".into()),
                ("售前".into(), 1, None, "在的亲".into()),
                ("售后".into(), 0, None, "退货地址见详情页".into()),
                ("物流".into(), 0, s("fh"), "已发货".into()),
                ("物流".into(), 1, s("hi"), "您好".into()),
                ("物流".into(), 2, s("kd"), "默认中通快递".into()),
            ]
        );
        // Matched phrases keep their ids.
        assert_eq!(plan.phrases[0].id, ids[0]);
        assert_eq!(plan.phrases[4].id, ids[2]);
        assert_eq!(plan.phrases[5].shop_id, shop);
    }

    #[test]
    fn a_blank_shortcut_cell_keeps_the_phrase_s_shortcut_when_merging() {
        let existing = vec![phrase(None, "售前", Some("sc"), "实物拍摄", 0)];
        let plan = plan_import(
            ShopId::new(),
            None,
            existing,
            &[row("售前", None, "实物拍摄")],
            false,
            Utc::now(),
        );
        assert_eq!(plan.summary, PhraseImportSummary::default());
        assert_eq!(plan.phrases[0].shortcut.as_deref(), Some("sc"));
    }

    #[test]
    fn replacing_makes_the_scope_exactly_the_file() {
        let me = AccountId::new();
        let existing = vec![
            phrase(Some(me), "售前", Some("sc"), "实物拍摄", 0),
            phrase(Some(me), "售后", None, "亲,抱歉", 0),
        ];
        let old: Vec<PhraseId> = existing.iter().map(|p| p.id).collect();
        let rows = vec![row("售前", Some("b"), "二"), row("售前", Some("a"), "一")];
        let plan = plan_import(ShopId::new(), Some(me), existing, &rows, true, Utc::now());
        assert_eq!(
            plan.summary,
            PhraseImportSummary {
                created: 2,
                updated: 0,
                deleted: 2
            }
        );
        assert_eq!(plan.removed, old);
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            listing(&plan),
            vec![
                ("售前".into(), 0, s("b"), "二".into()),
                ("售前".into(), 1, s("a"), "一".into())
            ]
        );
        assert!(plan.phrases.iter().all(|p| p.owner == Some(me)));
    }
}
