//! E-commerce questions the bot answers from the buyer's own data, not from the knowledge base
//! (SPEC §1.6): where is my parcel, order status, changing the address, invoices, the shipping
//! fee and the free-shipping threshold, and the returns policy of the buyer's order.
//!
//! Two pure steps. [`detect`] reads a buyer's message and names the [`DataIntent`], if any, by
//! keyword rules over the text as buyers write it (快递到哪了, 地址写错了, 满多少包邮 …). When
//! several match, the more specific wins: anything about a return (退货运费谁出, 寄回去邮费谁出)
//! is [`DataIntent::Returns`], not the shipping fee; a change of address beats the parcel
//! (还没发货能改地址吗); an invoice beats the parcel (发票什么时候发); the shipping fee beats the
//! parcel (快递费多少). A general 包邮吗 is still `ShippingFee`: the caller decides whether it
//! answers from data (an identified buyer with orders) or leaves it to the FAQ.
//!
//! [`answer`] then writes the reply in the shop's voice (亲 … ~) from the buyer's orders, their
//! parcels' tracking, the shop's settings and the time, and says whether an agent must take
//! over ([`DataAnswer::handoff`]): the bot explains, but it does not take a new address, issue
//! an invoice, chase a problem parcel or search for an order it cannot see.
//!
//! Text folding here is deliberately small (the core has no dictionary): full-width forms to
//! ASCII, lower case, punctuation and spaces dropped, and the traditional forms of the
//! characters the rules use (發票, 運費, 快遞 …). The bot's own normalised text
//! (`kefu_bot::text::normalize`) may be passed as well: folding it again changes nothing.

use crate::aftersales::{
    AfterSalesKind, AfterSalesReason, ShippingPayer, no_reason_deadline, return_shipping_payer, within_no_reason_window,
};
use crate::catalog::{CloseReason, Order, OrderState};
use crate::clock::TimeZone;
use crate::money::Fen;
use crate::order::{LogisticsStatus, OrderDetail, Shipment, Tracking, payment_deadline, received_at};
use crate::settings::ShopSettings;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

/// What a buyer asks that their own data answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataIntent {
    /// 快递到哪了, 什么时候发货, 单号多少.
    Parcel,
    /// 我的订单, 订单状态, 付款成功了吗.
    OrderStatus,
    /// 改地址, 地址写错了, 电话填错了.
    ChangeAddress,
    /// 发票, 开票, 税号.
    Invoice,
    /// 运费, 邮费, 包邮吗, 满多少包邮.
    ShippingFee,
    /// 退货, 退换, 七天无理由, 能退吗, 寄回去邮费谁出.
    Returns,
}

impl DataIntent {
    pub const ALL: [DataIntent; 6] = [
        DataIntent::Parcel,
        DataIntent::OrderStatus,
        DataIntent::ChangeAddress,
        DataIntent::Invoice,
        DataIntent::ShippingFee,
        DataIntent::Returns,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            DataIntent::Parcel => "查物流",
            DataIntent::OrderStatus => "订单状态",
            DataIntent::ChangeAddress => "修改地址",
            DataIntent::Invoice => "开发票",
            DataIntent::ShippingFee => "运费/包邮",
            DataIntent::Returns => "退换货",
        }
    }
}

/// The folded form the rules read: full-width to ASCII, lower case, traditional forms of the
/// rules' characters to simplified, everything that is not a letter or digit dropped.
fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => simplified(c),
        })
        .filter(|c| c.is_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Traditional → simplified for the characters the rules below are written with; the bot's
/// full conversion (fast2s) lives in `kefu-bot`, this keeps the core free of dictionaries.
fn simplified(c: char) -> char {
    match c {
        '發' => '发',
        '貨' => '货',
        '遞' => '递',
        '達' => '达',
        '單' => '单',
        '號' => '号',
        '訂' => '订',
        '態' => '态',
        '狀' => '状',
        '還' => '还',
        '沒' => '没',
        '麼' | '麽' => '么',
        '運' => '运',
        '費' => '费',
        '郵' => '邮',
        '換' => '换',
        '無' => '无',
        '開' => '开',
        '誰' => '谁',
        '寫' => '写',
        '錯' => '错',
        '個' => '个',
        '嗎' => '吗',
        '滿' => '满',
        '時' => '时',
        '裡' | '裏' => '里',
        '簽' => '签',
        '過' => '过',
        '幾' => '几',
        '買' => '买',
        '給' => '给',
        '報' => '报',
        '銷' => '销',
        '據' => '据',
        '險' => '险',
        '專' => '专',
        '稅' => '税',
        '碼' => '码',
        '變' => '变',
        '話' => '话',
        '機' => '机',
        '賬' | '帳' => '账',
        '務' => '务',
        '兒' => '儿',
        '選' => '选',
        '關' => '关',
        '閉' => '闭',
        '辦' => '办',
        '審' => '审',
        '問' => '问',
        '題' => '题',
        '質' => '质',
        '種' => '种',
        '對' => '对',
        '誤' => '误',
        '資' => '资',
        '處' => '处',
        '後' => '后',
        '麵' => '面',
        '來' => '来',
        '點' => '点',
        '長' => '长',
        '這' => '这',
        '們' => '们',
        '標' => '标',
        '認' => '认',
        '庫' => '库',
        '倉' => '仓',
        '準' => '准',
        '備' => '备',
        '聯' => '联',
        '繫' | '係' => '系',
        '電' => '电',
        '勞' => '劳',
        '稱' => '称',
        '國' => '国',
        '區' => '区',
        '遠' => '远',
        other => other,
    }
}

fn has(t: &str, words: &[&str]) -> bool {
    words.iter().any(|w| t.contains(w))
}

/// `a` followed by `b` with at most `gap` characters between them: 改地址, 改一下收货地址.
fn near(t: &str, a: &str, b: &str, gap: usize) -> bool {
    t.match_indices(a).any(|(i, _)| {
        let rest = &t[i + a.len()..];
        let end = rest
            .char_indices()
            .nth(gap + b.chars().count())
            .map_or(rest.len(), |(j, _)| j);
        rest[..end].contains(b)
    })
}

/// `word` anywhere not right after `not_after`: 单号 but not the 单号 of 订单号.
fn has_unless_after(t: &str, word: &str, not_after: char) -> bool {
    t.match_indices(word).any(|(i, _)| !t[..i].ends_with(not_after))
}

/// Where goods go back to the shop: the return's own address, not a change of the buyer's.
const RETURN_ADDRESS: &[&str] = &[
    "退货地址",
    "换货地址",
    "退换货地址",
    "寄回地址",
    "退回地址",
    "退货寄到",
    "寄回到哪",
    "寄回哪",
    "退到哪",
];

const RETURNS: &[&str] = &[
    "退货",
    "退换",
    "换货",
    "退款",
    "无理由",
    "运费险",
    "寄回",
    "退回去",
    "退掉",
    "想退",
    "要退",
    "能退",
    "可以退",
    "能不能退",
    "可不可以退",
    "包退",
    "退吗",
    "退了",
    "取消订单",
    "把订单取消",
    "订单取消掉",
    "取消掉订单",
    "取消一下订单",
    "不想要了",
    "拍错了",
    "换尺码",
    "换个尺码",
    "换码",
    "换大一",
    "换小一",
    "售后",
];

/// Fields of the delivery details (收货信息) a buyer may have got wrong.
const DELIVERY_FIELDS: &[&str] = &["地址", "电话", "手机号", "联系方式", "收货人", "收件人", "收货信息"];
const CHANGE_BEFORE: &[&str] = &["改", "换", "更新"];
const CHANGE_AFTER: &[&str] = &["改", "换", "错", "不对", "有误", "变"];

const INVOICE: &[&str] = &["发票", "开票", "普票", "专票", "税号", "增值税", "报销", "收据"];

const SHIPPING_FEE: &[&str] = &["运费", "邮费", "快递费", "包邮", "免邮", "免运费", "邮资", "配送费"];

const PARCEL: &[&str] = &[
    "快递到哪",
    "到哪了",
    "到哪里了",
    "到哪儿了",
    "到哪啦",
    "物流",
    "还没到",
    "没收到",
    "什么时候到",
    "啥时候到",
    "多久到",
    "几天到",
    "几天能到",
    "多久能到",
    "什么时候能到",
    "什么时候发",
    "啥时候发",
    "几时发",
    "多久发",
    "几天发",
    "多久能发",
    "发货了吗",
    "发货了没",
    "发货没",
    "发了吗",
    "发了没",
    "发出了吗",
    "发出去了吗",
    "还没发",
    "还不发",
    "不发货",
    "没发货",
    "查快递",
    "查物流",
    "查件",
    "包裹",
    "签收",
    "派送",
    "派件",
    "催发货",
    "快点发",
    "尽快发",
];

const ORDER_STATUS: &[&str] = &[
    "我的订单",
    "订单状态",
    "订单怎么",
    "订单呢",
    "订单情况",
    "订单显示",
    "查订单",
    "查一下订单",
    "看下订单",
    "看一下订单",
    "订单号",
    "订单编号",
    "订单关闭",
    "订单被关闭",
    "订单取消了",
    "订单被取消",
    "订单没了",
    "订单什么",
    "交易关闭",
    "付款了吗",
    "付款了没",
    "付款成功",
    "支付成功",
    "付款失败",
    "支付失败",
    "付上了吗",
    "付款没成功",
    "已经付款",
    "已付款",
    "我付款了",
    "付过款",
    "拍下了吗",
    "下单成功",
    "下好单",
];

/// The data intent of a buyer's message, if it has one (see the module doc for the order in
/// which the rules apply).
pub fn detect(text: &str) -> Option<DataIntent> {
    let folded = fold(text);
    // 退订 is unsubscribing from messages (`customers::asks_to_opt_out`), never a return.
    let t = folded.replace("退订", "");
    let t = t.as_str();
    if t.is_empty() {
        return None;
    }
    if has(t, RETURN_ADDRESS) {
        return Some(DataIntent::Returns);
    }
    let change_delivery = DELIVERY_FIELDS
        .iter()
        .any(|f| CHANGE_BEFORE.iter().any(|v| near(t, v, f, 4)) || CHANGE_AFTER.iter().any(|v| near(t, f, v, 3)));
    if change_delivery {
        return Some(DataIntent::ChangeAddress);
    }
    if has(t, RETURNS) {
        return Some(DataIntent::Returns);
    }
    if has(t, INVOICE) {
        return Some(DataIntent::Invoice);
    }
    if has(t, SHIPPING_FEE) {
        return Some(DataIntent::ShippingFee);
    }
    if has(t, PARCEL) || has_unless_after(t, "单号", '订') {
        return Some(DataIntent::Parcel);
    }
    if has(t, ORDER_STATUS) || t == "订单" {
        return Some(DataIntent::OrderStatus);
    }
    None
}

/// One of the buyer's orders, with its parcel's tracking when the shop has it.
#[derive(Clone, Copy, Debug)]
pub struct BuyerOrder<'a> {
    pub detail: &'a OrderDetail,
    pub tracking: Option<&'a Tracking>,
}

/// What the bot knows about an identified buyer when it answers: their orders in this shop
/// (any order; the newest by 拍下时间 counts as the latest), the shop's settings and the time.
#[derive(Clone, Copy, Debug)]
pub struct BuyerOrders<'a> {
    pub orders: &'a [BuyerOrder<'a>],
    pub settings: &'a ShopSettings,
    pub now: DateTime<Utc>,
}

/// The bot's reply to a data question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataAnswer {
    /// The reply, in the shop's voice.
    pub text: String,
    /// The order the reply is about, for the agent and the log.
    pub order_no: Option<String>,
    /// An agent must take over: the reply says so and the caller hands the chat off
    /// (a new address to enter, an invoice to issue, a parcel in trouble, an order the bot
    /// cannot find, a shipping fee to waive).
    pub handoff: bool,
}

/// Answers `intent` for the buyer from their data; times are shown in `tz` (the shop's zone,
/// `settings.time_zone`).
pub fn answer(intent: DataIntent, data: &BuyerOrders, tz: &TimeZone) -> DataAnswer {
    let a = Answerer { data, tz };
    match intent {
        DataIntent::Parcel => a.parcel(),
        DataIntent::OrderStatus => a.order_status(),
        DataIntent::ChangeAddress => a.change_address(),
        DataIntent::Invoice => a.invoice(),
        DataIntent::ShippingFee => a.shipping_fee(),
        DataIntent::Returns => a.returns(),
    }
}

const NOT_FOUND: &str =
    "亲，没有查到您在本店的订单呢~ 如果是用其他账号下的单，请把订单号发给我们，已为您转人工客服查询~";

struct Answerer<'d, 'a> {
    data: &'d BuyerOrders<'a>,
    tz: &'d TimeZone,
}

fn reply(text: String, o: Option<&Order>, handoff: bool) -> DataAnswer {
    DataAnswer {
        text,
        order_no: o.map(|o| o.order_no.clone()),
        handoff,
    }
}

fn close_reason_zh(r: Option<CloseReason>) -> &'static str {
    match r {
        Some(CloseReason::BuyerCancelled) => "买家取消了订单",
        Some(CloseReason::SellerCancelled) => "卖家取消了订单",
        Some(CloseReason::PaymentTimeout) => "超时未付款，系统自动关闭",
        Some(CloseReason::Refunded) => "已退款",
        None => "交易关闭",
    }
}

/// 婴儿连体衣×2, 婴儿连体衣等3件宝贝.
fn goods(o: &Order) -> String {
    match o.items.as_slice() {
        [] => "宝贝".to_owned(),
        [one] if one.quantity > 1 => format!("{}×{}", one.title, one.quantity),
        [one] => one.title.clone(),
        [first, ..] => format!(
            "{}等{}件宝贝",
            first.title,
            o.items.iter().map(|i| i.quantity.max(0)).sum::<i64>()
        ),
    }
}

/// What the goods cost without shipping.
fn goods_amount(o: &Order) -> Fen {
    o.total().map_or(Fen::ZERO, |t| Fen(t.0 - o.shipping_fee.0))
}

impl<'a> Answerer<'_, 'a> {
    /// An instant as the shop's buyers read it: `11月23日 14:05`, with the year when it is not
    /// this year's.
    fn when(&self, at: DateTime<Utc>) -> String {
        let d = self.tz.local_date(at);
        let (_, t) = self.tz.local(at);
        if d.year() == self.tz.local_date(self.data.now).year() {
            format!("{}月{}日 {t}", d.month(), d.day())
        } else {
            format!("{}年{}月{}日 {t}", d.year(), d.month(), d.day())
        }
    }

    /// The newest order (by 拍下时间; the first given among equals) that `keep` accepts.
    fn newest(&self, keep: impl Fn(&Order) -> bool) -> Option<BuyerOrder<'a>> {
        let mut best: Option<BuyerOrder<'a>> = None;
        for o in self.data.orders.iter().filter(|o| keep(&o.detail.order)) {
            if best.is_none_or(|b| o.detail.order.created_at > b.detail.order.created_at) {
                best = Some(*o);
            }
        }
        best
    }

    fn newest_in(&self, states: &[OrderState]) -> Option<BuyerOrder<'a>> {
        self.newest(|o| states.contains(&o.state))
    }

    /// The first of `preferences` that finds an order.
    fn pick(&self, preferences: &[&[OrderState]]) -> Option<BuyerOrder<'a>> {
        preferences.iter().find_map(|states| self.newest_in(states))
    }

    fn shipment<'s>(&self, o: &BuyerOrder<'s>) -> Option<&'s Shipment> {
        o.detail.shipment.as_ref().or(o.tracking.map(|t| &t.shipment))
    }

    /// 由中通快递发出，运单号 773012345678
    fn sent_by(&self, o: &BuyerOrder) -> String {
        match self.shipment(o) {
            Some(s) => format!("由{}发出，运单号 {}", s.carrier, s.tracking_no),
            None => match o.detail.order.shipped_at {
                Some(at) => format!("已于 {} 发货", self.when(at)),
                None => "已经发货".to_owned(),
            },
        }
    }

    fn parcel(&self) -> DataAnswer {
        use OrderState::*;
        let Some(o) = self.pick(&[&[Shipped], &[Paid], &[Completed], &[AwaitingPayment], &OrderState::ALL]) else {
            return reply(NOT_FOUND.into(), None, true);
        };
        let order = &o.detail.order;
        let no = &order.order_no;
        let mut handoff = false;
        let mut text = match order.state {
            Shipped | Completed => {
                let mut s = format!("亲，您的订单 {no} {}", self.sent_by(&o));
                if let Some(at) = order.completed_at {
                    s += &format!("，已于 {} 确认收货（交易成功）", self.when(at));
                }
                match o.tracking.and_then(Tracking::latest) {
                    Some(e) => {
                        let place = if e.location.trim().is_empty() {
                            String::new()
                        } else {
                            format!("【{}】", e.location.trim())
                        };
                        s += &format!("，最新物流：{} {place}{}", self.when(e.at), e.text.trim());
                        match e.status {
                            LogisticsStatus::Exception | LogisticsStatus::Returned => {
                                handoff = true;
                                s += &format!(
                                    "。包裹显示{}，已为您转人工客服联系快递处理，请稍等~",
                                    e.status.label_zh()
                                );
                            }
                            LogisticsStatus::Delivered => s += "。如果您没有收到包裹，回复「人工」为您核实~",
                            _ => s += "~",
                        }
                    }
                    None if order.state == Shipped => {
                        s += "，暂时还没有物流更新，快递揽收后就能查到啦，请耐心等待~";
                    }
                    None => s += "~",
                }
                s
            }
            Paid => format!(
                "亲，您的订单 {no}（{}）已于 {} 付款，还没有发货，我们会尽快为您安排发出，发货后就能查到物流啦~",
                goods(order),
                order.paid_at.map_or_else(String::new, |at| self.when(at)),
            ),
            AwaitingPayment => {
                let mut s = format!("亲，您的订单 {no} 还在等待付款，付款后我们会尽快为您发货");
                if let Some(d) = payment_deadline(order, self.data.settings) {
                    s += &format!("，请在 {} 前完成付款哦~", self.when(d));
                } else {
                    s += "~";
                }
                s
            }
            Closed => format!(
                "亲，您的订单 {no} 已关闭（{}），不会发货哦~ 如果还需要，可以重新下单~",
                close_reason_zh(order.close_reason)
            ),
        };
        let others: Vec<String> = self
            .data
            .orders
            .iter()
            .filter(|x| x.detail.order.id != order.id && matches!(x.detail.order.state, Paid | Shipped))
            .take(2)
            .map(|x| format!("{}（{}）", x.detail.order.order_no, x.detail.order.state.label_zh()))
            .collect();
        if !others.is_empty() {
            text += &format!(
                "\n另外您还有订单 {}，需要查哪一单可以把订单号发给我~",
                others.join("、")
            );
        }
        reply(text, Some(order), handoff)
    }

    fn order_status(&self) -> DataAnswer {
        let Some(o) = self.newest(|_| true) else {
            return reply(NOT_FOUND.into(), None, true);
        };
        let order = &o.detail.order;
        let total = order.total().unwrap_or(Fen::ZERO);
        let mut text = format!(
            "亲，您最近的订单 {}（{}，共 {total}）状态是「{}」：{} 拍下",
            order.order_no,
            goods(order),
            order.state.label_zh(),
            self.when(order.created_at),
        );
        for (at, what) in [
            (order.paid_at, "付款"),
            (order.shipped_at, "发货"),
            (order.completed_at, "确认收货"),
        ] {
            if let Some(at) = at {
                text += &format!("，{} {what}", self.when(at));
            }
        }
        match order.state {
            OrderState::AwaitingPayment => match payment_deadline(order, self.data.settings) {
                Some(d) if self.data.now < d => {
                    text += &format!("。请在 {} 前付款，超时订单会自动关闭哦~", self.when(d));
                }
                _ => text += "。付款时间已过，订单将自动关闭，如果还需要可以重新下单~",
            },
            OrderState::Paid => text += "。我们会尽快为您发货~",
            OrderState::Shipped => text += &format!("。包裹{}~", self.sent_by(&o)),
            OrderState::Completed => text += "。感谢您的支持，有问题随时找我们~",
            OrderState::Closed => {
                if let Some(at) = order.closed_at {
                    text += &format!("，{} 关闭", self.when(at));
                }
                text += &format!("（{}）~", close_reason_zh(order.close_reason));
            }
        }
        reply(text, Some(order), false)
    }

    fn change_address(&self) -> DataAnswer {
        use OrderState::*;
        let Some(o) = self.pick(&[&[AwaitingPayment, Paid, Shipped, Completed], &[Closed]]) else {
            return reply(NOT_FOUND.into(), None, true);
        };
        let order = &o.detail.order;
        let no = &order.order_no;
        match order.state {
            AwaitingPayment | Paid => reply(
                format!(
                    "亲，您的订单 {no} 还没有发货，可以修改收货地址~ 请把新的收货人、电话和详细地址发给我们，已为您转人工客服修改，改好后以新地址发货~"
                ),
                Some(order),
                true,
            ),
            Shipped => reply(
                format!(
                    "亲，您的订单 {no} 已经{}，发货后就不能修改收货地址了。您可以联系快递公司改派，或者拒收后重新下单填写新地址哦~",
                    self.sent_by(&o)
                ),
                Some(order),
                false,
            ),
            Completed => reply(
                format!("亲，您的订单 {no} 已经签收，交易成功，不能再修改收货地址了；下次下单时记得选对地址哦~"),
                Some(order),
                false,
            ),
            Closed => reply(
                format!(
                    "亲，您的订单 {no} 已关闭（{}），没有需要修改的地址；如果还需要，重新下单时填写新地址就可以啦~",
                    close_reason_zh(order.close_reason)
                ),
                Some(order),
                false,
            ),
        }
    }

    fn invoice(&self) -> DataAnswer {
        use OrderState::*;
        let note = self.data.settings.invoice_note.trim();
        let note = if note.is_empty() {
            String::new()
        } else {
            format!("{note}。")
        };
        let Some(o) = self.pick(&[&[Paid, Shipped, Completed], &[AwaitingPayment], &[Closed]]) else {
            return reply(
                format!("亲，{note}需要发票的话，下单付款后把订单号、发票抬头和税号发给我们，客服会为您办理~"),
                None,
                false,
            );
        };
        let order = &o.detail.order;
        let no = &order.order_no;
        let paid = order.total().unwrap_or(Fen::ZERO);
        match order.state {
            Paid | Shipped | Completed => reply(
                format!(
                    "亲，{note}您的订单 {no} 的发票金额以实付 {paid} 为准，请把发票抬头（个人或单位名称）和税号发给我们，已为您转人工客服开具~"
                ),
                Some(order),
                true,
            ),
            AwaitingPayment => reply(
                format!(
                    "亲，{note}您的订单 {no} 还没有付款，付款后把发票抬头和税号发给我们，客服会按实付金额为您开具~"
                ),
                Some(order),
                false,
            ),
            Closed => reply(
                format!(
                    "亲，您的订单 {no} 已关闭（{}），没有可以开票的金额哦~ {note}",
                    close_reason_zh(order.close_reason)
                )
                .trim_end()
                .to_owned(),
                Some(order),
                false,
            ),
        }
    }

    fn shipping_fee(&self) -> DataAnswer {
        let threshold = self.data.settings.free_shipping_threshold;
        let Some(o) = self.newest_in(&[OrderState::AwaitingPayment]) else {
            let text = match threshold {
                Some(Fen::ZERO) => "亲，本店全场包邮哦~".to_owned(),
                Some(t) => format!("亲，本店满 {t} 包邮（按商品金额算，不含运费），不满的话运费以下单页面显示为准~"),
                None => {
                    "亲，运费以下单页面显示为准，不同地区可能不一样；拍下后可以把订单号发给我们帮您核对~".to_owned()
                }
            };
            return reply(text, None, false);
        };
        let order = &o.detail.order;
        let no = &order.order_no;
        let fee = order.shipping_fee;
        let amount = goods_amount(order);
        if fee <= Fen::ZERO {
            return reply(
                format!("亲，您的订单 {no} 是包邮的哦，不需要另付运费~"),
                Some(order),
                false,
            );
        }
        let text = match threshold {
            Some(t) if amount >= t => {
                let rule = if t == Fen::ZERO {
                    "本店全场包邮".to_owned()
                } else {
                    format!("已满 {t} 包邮")
                };
                return reply(
                    format!(
                        "亲，您的订单 {no} 商品金额 {amount}，{rule}，这单的运费 {fee} 可以为您免掉~ 已为您转人工客服修改价格，改好后再付款就可以啦~"
                    ),
                    Some(order),
                    true,
                );
            }
            Some(t) => format!(
                "亲，您的订单 {no} 运费 {fee}（商品金额 {amount}）。本店满 {t} 包邮，再买 {} 就可以包邮啦~",
                Fen(t.0 - amount.0)
            ),
            None => format!(
                "亲，您的订单 {no} 运费 {fee}，合计 {}（含运费）~",
                order.total().unwrap_or(Fen::ZERO)
            ),
        };
        reply(text, Some(order), false)
    }

    /// Who pays the parcel back for a no-reason return, and that faults are the shop's.
    fn who_pays(&self, insured: bool) -> String {
        let no_reason = return_shipping_payer(AfterSalesKind::ReturnRefund, AfterSalesReason::NoReason, insured);
        let fault = return_shipping_payer(AfterSalesKind::ReturnRefund, AfterSalesReason::QualityProblem, insured);
        let first = match no_reason {
            Some(ShippingPayer::Insurance) => "您的订单买了运费险，无理由退货寄回的运费由运费险理赔",
            Some(ShippingPayer::Seller) => "无理由退货寄回的运费由我们承担",
            _ => "无理由退货寄回的运费需要您承担",
        };
        let second = match fault {
            Some(ShippingPayer::Seller) => "如果是质量问题、发错货或与描述不符，寄回运费由我们承担",
            _ => "如果是质量问题，请联系客服处理",
        };
        format!("{first}；{second}")
    }

    fn returns(&self) -> DataAnswer {
        use OrderState::*;
        let generic = format!(
            "亲，本店支持七天无理由退换货（签收后 {} 天内，商品需保持完好）。{}~",
            crate::aftersales::NO_REASON_DAYS,
            self.who_pays(false)
        );
        let Some(o) = self.pick(&[&[Shipped, Completed], &[Paid], &[AwaitingPayment], &[Closed]]) else {
            return reply(generic, None, false);
        };
        let order = &o.detail.order;
        let no = &order.order_no;
        let insured = o.detail.shipping_insurance;
        let now = self.data.now;
        let text = match order.state {
            Shipped | Completed => match received_at(order, o.tracking) {
                None => format!(
                    "亲，您的订单 {no} 还在运输途中，不想要的话可以直接拒收，或者签收后 {} 天内申请七天无理由退货。{}~",
                    crate::aftersales::NO_REASON_DAYS,
                    self.who_pays(insured)
                ),
                Some(r) if within_no_reason_window(Some(r), now) => format!(
                    "亲，您的订单 {no} 于 {} 签收，还在七天无理由退换期内，{} 前都可以申请退货退款或换货（商品需保持完好）。{}~",
                    self.when(r),
                    self.when(no_reason_deadline(r)),
                    self.who_pays(insured)
                ),
                Some(r) => format!(
                    "亲，您的订单 {no} 于 {} 签收，七天无理由退换已在 {} 截止。如果商品有质量问题、发错货或与描述不符，仍然可以申请售后，寄回运费由我们承担，回复「人工」为您处理~",
                    self.when(r),
                    self.when(no_reason_deadline(r)),
                ),
            },
            Paid => {
                format!("亲，您的订单 {no} 还没有发货，不想要的话可以直接申请退款（仅退款），不用寄回，款项会原路退回~")
            }
            AwaitingPayment => format!("亲，您的订单 {no} 还没有付款，不想要的话直接取消订单就可以啦，不会扣款哦~"),
            Closed => format!(
                "亲，您的订单 {no} 已关闭（{}），不需要再退货啦~ {generic}",
                close_reason_zh(order.close_reason)
            ),
        };
        reply(text, Some(order), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::tests::{completed, paid, shipped, t0, through, unpaid};
    use crate::order::{LogisticsEvent, OrderAction};
    use chrono::Duration;

    #[test]
    fn detects_buyers_phrasings() {
        use DataIntent::*;
        let cases: &[(&str, Option<DataIntent>)] = &[
            // where is my parcel, when does it ship
            ("快递到哪了", Some(Parcel)),
            ("亲，我的快递到哪了？", Some(Parcel)),
            ("物流怎么一直不动", Some(Parcel)),
            ("怎么还没到啊", Some(Parcel)),
            ("都三天了还没收到货", Some(Parcel)),
            ("什么时候发货", Some(Parcel)),
            ("啥时候发货呀", Some(Parcel)),
            ("发货了吗", Some(Parcel)),
            ("付款了怎么还没发货", Some(Parcel)),
            ("单号发我一下", Some(Parcel)),
            ("ＳＦ单号多少", Some(Parcel)),
            ("我的快遞到哪了", Some(Parcel)),
            ("显示已签收但我没拿到", Some(Parcel)),
            ("多久能到北京", Some(Parcel)),
            ("我的订单到哪了", Some(Parcel)),
            // order status
            ("我的订单", Some(OrderStatus)),
            ("订单状态", Some(OrderStatus)),
            ("帮我查一下订单", Some(OrderStatus)),
            ("付款了吗", Some(OrderStatus)),
            ("我付款成功了吗", Some(OrderStatus)),
            ("订单号是多少", Some(OrderStatus)),
            ("为什么交易关闭了", Some(OrderStatus)),
            ("订单", Some(OrderStatus)),
            // change address, before the parcel
            ("改地址", Some(ChangeAddress)),
            ("地址写错了", Some(ChangeAddress)),
            ("能换个地址吗", Some(ChangeAddress)),
            ("还没发货的话能改地址吗", Some(ChangeAddress)),
            ("我想改一下收货地址", Some(ChangeAddress)),
            ("收货地址能改吗", Some(ChangeAddress)),
            ("电话填错了", Some(ChangeAddress)),
            ("修改地址，快递别发了", Some(ChangeAddress)),
            // invoice, before the parcel and the fee
            ("发票", Some(Invoice)),
            ("可以开发票吗", Some(Invoice)),
            ("能开票吗", Some(Invoice)),
            ("發票怎麼開", Some(Invoice)),
            ("发票什么时候发", Some(Invoice)),
            ("公司报销要发票，税号怎么填", Some(Invoice)),
            // shipping fee
            ("运费多少", Some(ShippingFee)),
            ("邮费怎么算", Some(ShippingFee)),
            ("包邮吗", Some(ShippingFee)),
            ("满多少包邮", Some(ShippingFee)),
            ("新疆包邮吗？", Some(ShippingFee)),
            ("快递费多少钱", Some(ShippingFee)),
            ("運費多少", Some(ShippingFee)),
            // returns, before the fee and the parcel
            ("退货", Some(Returns)),
            ("怎么退换", Some(Returns)),
            ("支持七天无理由吗", Some(Returns)),
            ("7天无理由退货吗", Some(Returns)),
            ("能退吗", Some(Returns)),
            ("寄回去邮费谁出", Some(Returns)),
            ("退货运费谁出", Some(Returns)),
            ("有运费险吗", Some(Returns)),
            ("退货地址是哪里", Some(Returns)),
            ("换货地址发我", Some(Returns)),
            ("衣服小了能换尺码吗", Some(Returns)),
            ("不想要了", Some(Returns)),
            ("我要取消订单", Some(Returns)),
            ("退款什么时候到账", Some(Returns)),
            ("可以退貨嗎", Some(Returns)),
            ("快递到了想退货", Some(Returns)),
            // not data questions
            ("这款衣服什么材质", None),
            ("有优惠券吗", None),
            ("宝宝几个月能穿", None),
            ("在吗", None),
            ("你好", None),
            ("尺码怎么选", None),
            ("发什么快递", None),
            ("从哪里发货", None),
            ("有现货吗", None),
            ("能便宜点吗", None),
            ("满多少减", None),
            ("退订", None),
            ("TD", None),
            ("转人工", None),
            ("会掉色吗", None),
            ("宝宝会抬头了", None),
            ("有别的颜色吗", None),
            ("谢谢亲", None),
            ("2", None),
            ("", None),
            ("  ？？？ ", None),
        ];
        assert!(cases.len() >= 40);
        for (text, want) in cases {
            assert_eq!(detect(text), *want, "{text:?}");
        }
    }

    #[test]
    fn intents_speak_snake_case() {
        let v = serde_json::to_value(DataIntent::ChangeAddress).unwrap();
        assert_eq!(v, "change_address");
        let names: Vec<_> = DataIntent::ALL
            .iter()
            .map(|i| serde_json::to_value(i).unwrap().as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "parcel",
                "order_status",
                "change_address",
                "invoice",
                "shipping_fee",
                "returns"
            ]
        );
        assert!(DataIntent::ALL.iter().all(|i| !i.label_zh().is_empty()));
    }

    #[test]
    fn near_counts_characters_between() {
        assert!(near("改一下收货地址", "改", "地址", 4));
        assert!(!near("改一下收货的地址", "改", "地址", 4));
        assert!(near("地址写错了", "地址", "错", 3));
        assert!(!has_unless_after("订单号", "单号", '订'));
        assert!(has_unless_after("订单号和快递单号", "单号", '订'));
        assert_eq!(fold("ＳＦ２ 發貨？"), "sf2发货");
    }

    fn h(n: i64) -> DateTime<Utc> {
        t0() + Duration::hours(n)
    }

    fn closed() -> OrderDetail {
        through(&[OrderAction::Cancel {
            reason: "缺货".into()
        }])
    }

    fn refunded() -> OrderDetail {
        through(&[OrderAction::Pay, OrderAction::CloseRefunded])
    }

    fn event(at: DateTime<Utc>, status: LogisticsStatus, location: &str, text: &str) -> LogisticsEvent {
        LogisticsEvent {
            at,
            status,
            location: location.into(),
            text: text.into(),
        }
    }

    /// 顺丰 collected at h(3) and out for delivery at h(20) (23 Nov 13:00 and 24 Nov 06:00 in
    /// Shanghai); with `delivered_at`, signed for then.
    fn tracking(o: &OrderDetail, delivered_at: Option<DateTime<Utc>>) -> Tracking {
        use LogisticsStatus::*;
        let mut events = vec![
            event(h(3), Collected, "杭州市", "快件已揽收"),
            event(h(20), OutForDelivery, "上海市", "快件正在派送中"),
        ];
        if let Some(at) = delivered_at {
            events.push(event(at, Delivered, "上海市", "快件已由【菜鸟驿站】签收"));
        }
        Tracking::new(o.shipment.clone().unwrap(), events)
    }

    fn ask(intent: DataIntent, orders: &[BuyerOrder], settings: &ShopSettings, now: DateTime<Utc>) -> DataAnswer {
        let data = BuyerOrders { orders, settings, now };
        answer(intent, &data, &settings.time_zone)
    }

    fn one(o: &OrderDetail, t: Option<&Tracking>, intent: DataIntent) -> DataAnswer {
        ask(
            intent,
            &[BuyerOrder { detail: o, tracking: t }],
            &ShopSettings::default(),
            h(30),
        )
    }

    /// (what the reply must contain, handoff)
    type Want<'a> = (&'a [&'a str], bool);

    fn check(label: &str, got: &DataAnswer, want: Want, order_no: Option<&str>) {
        for w in want.0 {
            assert!(got.text.contains(w), "{label}: {w:?} missing in {:?}", got.text);
        }
        assert!(got.text.starts_with("亲"), "{label}: {}", got.text);
        assert_eq!(got.handoff, want.1, "{label}: {}", got.text);
        assert_eq!(got.order_no.as_deref(), order_no, "{label}");
    }

    #[test]
    fn every_intent_in_every_order_state() {
        use DataIntent::*;
        let no = "3056789012345678";
        let (u, p, s, c, x, r) = (unpaid(), paid(), shipped(), completed(), closed(), refunded());
        let in_transit = tracking(&s, None);
        let delivered = tracking(&c, Some(h(26)));
        // (intent, order, tracking, wanted)
        let cases: Vec<(DataIntent, &OrderDetail, Option<&Tracking>, Want)> = vec![
            (Parcel, &u, None, (&["等待付款", "11月26日 10:00 前完成付款"], false)),
            (
                Parcel,
                &p,
                None,
                (&["还没有发货", "11月23日 11:00 付款", "尽快"], false),
            ),
            (
                Parcel,
                &s,
                Some(&in_transit),
                (
                    &[
                        "由顺丰速运发出，运单号 SF1234567890123",
                        "最新物流：11月24日 06:00 【上海市】快件正在派送中",
                    ],
                    false,
                ),
            ),
            (Parcel, &s, None, (&["顺丰速运", "暂时还没有物流更新"], false)),
            (
                Parcel,
                &c,
                Some(&delivered),
                (
                    &[
                        "11月23日 13:00 确认收货（交易成功），最新物流：11月24日 12:00 【上海市】快件已由【菜鸟驿站】签收",
                        "回复「人工」",
                    ],
                    false,
                ),
            ),
            (Parcel, &x, None, (&["已关闭", "卖家取消了订单", "不会发货"], false)),
            (
                OrderStatus,
                &u,
                None,
                (
                    &["「等待买家付款」", "11月23日 10:00 拍下", "11月26日 10:00 前付款"],
                    false,
                ),
            ),
            (
                OrderStatus,
                &p,
                None,
                (&["「买家已付款」", "11月23日 11:00 付款", "共 ¥143.00"], false),
            ),
            (
                OrderStatus,
                &s,
                None,
                (&["「卖家已发货」", "11月23日 12:00 发货", "SF1234567890123"], false),
            ),
            (
                OrderStatus,
                &c,
                None,
                (&["「交易成功」", "11月23日 13:00 确认收货"], false),
            ),
            (
                OrderStatus,
                &x,
                None,
                (&["「交易关闭」", "卖家取消了订单", "关闭"], false),
            ),
            (OrderStatus, &r, None, (&["「交易关闭」", "已退款"], false)),
            (ChangeAddress, &u, None, (&["还没有发货", "可以修改", "转人工"], true)),
            (ChangeAddress, &p, None, (&["还没有发货", "可以修改", "转人工"], true)),
            (
                ChangeAddress,
                &s,
                Some(&in_transit),
                (&["发货后就不能修改", "顺丰速运", "拒收后重新下单"], false),
            ),
            (ChangeAddress, &c, None, (&["交易成功", "不能再修改"], false)),
            (ChangeAddress, &x, None, (&["已关闭", "没有需要修改"], false)),
            (Invoice, &u, None, (&["还没有付款", "付款后"], false)),
            (Invoice, &p, None, (&["实付 ¥143.00", "抬头", "转人工"], true)),
            (Invoice, &s, None, (&["实付 ¥143.00", "转人工"], true)),
            (Invoice, &c, None, (&["实付 ¥143.00", "转人工"], true)),
            (Invoice, &x, None, (&["已关闭", "没有可以开票"], false)),
            (ShippingFee, &u, None, (&["运费 ¥10.00", "合计 ¥143.00"], false)),
            (ShippingFee, &p, None, (&["运费以下单页面显示为准"], false)),
            (ShippingFee, &c, None, (&["运费以下单页面显示为准"], false)),
            (Returns, &u, None, (&["还没有付款", "取消订单"], false)),
            (Returns, &p, None, (&["还没有发货", "仅退款"], false)),
            (
                Returns,
                &s,
                Some(&in_transit),
                (&["运输途中", "拒收", "运费需要您承担"], false),
            ),
            (
                Returns,
                &c,
                Some(&delivered),
                (
                    &["11月23日 13:00 签收", "11月30日 13:00 前", "运费需要您承担", "质量问题"],
                    false,
                ),
            ),
            (Returns, &x, None, (&["已关闭", "七天无理由"], false)),
        ];
        for (intent, o, t, want) in cases {
            let label = format!("{intent:?} for {:?}", o.order.state);
            let no_for = if matches!(intent, ShippingFee) && o.order.state != OrderState::AwaitingPayment {
                None
            } else {
                Some(no)
            };
            check(&label, &one(o, t, intent), want, no_for);
        }
    }

    #[test]
    fn no_orders_hand_off_or_answer_generally() {
        use DataIntent::*;
        let s = ShopSettings::default();
        for intent in DataIntent::ALL {
            let a = ask(intent, &[], &s, h(1));
            assert_eq!(a.order_no, None);
            let found = matches!(intent, Parcel | OrderStatus | ChangeAddress);
            assert_eq!(a.handoff, found, "{intent:?}: {}", a.text);
            if found {
                assert!(a.text.contains("没有查到"), "{}", a.text);
            }
        }
        assert!(
            ask(Returns, &[], &s, h(1))
                .text
                .contains("七天无理由退换货（签收后 7 天内")
        );
        assert!(ask(Invoice, &[], &s, h(1)).text.contains("抬头"));
    }

    #[test]
    fn the_no_reason_window_ends_exactly_seven_days_after_receipt() {
        let c = completed(); // confirmed at h(3): 23 Nov 13:00 in Shanghai
        let deadline = h(3) + Duration::days(7);
        let s = ShopSettings::default();
        for (now, open) in [
            (deadline - Duration::seconds(1), true),
            (deadline, false),
            (deadline + Duration::days(3), false),
        ] {
            let a = ask(
                DataIntent::Returns,
                &[BuyerOrder {
                    detail: &c,
                    tracking: None,
                }],
                &s,
                now,
            );
            assert_eq!(a.text.contains("还在七天无理由退换期内"), open, "{now}: {}", a.text);
            assert_eq!(a.text.contains("已在 11月30日 13:00 截止"), !open, "{now}: {}", a.text);
            assert!(a.text.contains("11月30日 13:00"), "{}", a.text);
        }
        // Signed for before the confirmation: the window runs from the signature.
        let t = tracking(&c, Some(h(2) + Duration::minutes(30)));
        let a = ask(
            DataIntent::Returns,
            &[BuyerOrder {
                detail: &c,
                tracking: Some(&t),
            }],
            &s,
            h(2) + Duration::minutes(30) + Duration::days(7),
        );
        assert!(a.text.contains("已在 11月30日 12:30 截止"), "{}", a.text);
    }

    #[test]
    fn shipping_insurance_pays_a_no_reason_return() {
        let mut c = completed();
        c.shipping_insurance = true;
        let a = one(&c, None, DataIntent::Returns);
        assert!(a.text.contains("运费险理赔"), "{}", a.text);
        assert!(
            a.text.contains("质量问题、发错货或与描述不符，寄回运费由我们承担"),
            "{}",
            a.text
        );
        assert!(!a.text.contains("需要您承担"), "{}", a.text);
    }

    #[test]
    fn shipping_fee_against_the_free_shipping_threshold() {
        let u = unpaid(); // goods ¥133.00 + shipping ¥10.00
        let orders = [BuyerOrder {
            detail: &u,
            tracking: None,
        }];
        let with = |t: Option<i64>| ShopSettings {
            free_shipping_threshold: t.map(Fen),
            ..ShopSettings::default()
        };
        // (threshold, must contain, handoff)
        let cases: [(Option<i64>, &[&str], bool); 4] = [
            (None, &["运费 ¥10.00", "合计 ¥143.00"], false),
            (
                Some(19900),
                &["运费 ¥10.00", "商品金额 ¥133.00", "满 ¥199.00 包邮", "再买 ¥66.00"],
                false,
            ),
            (
                Some(13300),
                &["已满 ¥133.00 包邮", "运费 ¥10.00 可以为您免掉", "转人工"],
                true,
            ),
            (Some(0), &["本店全场包邮", "运费 ¥10.00 可以为您免掉"], true),
        ];
        for (t, want, handoff) in cases {
            let a = ask(DataIntent::ShippingFee, &orders, &with(t), h(1));
            check(
                &format!("threshold {t:?}"),
                &a,
                (want, handoff),
                Some("3056789012345678"),
            );
        }
        let mut free = unpaid();
        free.order.shipping_fee = Fen::ZERO;
        let a = one(&free, None, DataIntent::ShippingFee);
        assert!(a.text.contains("是包邮的"), "{}", a.text);
        // No unpaid order: the shop's rule alone.
        for (t, want) in [
            (Some(9900), "本店满 ¥99.00 包邮"),
            (Some(0), "全场包邮"),
            (None, "以下单页面显示为准"),
        ] {
            let a = ask(DataIntent::ShippingFee, &[], &with(t), h(1));
            assert!(a.text.contains(want), "{t:?}: {}", a.text);
            assert_eq!((a.order_no, a.handoff), (None, false));
        }
    }

    #[test]
    fn the_invoice_answer_adds_the_shops_note() {
        let p = paid();
        let s = ShopSettings {
            invoice_note: "本店可开电子普通发票".into(),
            ..ShopSettings::default()
        };
        let a = ask(
            DataIntent::Invoice,
            &[BuyerOrder {
                detail: &p,
                tracking: None,
            }],
            &s,
            h(2),
        );
        assert!(
            a.text
                .starts_with("亲，本店可开电子普通发票。您的订单 3056789012345678"),
            "{}",
            a.text
        );
        assert!(a.handoff);
    }

    #[test]
    fn a_parcel_in_trouble_goes_to_an_agent() {
        let s = shipped();
        for status in [LogisticsStatus::Exception, LogisticsStatus::Returned] {
            let mut t = tracking(&s, None);
            t.extend([event(h(22), status, "", "收件人电话无法接通")]);
            let a = one(&s, Some(&t), DataIntent::Parcel);
            assert!(a.handoff, "{status:?}");
            assert!(
                a.text.contains("11月24日 08:00 收件人电话无法接通"),
                "no empty 【】: {}",
                a.text
            );
            assert!(a.text.contains(status.label_zh()), "{}", a.text);
        }
    }

    #[test]
    fn the_parcel_is_the_one_on_its_way_and_others_are_named() {
        let s = shipped();
        let t = tracking(&s, None);
        let mut newer = paid();
        newer.order.order_no = "3056789012349999".into();
        newer.order.created_at = h(5);
        newer.order.paid_at = Some(h(6));
        let mut older_done = completed();
        older_done.order.order_no = "3056789012340000".into();
        let orders = [
            BuyerOrder {
                detail: &newer,
                tracking: None,
            },
            BuyerOrder {
                detail: &s,
                tracking: Some(&t),
            },
            BuyerOrder {
                detail: &older_done,
                tracking: None,
            },
        ];
        let st = ShopSettings::default();
        let a = ask(DataIntent::Parcel, &orders, &st, h(30));
        assert_eq!(a.order_no.as_deref(), Some("3056789012345678"), "{}", a.text);
        assert!(a.text.contains("快件正在派送中"), "{}", a.text);
        assert!(
            a.text.contains("另外您还有订单 3056789012349999（买家已付款）"),
            "{}",
            a.text
        );
        assert!(
            !a.text.contains("3056789012340000"),
            "finished orders are not listed: {}",
            a.text
        );
        // Order status and the invoice speak of the newest order.
        let a = ask(DataIntent::OrderStatus, &orders, &st, h(30));
        assert_eq!(a.order_no.as_deref(), Some("3056789012349999"));
        // Changing the address is about the newest order still open.
        let a = ask(DataIntent::ChangeAddress, &orders, &st, h(30));
        assert_eq!((a.order_no.as_deref(), a.handoff), (Some("3056789012349999"), true));
    }

    #[test]
    fn an_unpaid_order_past_its_deadline_says_it_will_close() {
        let u = unpaid();
        let late = t0() + Duration::days(3);
        let a = ask(
            DataIntent::OrderStatus,
            &[BuyerOrder {
                detail: &u,
                tracking: None,
            }],
            &ShopSettings::default(),
            late,
        );
        assert!(a.text.contains("付款时间已过"), "{}", a.text);
    }

    #[test]
    fn times_from_another_year_name_the_year() {
        let c = completed();
        let a = ask(
            DataIntent::OrderStatus,
            &[BuyerOrder {
                detail: &c,
                tracking: None,
            }],
            &ShopSettings::default(),
            t0() + Duration::days(60),
        );
        assert!(a.text.contains("2026年11月23日 10:00 拍下"), "{}", a.text);
    }
}
