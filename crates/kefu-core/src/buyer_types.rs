//! Buyer types (买家类型, SPEC §3.1, seed 002): the nine kinds of buyer the shop staff's training
//! material names, each with how to serve them; the agent sets one on a customer, and kefu
//! suggests one from what the buyer did — [`suggest`], pure rules over their orders, their own
//! chat messages and their complaints, each suggestion with its reason.
//!
//! What behaviour shows (the rest — 友善型, 分析型, 自我型 — is for the agent to judge):
//! - **拍下不买型**: orders placed and then closed unpaid (the buyer cancelled, or the payment
//!   timed out) — [`NO_PAY_MIN`] of them, or [`NO_PAY_MIN_OVER_PAID`] and more than were paid;
//! - **讲价型**: [`BARGAIN_MIN_MESSAGES`] or more messages asking for a lower price
//!   ([`BARGAINING_WORDS`]: 便宜点, 优惠, 少点, 包邮吧 …) — 讲了还讲;
//! - **独断型**: [`COMPLAINTS_MIN`] or more complaints and bad reviews (通常是投诉较多的客户);
//! - **交际型**: [`SOCIABLE_MIN_MESSAGES`] or more messages, and they bought (聊得愉快了就购买);
//! - **礼貌型**: thanks (谢谢, 麻烦您 …) in [`POLITE_MIN_MESSAGES`] or more messages, and they bought;
//! - **购买型**: every paid order paid without a word to the shop from [`QUIET_BEFORE_DAYS`]
//!   days before it was placed until it was paid (直接买下，很快付款，不和客服联系).
//!
//! The first that holds, in that order, is the suggestion: not paying says more than
//! bargaining, and a complaint more than chattiness.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuyerType {
    /// 友善型
    Friendly,
    /// 独断型
    Dominant,
    /// 分析型
    Analytical,
    /// 自我型
    SelfCentered,
    /// 交际型
    Sociable,
    /// 购买型
    Decisive,
    /// 礼貌型
    Polite,
    /// 讲价型
    Bargainer,
    /// 拍下不买型
    NoPay,
}

impl BuyerType {
    pub const ALL: [BuyerType; 9] = [
        BuyerType::Friendly,
        BuyerType::Dominant,
        BuyerType::Analytical,
        BuyerType::SelfCentered,
        BuyerType::Sociable,
        BuyerType::Decisive,
        BuyerType::Polite,
        BuyerType::Bargainer,
        BuyerType::NoPay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BuyerType::Friendly => "friendly",
            BuyerType::Dominant => "dominant",
            BuyerType::Analytical => "analytical",
            BuyerType::SelfCentered => "self_centered",
            BuyerType::Sociable => "sociable",
            BuyerType::Decisive => "decisive",
            BuyerType::Polite => "polite",
            BuyerType::Bargainer => "bargainer",
            BuyerType::NoPay => "no_pay",
        }
    }

    pub fn parse(s: &str) -> Option<BuyerType> {
        BuyerType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            BuyerType::Friendly => "友善型",
            BuyerType::Dominant => "独断型",
            BuyerType::Analytical => "分析型",
            BuyerType::SelfCentered => "自我型",
            BuyerType::Sociable => "交际型",
            BuyerType::Decisive => "购买型",
            BuyerType::Polite => "礼貌型",
            BuyerType::Bargainer => "讲价型",
            BuyerType::NoPay => "拍下不买型",
        }
    }

    /// What such a buyer is like (特质), after seed 002.
    pub fn traits_zh(self) -> &'static str {
        match self {
            BuyerType::Friendly => {
                "性格随和，对自己以外的人和事没有过高的要求，具备理解、宽容、真诚、信任等美德，通常是店铺的忠诚客户。"
            }
            BuyerType::Dominant => {
                "异常自信，有很强的决断力，感情强烈，不善于理解别人；对自己的任何付出一定要求回报；不能容忍欺骗、被怀疑、慢待、不被尊重；自己的想法和要求一定要被认可，不容易接受意见和建议；通常是投诉较多的客户。"
            }
            BuyerType::Analytical => {
                "情感细腻，容易被伤害，有很强的逻辑思维能力；懂道理，也讲道理。对公正的处理和合理的解释可以接受，但不愿意接受任何不公正的待遇；善于运用法律手段保护自己，但从不轻易威胁对方。"
            }
            BuyerType::SelfCentered => {
                "以自我为中心，缺乏同情心，从不习惯站在他人的立场上考虑问题；绝对不能容忍自己的利益受到任何伤害；有较强的报复心理；性格敏感多疑。"
            }
            BuyerType::Sociable => "很喜欢聊天，先和客服聊了很久，聊得愉快了就到店里购买东西。",
            BuyerType::Decisive => {
                "直接买下东西，很快付款，收到商品后也不和客服联系，直接给好评，对客服的服务较为冷淡。"
            }
            BuyerType::Polite => {
                "本来因为一件商品和客服发生了联系，如果客服热情、聊天中运用恰当的技巧，会直接在店里再买一些商品；售后做好了，或许因为不好意思还会再来店里购物。"
            }
            BuyerType::Bargainer => "讲了还讲，永不知足。",
            BuyerType::NoPay => "拍下商品却不付款，订单一再被取消或超时关闭。",
        }
    }

    /// How to serve them (策略), after seed 002.
    pub fn strategy_zh(self) -> &'static str {
        match self {
            BuyerType::Friendly => "提供最好的服务，不因为对方的宽容和理解而放松对自己的要求。",
            BuyerType::Dominant => "小心应对，尽可能满足其要求，让其有被尊重的感觉。",
            BuyerType::Analytical => "真诚对待，作出合理解释，争取对方的理解。",
            BuyerType::SelfCentered => "学会控制自己的情绪，以礼相待，对自己的过失真诚道歉。",
            BuyerType::Sociable => "对这类客户要热情，并把工作的重点放在这类客户身上。",
            BuyerType::Decisive => "不要浪费太多精力；如果执着地和他（她）保持联系，他（她）可能会认为是一种骚扰。",
            BuyerType::Polite => "尽量做到热情，能多热情就做到多热情。",
            BuyerType::Bargainer => "咬紧牙关，坚持始终如一，保持微笑。",
            BuyerType::NoPay => {
                "可以投诉、警告，也可以全当什么都没发生：因各自性格决定采取的方式，不能说哪个好，哪个不好。"
            }
        }
    }
}

/// One of the buyer's orders, as far as their type goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderFact {
    /// 拍下时间.
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// 交易关闭 before payment because the buyer cancelled or never paid (not the seller's
    /// cancellation: that is the shop's doing).
    pub closed_unpaid: bool,
}

/// A text message the buyer wrote in a chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyerMessage {
    pub at: DateTime<Utc>,
    pub text: String,
}

/// What the shop knows a buyer did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Behaviour {
    pub orders: Vec<OrderFact>,
    pub messages: Vec<BuyerMessage>,
    /// Complaints (投诉) and bad reviews (差评) about their orders.
    pub complaints: u32,
}

/// A type kefu suggests, and why (for the agent, in Chinese).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub buyer_type: BuyerType,
    pub reason: String,
}

pub const NO_PAY_MIN: usize = 3;
pub const NO_PAY_MIN_OVER_PAID: usize = 2;
pub const BARGAIN_MIN_MESSAGES: usize = 2;
pub const COMPLAINTS_MIN: u32 = 2;
pub const SOCIABLE_MIN_MESSAGES: usize = 20;
pub const POLITE_MIN_MESSAGES: usize = 2;
pub const QUIET_BEFORE_DAYS: i64 = 3;

/// Words of a buyer asking for a lower price.
pub const BARGAINING_WORDS: &[&str] = &[
    "便宜点",
    "便宜些",
    "便宜一点",
    "便宜一些",
    "能便宜",
    "再便宜",
    "少点",
    "少一点",
    "少些",
    "能少",
    "优惠",
    "打折",
    "打个折",
    "折扣",
    "包邮吧",
    "包个邮",
    "能包邮",
    "给包邮",
    "抹零",
    "抹个零",
    "零头",
    "砍价",
    "降价",
    "最低价",
    "最低多少",
    "底价",
    "送点",
    "送个",
    "便宜吗",
];

/// Words of thanks and courtesy.
pub const THANKS_WORDS: &[&str] = &["谢谢", "感谢", "多谢", "谢啦", "麻烦您", "麻烦你", "辛苦了", "辛苦您"];

fn mentions(text: &str, words: &[&str]) -> bool {
    words.iter().any(|w| text.contains(w))
}

/// The type the buyer's behaviour points to, if any (see the module's rules).
pub fn suggest(b: &Behaviour) -> Option<Suggestion> {
    let suggestion = |buyer_type, reason: String| Some(Suggestion { buyer_type, reason });
    let closed_unpaid = b.orders.iter().filter(|o| o.closed_unpaid).count();
    let paid: Vec<&OrderFact> = b.orders.iter().filter(|o| o.paid_at.is_some()).collect();
    if closed_unpaid >= NO_PAY_MIN || (closed_unpaid >= NO_PAY_MIN_OVER_PAID && closed_unpaid > paid.len()) {
        return suggestion(
            BuyerType::NoPay,
            format!(
                "{closed_unpaid} 笔订单拍下后没有付款就关闭了（已付款 {} 笔）",
                paid.len()
            ),
        );
    }
    let bargaining: Vec<&BuyerMessage> = b
        .messages
        .iter()
        .filter(|m| mentions(&m.text, BARGAINING_WORDS))
        .collect();
    if bargaining.len() >= BARGAIN_MIN_MESSAGES {
        let example: String = bargaining[bargaining.len() - 1].text.chars().take(20).collect();
        return suggestion(
            BuyerType::Bargainer,
            format!("{} 条消息在讲价，如“{example}”", bargaining.len()),
        );
    }
    if b.complaints >= COMPLAINTS_MIN {
        return suggestion(BuyerType::Dominant, format!("有 {} 次投诉或差评", b.complaints));
    }
    if b.messages.len() >= SOCIABLE_MIN_MESSAGES && !paid.is_empty() {
        return suggestion(
            BuyerType::Sociable,
            format!("聊了 {} 条消息，也买了 {} 笔", b.messages.len(), paid.len()),
        );
    }
    let polite = b.messages.iter().filter(|m| mentions(&m.text, THANKS_WORDS)).count();
    if polite >= POLITE_MIN_MESSAGES && !paid.is_empty() {
        return suggestion(
            BuyerType::Polite,
            format!("{polite} 条消息里道谢，买了 {} 笔", paid.len()),
        );
    }
    let quiet = |o: &OrderFact| {
        let from = o.created_at - Duration::days(QUIET_BEFORE_DAYS);
        let until = o.paid_at.unwrap_or(o.created_at);
        !b.messages.iter().any(|m| m.at >= from && m.at <= until)
    };
    if !paid.is_empty() && paid.iter().all(|o| quiet(o)) {
        return suggestion(
            BuyerType::Decisive,
            format!("{} 笔订单都没有咨询客服就直接付款", paid.len()),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(day: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, h, 0, 0).unwrap()
    }

    fn unpaid(day: u32) -> OrderFact {
        OrderFact {
            created_at: t(day, 10),
            paid_at: None,
            closed_unpaid: true,
        }
    }

    fn paid(day: u32) -> OrderFact {
        OrderFact {
            created_at: t(day, 10),
            paid_at: Some(t(day, 11)),
            closed_unpaid: false,
        }
    }

    fn said(day: u32, text: &str) -> BuyerMessage {
        BuyerMessage {
            at: t(day, 9),
            text: text.into(),
        }
    }

    fn kind(b: &Behaviour) -> Option<BuyerType> {
        suggest(b).map(|s| s.buyer_type)
    }

    #[test]
    fn each_rule_and_its_threshold() {
        use BuyerType::*;
        let b = |orders: Vec<OrderFact>, messages: Vec<BuyerMessage>, complaints| Behaviour {
            orders,
            messages,
            complaints,
        };
        let chat = |n: usize| (0..n).map(|i| said(5, &format!("第{i}个问题"))).collect::<Vec<_>>();
        let cases: Vec<(Behaviour, Option<BuyerType>)> = vec![
            (Behaviour::default(), None),
            // 拍下不买: three closed unpaid, or two and fewer paid.
            (b(vec![unpaid(1), unpaid(2), unpaid(3)], vec![], 0), Some(NoPay)),
            (
                b(
                    vec![unpaid(1), unpaid(2), unpaid(3), paid(4), paid(5), paid(6)],
                    vec![],
                    0,
                ),
                Some(NoPay),
            ),
            (b(vec![unpaid(1), unpaid(2)], vec![], 0), Some(NoPay)),
            (b(vec![unpaid(1), unpaid(2), paid(4), paid(5)], chat(1), 0), None),
            (b(vec![unpaid(1)], vec![], 0), None),
            // 讲价: two messages bargaining.
            (
                b(vec![], vec![said(1, "能便宜点吗"), said(1, "包邮吧亲")], 0),
                Some(Bargainer),
            ),
            (b(vec![], vec![said(1, "有优惠吗"), said(1, "好的")], 0), None),
            // 独断: complaints and bad reviews.
            (b(vec![paid(1)], vec![said(1, "在吗")], 2), Some(Dominant)),
            (b(vec![paid(1)], vec![said(1, "在吗")], 1), None),
            // 交际: a long talk, and a purchase.
            (b(vec![paid(5)], chat(20), 0), Some(Sociable)),
            (b(vec![], chat(25), 0), None),
            // 礼貌: thanks, and a purchase.
            (
                b(vec![paid(5)], vec![said(5, "谢谢亲"), said(5, "麻烦您了")], 0),
                Some(Polite),
            ),
            // 购买型: paid, never a word before paying.
            (b(vec![paid(10), paid(20)], vec![], 0), Some(Decisive)),
            (b(vec![paid(10)], vec![said(12, "收到了")], 0), Some(Decisive)),
            (b(vec![paid(10), paid(20)], vec![said(19, "有货吗")], 0), None),
            (b(vec![paid(10)], vec![said(8, "还有货吗")], 0), None),
            (b(vec![paid(10)], vec![said(6, "还有货吗")], 0), Some(Decisive)),
        ];
        for (i, (behaviour, want)) in cases.iter().enumerate() {
            assert_eq!(kind(behaviour), *want, "case {i}: {behaviour:?}");
        }
    }

    #[test]
    fn not_paying_outranks_bargaining_and_reasons_are_given() {
        let b = Behaviour {
            orders: vec![unpaid(1), unpaid(2), unpaid(3)],
            messages: vec![said(1, "便宜点"), said(2, "少点呗，包邮吧")],
            complaints: 0,
        };
        let s = suggest(&b).unwrap();
        assert_eq!(s.buyer_type, BuyerType::NoPay);
        assert_eq!(s.reason, "3 笔订单拍下后没有付款就关闭了（已付款 0 笔）");
        let b = Behaviour {
            orders: vec![paid(1)],
            ..b
        };
        let s = suggest(&b).unwrap();
        assert_eq!(s.buyer_type, BuyerType::Bargainer);
        assert_eq!(s.reason, "2 条消息在讲价，如“少点呗，包邮吧”");
    }

    #[test]
    fn the_nine_types_from_the_seeds() {
        assert_eq!(BuyerType::ALL.len(), 9);
        for t in BuyerType::ALL {
            assert_eq!(BuyerType::parse(t.as_str()), Some(t));
            assert!(!t.strategy_zh().is_empty() && !t.traits_zh().is_empty());
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        let labels: Vec<&str> = BuyerType::ALL.iter().map(|t| t.label_zh()).collect();
        assert_eq!(
            labels,
            [
                "友善型",
                "独断型",
                "分析型",
                "自我型",
                "交际型",
                "购买型",
                "礼貌型",
                "讲价型",
                "拍下不买型"
            ]
        );
        assert_eq!(BuyerType::Bargainer.strategy_zh(), "咬紧牙关，坚持始终如一，保持微笑。");
        assert_eq!(BuyerType::parse("grumpy"), None);
    }
}
