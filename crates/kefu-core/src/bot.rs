//! The bot's side of a chat, as records and rules (SPEC §1.2–1.5, §1.7): the shop's bot
//! settings, the state of one buyer's bot conversation (which suggestions are on screen,
//! how many questions in a row went unanswered), the question log the learning loop reads,
//! messages left for agents (留言), and agents' own automatic replies.
//!
//! The matching itself lives in the `kefu-bot` crate; this file holds what the store keeps.

use crate::ValidationError;
use crate::ids::{AccountId, EntryId, ShopId};
use crate::settings::AutoReplies;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A shop's bot settings. Thresholds left empty use the bot's own calibrated defaults, so a
/// shop that never touched them gets the better defaults of a newer kefu.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BotSettings {
    /// Confidence at or above which the bot answers outright.
    pub answer_threshold: Option<f32>,
    /// Confidence at or above which an entry is offered as "您是不是想问".
    pub suggest_threshold: Option<f32>,
    /// How many suggestions are offered at most (1–9).
    pub max_suggestions: u8,
    /// Unanswered questions in a row after which the chat goes to a human (SPEC §1.3).
    pub failures_before_handoff: u8,
    /// Said when nothing fits; the client shows a 转人工 button with it.
    pub fallback_text: String,
    /// Said above the numbered suggestions.
    pub suggest_text: String,
    /// Said when the chat goes to a person who can take it (otherwise the away reply).
    pub handoff_text: String,
    /// The bot's intent routes a hand-over (SPEC §2.2): when the chat's last matched entry is
    /// in one of these knowledge-base categories, the chat goes to that skill group (unless
    /// its entry point already chose one).
    pub intent_groups: std::collections::BTreeMap<String, String>,
}

/// Category names shops commonly use for after-sales and pre-sales questions.
fn default_intent_groups() -> std::collections::BTreeMap<String, String> {
    [
        ("售后服务", "售后"),
        ("退换货", "售后"),
        ("退款", "售后"),
        ("售后", "售后"),
        ("商品咨询", "售前"),
        ("店铺活动", "售前"),
        ("优惠活动", "售前"),
        ("售前", "售前"),
    ]
    .into_iter()
    .map(|(c, g)| (c.to_string(), g.to_string()))
    .collect()
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            answer_threshold: None,
            suggest_threshold: None,
            max_suggestions: 3,
            failures_before_handoff: 2,
            fallback_text: "抱歉,这个问题我还没学会呢~您可以换个说法问问,或者点击“转人工”联系客服。".into(),
            suggest_text: "您是不是想问(回复数字即可):".into(),
            handoff_text: "正在为您转接人工客服,请稍候~".into(),
            intent_groups: default_intent_groups(),
        }
    }
}

impl BotSettings {
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (name, t) in [
            ("bot.answer_threshold", self.answer_threshold),
            ("bot.suggest_threshold", self.suggest_threshold),
        ] {
            if let Some(t) = t
                && !(0.0..=1.0).contains(&t)
            {
                return Err(ValidationError::new(name, "must be between 0 and 1"));
            }
        }
        if let (Some(a), Some(s)) = (self.answer_threshold, self.suggest_threshold)
            && s > a
        {
            return Err(ValidationError::new(
                "bot.suggest_threshold",
                "must not be above the answer threshold",
            ));
        }
        if !(1..=9).contains(&self.max_suggestions) {
            return Err(ValidationError::new("bot.max_suggestions", "must be between 1 and 9"));
        }
        if !(1..=10).contains(&self.failures_before_handoff) {
            return Err(ValidationError::new(
                "bot.failures_before_handoff",
                "must be between 1 and 10",
            ));
        }
        for (name, text) in [
            ("bot.fallback_text", &self.fallback_text),
            ("bot.suggest_text", &self.suggest_text),
            ("bot.handoff_text", &self.handoff_text),
        ] {
            check_reply_text(name, text)?;
        }
        if self.intent_groups.len() > 100 {
            return Err(ValidationError::new("bot.intent_groups", "name at most 100 categories"));
        }
        for (category, group) in &self.intent_groups {
            if crate::account::SkillGroup::parse(group).is_err() || category.trim().is_empty() {
                return Err(ValidationError::new(
                    "bot.intent_groups",
                    format!("“{category}” → “{group}”: name a category and a skill group of 1 to 20 characters"),
                ));
            }
        }
        Ok(())
    }

    /// The skill group the bot's intent (the category of the entry last matched) routes to.
    pub fn intent_group(&self, category: &str) -> Option<crate::account::SkillGroup> {
        self.intent_groups
            .get(category)
            .and_then(|g| crate::account::SkillGroup::parse(g).ok())
    }
}

pub const MAX_REPLY_CHARS: usize = 500;

fn check_reply_text(field: &str, text: &str) -> Result<(), ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        return Err(ValidationError::new(
            field,
            format!("is longer than {MAX_REPLY_CHARS} characters"),
        ));
    }
    Ok(())
}

/// The shop's own words for the segmenter (product names, slang such as 拍下) and its
/// synonym groups (the first word of a group is the one the others count as).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BotLexicon {
    pub words: Vec<String>,
    pub synonyms: Vec<Vec<String>>,
}

pub const MAX_LEXICON_WORDS: usize = 5000;
pub const MAX_SYNONYM_GROUPS: usize = 2000;
pub const MAX_WORD_CHARS: usize = 30;

impl BotLexicon {
    /// Trims words, drops blanks and repeats, and checks sizes.
    pub fn normalize_and_check(&mut self) -> Result<(), ValidationError> {
        fn clean(field: &str, words: &[String]) -> Result<Vec<String>, ValidationError> {
            let mut seen = std::collections::HashSet::new();
            let mut out = Vec::new();
            for w in words {
                let w = w.trim();
                if w.is_empty() || !seen.insert(w.to_string()) {
                    continue;
                }
                if w.chars().count() > MAX_WORD_CHARS || w.chars().any(char::is_whitespace) {
                    return Err(ValidationError::new(
                        field,
                        format!("“{w}” is not one word (at most {MAX_WORD_CHARS} characters, no spaces)"),
                    ));
                }
                out.push(w.to_string());
            }
            Ok(out)
        }
        self.words = clean("words", &self.words)?;
        if self.words.len() > MAX_LEXICON_WORDS {
            return Err(ValidationError::new(
                "words",
                format!("at most {MAX_LEXICON_WORDS} words"),
            ));
        }
        let mut groups = Vec::new();
        for (i, g) in self.synonyms.iter().enumerate() {
            let g = clean(&format!("synonyms[{i}]"), g)?;
            match g.len() {
                0 => continue,
                1 => {
                    return Err(ValidationError::new(
                        format!("synonyms[{i}]"),
                        "a synonym group needs at least two words",
                    ));
                }
                _ => groups.push(g),
            }
        }
        if groups.len() > MAX_SYNONYM_GROUPS {
            return Err(ValidationError::new(
                "synonyms",
                format!("at most {MAX_SYNONYM_GROUPS} groups"),
            ));
        }
        self.synonyms = groups;
        Ok(())
    }
}

/// One buyer's conversation with the bot: what is on their screen and how it is going.
/// The real-time chat (a later issue) makes this part of its conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BotSession {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub shop_id: ShopId,
    /// The widget's visitor id or the shop's buyer id, as the client gave it.
    pub visitor: String,
    /// Questions in a row the bot could not answer.
    pub failures: u8,
    /// The suggestions last offered, so that "2" means the second of them.
    pub offered: Vec<EntryId>,
    /// Set once the chat went to a human (or to leave-a-message).
    pub handed_off: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BotSession {
    pub fn new(shop_id: ShopId, visitor: String, now: DateTime<Utc>) -> BotSession {
        BotSession {
            id: Uuid::now_v7(),
            shop_id,
            visitor,
            failures: 0,
            offered: Vec::new(),
            handed_off: false,
            created_at: now,
            updated_at: now,
        }
    }

    /// Counts the outcome of one question and says whether the chat should now go to a
    /// human: after `limit` failures in a row (a suggestion the buyer never picked counts as
    /// a failure; an answer resets the count).
    pub fn record(&mut self, outcome: Outcome, limit: u8) -> bool {
        match outcome {
            Outcome::Answered => self.failures = 0,
            Outcome::Suggested | Outcome::Unknown => self.failures = self.failures.saturating_add(1),
            Outcome::Handoff => {}
        }
        outcome == Outcome::Handoff || self.failures >= limit
    }
}

/// What the bot did with one question, as logged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Answered,
    Suggested,
    Unknown,
    /// The buyer asked for a human.
    Handoff,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Suggested => "suggested",
            Outcome::Unknown => "unknown",
            Outcome::Handoff => "handoff",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "answered" => Outcome::Answered,
            "suggested" => Outcome::Suggested,
            "unknown" => Outcome::Unknown,
            "handoff" => Outcome::Handoff,
            _ => return None,
        })
    }
}

/// A question a buyer put to the bot, for hit counts, feedback and the learning loop.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BotQuestion {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub shop_id: ShopId,
    #[schema(value_type = String, format = Uuid)]
    pub session_id: Uuid,
    pub question: String,
    pub outcome: Outcome,
    /// The entry answered with, or the best candidate for a suggestion.
    pub entry_id: Option<EntryId>,
    pub confidence: f32,
    /// The buyer's "was this helpful", once.
    pub helpful: Option<bool>,
    /// The buyer picked `entry_id` from the suggestions offered for this question: the best
    /// hint the learning loop gets of what the question meant.
    pub confirmed: bool,
    /// Set once an admin handled it in the learning loop (accepted or dismissed).
    pub resolved: bool,
    pub asked_at: DateTime<Utc>,
}

/// A message left for agents when no one could take the chat (留言, SPEC §1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeaveMessage {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    pub shop_id: ShopId,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub session_id: Option<Uuid>,
    /// How the buyer wants to be called, if they said.
    pub name: String,
    /// A phone number, WeChat id or e-mail: how to reach the buyer.
    pub contact: String,
    pub text: String,
    pub status: MessageStatus,
    /// The agent's note on what was done.
    pub note: String,
    pub handled_by: Option<AccountId>,
    pub created_at: DateTime<Utc>,
    pub handled_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for an agent.
    Open,
    /// An agent got back to the buyer.
    Done,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Open => "open",
            MessageStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<MessageStatus> {
        match s {
            "open" => Some(MessageStatus::Open),
            "done" => Some(MessageStatus::Done),
            _ => None,
        }
    }
}

pub const MAX_MESSAGE_CHARS: usize = 1000;
pub const MAX_CONTACT_CHARS: usize = 100;

/// Checks a message a buyer leaves; returns it trimmed.
pub fn check_leave_message(name: &str, contact: &str, text: &str) -> Result<(String, String, String), ValidationError> {
    let (name, contact, text) = (name.trim(), contact.trim(), text.trim());
    if name.chars().count() > 50 {
        return Err(ValidationError::new("name", "is longer than 50 characters"));
    }
    if contact.is_empty() {
        return Err(ValidationError::new(
            "contact",
            "leave a phone number, WeChat id or e-mail so that we can reach you",
        ));
    }
    if contact.chars().count() > MAX_CONTACT_CHARS {
        return Err(ValidationError::new(
            "contact",
            format!("is longer than {MAX_CONTACT_CHARS} characters"),
        ));
    }
    if text.is_empty() {
        return Err(ValidationError::new("text", "must not be empty"));
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ValidationError::new(
            "text",
            format!("is longer than {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok((name.to_string(), contact.to_string(), text.to_string()))
}

/// An agent's own automatic replies (empty = use the shop's) and signature (个性签名),
/// SPEC §1.7.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AgentReplies {
    pub greeting: Option<String>,
    pub busy: Option<String>,
    pub away: Option<String>,
    /// Shown under the agent's name to buyers, e.g. 小美 · 母婴顾问 竭诚为您服务.
    pub signature: String,
}

impl AgentReplies {
    /// Trims the texts (a blank reply means "use the shop's") and checks lengths.
    pub fn normalize_and_check(&mut self) -> Result<(), ValidationError> {
        for (name, text) in [
            ("greeting", &mut self.greeting),
            ("busy", &mut self.busy),
            ("away", &mut self.away),
        ] {
            if let Some(t) = text {
                let trimmed = t.trim();
                if trimmed.is_empty() {
                    *text = None;
                    continue;
                }
                check_reply_text(name, trimmed)?;
                *t = trimmed.to_string();
            }
        }
        self.signature = self.signature.trim().to_string();
        if self.signature.chars().count() > 60 {
            return Err(ValidationError::new("signature", "is longer than 60 characters"));
        }
        Ok(())
    }

    /// The replies this agent sends: their own where set, else the shop's.
    pub fn effective(&self, shop: &AutoReplies) -> AutoReplies {
        AutoReplies {
            greeting: self.greeting.clone().unwrap_or_else(|| shop.greeting.clone()),
            busy: self.busy.clone().unwrap_or_else(|| shop.busy.clone()),
            away: self.away.clone().unwrap_or_else(|| shop.away.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoff_after_consecutive_failures() {
        let mut s = BotSession::new(ShopId::new(), "v1".into(), Utc::now());
        assert!(!s.record(Outcome::Unknown, 2));
        assert!(!s.record(Outcome::Answered, 2), "an answer resets the count");
        assert!(!s.record(Outcome::Suggested, 2));
        assert!(s.record(Outcome::Unknown, 2));
        let mut s = BotSession::new(ShopId::new(), "v2".into(), Utc::now());
        assert!(s.record(Outcome::Handoff, 2), "asking for a human hands off at once");
    }

    #[test]
    fn bot_settings_are_checked() {
        assert!(BotSettings::default().validate().is_ok());
        let bad = BotSettings {
            answer_threshold: Some(0.3),
            suggest_threshold: Some(0.5),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "bot.suggest_threshold");
        let bad = BotSettings {
            failures_before_handoff: 0,
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "bot.failures_before_handoff");
        let bad = BotSettings {
            answer_threshold: Some(1.5),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "bot.answer_threshold");
    }

    #[test]
    fn lexicon_is_cleaned() {
        let mut lx = BotLexicon {
            words: vec![" 拍下 ".into(), "拍下".into(), "".into()],
            synonyms: vec![vec!["拉拉裤".into(), "安睡裤".into()], vec![" ".into()]],
        };
        lx.normalize_and_check().unwrap();
        assert_eq!(lx.words, vec!["拍下"]);
        assert_eq!(lx.synonyms.len(), 1);
        lx.synonyms.push(vec!["只有一个".into()]);
        assert_eq!(lx.normalize_and_check().unwrap_err().field, "synonyms[1]");
        lx.synonyms.pop();
        lx.words.push("两 个".into());
        assert_eq!(lx.normalize_and_check().unwrap_err().field, "words");
    }

    #[test]
    fn leave_messages_need_contact_and_text() {
        assert_eq!(check_leave_message("", " ", "hi").unwrap_err().field, "contact");
        assert_eq!(check_leave_message("", "138", " ").unwrap_err().field, "text");
        assert_eq!(
            check_leave_message(" 王 ", " 13800000000 ", " 想问尺码 ").unwrap(),
            ("王".into(), "13800000000".into(), "想问尺码".into())
        );
    }

    #[test]
    fn agent_replies_fall_back_to_the_shop() {
        let shop = crate::settings::ShopSettings::default().auto_replies;
        let mut mine = AgentReplies {
            greeting: Some(" 我是小美~ ".into()),
            busy: Some("  ".into()),
            away: None,
            signature: " 小美 ".into(),
        };
        mine.normalize_and_check().unwrap();
        assert_eq!(mine.busy, None);
        let eff = mine.effective(&shop);
        assert_eq!(eff.greeting, "我是小美~");
        assert_eq!(eff.busy, shop.busy);
        assert_eq!(mine.signature, "小美");
    }
}
