//! E-mail (SPEC §7.3): what a valid address is, the mail a shop gets when a buyer leaves a
//! message (留言), the chat transcript (聊天记录) a buyer asks for, and how often they may ask.
//! The texts are built here, pure; the server queues them in the mail outbox and sends them
//! over SMTP.

use crate::ValidationError;
use crate::bot::LeaveMessage;
use crate::chat::{Content, Event, EventBody, Sender};
use crate::clock::TimeZone;
use chrono::{DateTime, Utc};

pub const MAX_ADDRESS_CHARS: usize = 254;

/// A mail's subject and its two bodies: plain text, and a simple HTML page of the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailBody {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Checks an e-mail address as people type it (`name@example.com`), returning it trimmed.
/// Deliberately simple — one `@`, a dotted domain, no spaces, quotes or angle brackets, so
/// it cannot smuggle a second recipient or a header into the mail — since the real test is
/// whether the mail arrives. `field` names the input in the error.
pub fn check_address(field: &str, address: &str) -> Result<String, ValidationError> {
    let a = address.trim();
    let bad = || {
        ValidationError::new(
            field,
            format!("“{a}” is not an e-mail address such as name@example.com"),
        )
    };
    if a.is_empty() || a.chars().count() > MAX_ADDRESS_CHARS {
        return Err(bad());
    }
    let Some((local, domain)) = a.split_once('@') else {
        return Err(bad());
    };
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c);
    if local.is_empty() || local.len() > 64 || local.chars().any(forbidden) {
        return Err(bad());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.starts_with('-')
                || l.ends_with('-')
                || l.chars().any(|c| !(c.is_alphanumeric() || c == '-'))
        })
    {
        return Err(bad());
    }
    Ok(a.to_string())
}

/// How many transcripts one chat may send in an hour: enough for a typo in the address,
/// too few for the widget to become a way of mailing strangers.
pub const TRANSCRIPTS_PER_HOUR: i64 = 3;

/// Whether another transcript of a chat may go out, given how many were queued in the last hour.
pub fn may_send_transcript(sent_last_hour: i64) -> Result<(), String> {
    if sent_last_hour >= TRANSCRIPTS_PER_HOUR {
        return Err(format!(
            "此会话一小时内最多发送 {TRANSCRIPTS_PER_HOUR} 次聊天记录，请稍后再试"
        ));
    }
    Ok(())
}

/// Text for HTML: `<`, `>`, `&` and quotes escaped, line breaks kept.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

/// `2026-12-01 10:00`, in the shop's time zone.
fn local(at: DateTime<Utc>, tz: &TimeZone) -> String {
    tz.format(at).chars().take(16).collect()
}

fn page(title: &str, inner: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;line-height:1.6;color:#222\">{inner}</body></html>",
        escape_html(title)
    )
}

/// The shop's notification of a message a buyer left (SPEC §1.3, §7.3): who, how to reach
/// them, what they wrote, when.
pub fn leave_message_mail(shop_name: &str, m: &LeaveMessage, tz: &TimeZone) -> MailBody {
    let name = if m.name.is_empty() {
        "（未填写）"
    } else {
        m.name.as_str()
    };
    let when = local(m.created_at, tz);
    // A buyer's words in a header: one line, whatever they typed.
    let contact: String = m
        .contact
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let subject = format!("【{shop_name}】新留言：{contact}");
    let text = format!(
        "{shop_name} 收到一条新留言。\n\n称呼：{name}\n联系方式：{}\n时间：{when}\n\n留言内容：\n{}\n\n请在客服工作台的“留言”中处理。\n",
        m.contact, m.text
    );
    let html = page(
        &subject,
        &format!(
            "<p>{} 收到一条新留言。</p><table><tr><td>称呼：</td><td>{}</td></tr><tr><td>联系方式：</td><td>{}</td></tr>\
             <tr><td>时间：</td><td>{}</td></tr></table><p>留言内容：</p><blockquote>{}</blockquote>\
             <p>请在客服工作台的“留言”中处理。</p>",
            escape_html(shop_name),
            escape_html(name),
            escape_html(&m.contact),
            escape_html(&when),
            escape_html(&m.text)
        ),
    );
    MailBody { subject, text, html }
}

/// What a transcript shows of an event: who said what, or `None` for state changes.
fn line(e: &Event, agent_name: &dyn Fn(&Event) -> String) -> Option<(String, String)> {
    let EventBody::Message { content, .. } = &e.body else {
        return None;
    };
    let who = match e.sender {
        Sender::Buyer => "我".to_string(),
        Sender::Agent(_) => agent_name(e),
        Sender::Bot => "智能客服".to_string(),
        Sender::System => "系统消息".to_string(),
    };
    let what = match content {
        Content::Text { text } => text.clone(),
        Content::Image { url } => format!("[图片] {url}"),
        Content::Product { sku, card } => match card {
            Some(c) => format!("[商品] {} ¥{}", c.title, c.price),
            None => format!("[商品] {sku}"),
        },
        Content::Order { order_no, .. } => format!("[订单] {order_no}"),
        Content::Bot { reply } => reply["text"].as_str().unwrap_or("[智能客服回复]").to_string(),
    };
    Some((who, what))
}

/// A chat's transcript for the buyer (聊天记录): every message in order with its sender and
/// local time. Agents appear by the name the chat knew them by (`agent_name`); the
/// compliance guard's findings and other staff-only parts are never included.
pub fn transcript_mail(
    shop_name: &str,
    events: &[Event],
    tz: &TimeZone,
    agent_name: &dyn Fn(&Event) -> String,
) -> MailBody {
    let subject = format!("【{shop_name}】您的聊天记录");
    let lines: Vec<(String, String, String)> = events
        .iter()
        .filter_map(|e| line(e, agent_name).map(|(who, what)| (local(e.at, tz), who, what)))
        .collect();
    let mut text = format!("您好，以下是您在 {shop_name} 的聊天记录：\n\n");
    for (at, who, what) in &lines {
        text.push_str(&format!("[{at}] {who}：{what}\n"));
    }
    if lines.is_empty() {
        text.push_str("（暂无消息）\n");
    }
    text.push_str("\n此邮件由系统自动发送，请勿直接回复。\n");
    let mut rows = String::new();
    for (at, who, what) in &lines {
        rows.push_str(&format!(
            "<tr><td style=\"color:#888;white-space:nowrap;vertical-align:top\">{}</td><td style=\"white-space:nowrap;vertical-align:top\"><b>{}</b></td><td>{}</td></tr>",
            escape_html(at),
            escape_html(who),
            escape_html(what)
        ));
    }
    let html = page(
        &subject,
        &format!(
            "<p>您好，以下是您在 {} 的聊天记录：</p><table cellpadding=\"4\">{rows}</table><p style=\"color:#888\">此邮件由系统自动发送，请勿直接回复。</p>",
            escape_html(shop_name)
        ),
    );
    MailBody { subject, text, html }
}

/// A mail's kind in the outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    LeaveMessage,
    Transcript,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::LeaveMessage => "leave_message",
            MailKind::Transcript => "transcript",
        }
    }

    pub fn parse(s: &str) -> Option<MailKind> {
        [MailKind::LeaveMessage, MailKind::Transcript]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bot::MessageStatus;
    use crate::ids::{AccountId, ConversationId, ShopId};
    use chrono::TimeZone;

    #[test]
    fn addresses() {
        assert_eq!(
            check_address("email", " kefu@shop.example.com ").unwrap(),
            "kefu@shop.example.com"
        );
        assert!(check_address("email", "王@例子.中国").is_ok());
        for bad in [
            "",
            "kefu",
            "kefu@",
            "@shop.com",
            "kefu@localhost",
            "a b@shop.com",
            "a@b@shop.com",
            "a@shop..com",
            "\"x\"@shop.com",
            "a@shop.com>, b@evil.com",
            "a@shop.com\r\nBcc: b@evil.com",
            "a@-shop.com",
        ] {
            assert_eq!(check_address("email", bad).unwrap_err().field, "email", "{bad}");
        }
    }

    #[test]
    fn transcripts_are_limited() {
        assert!(may_send_transcript(0).is_ok());
        assert!(may_send_transcript(TRANSCRIPTS_PER_HOUR - 1).is_ok());
        assert!(may_send_transcript(TRANSCRIPTS_PER_HOUR).is_err());
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape_html("<b>&\"x'\n"), "&lt;b&gt;&amp;&quot;x&#39;<br>");
    }

    #[test]
    fn leave_message_mail_names_the_buyer() {
        let m = LeaveMessage {
            id: uuid::Uuid::nil(),
            shop_id: ShopId(uuid::Uuid::nil()),
            session_id: None,
            name: "小王".into(),
            contact: "13812345678".into(),
            text: "<想问>尺码".into(),
            status: MessageStatus::Open,
            note: String::new(),
            handled_by: None,
            created_at: Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap(),
            handled_at: None,
        };
        let mail = leave_message_mail("示例小店", &m, &crate::clock::TimeZone::shanghai());
        assert!(mail.subject.contains("13812345678"));
        let sneaky = LeaveMessage {
            contact: "a@b.com\r\nBcc: x@evil.com".into(),
            ..m.clone()
        };
        assert!(
            !leave_message_mail("示例小店", &sneaky, &crate::clock::TimeZone::shanghai())
                .subject
                .contains('\n')
        );
        assert!(
            mail.text.contains("小王") && mail.text.contains("<想问>尺码") && mail.text.contains("2026-12-01 10:00")
        );
        assert!(mail.html.contains("&lt;想问&gt;尺码") && !mail.html.contains("<想问>"));
    }

    #[test]
    fn transcripts_list_messages_only() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap();
        let ev = |seq, sender, body| Event {
            conversation_id: ConversationId(uuid::Uuid::nil()),
            seq,
            sender,
            client_id: None,
            body,
            at,
        };
        let agent = AccountId(uuid::Uuid::nil());
        let events = vec![
            ev(
                1,
                Sender::System,
                EventBody::message(Content::Text {
                    text: "欢迎光临".into(),
                }),
            ),
            ev(
                2,
                Sender::Buyer,
                EventBody::message(Content::Text {
                    text: "有货吗".into()
                }),
            ),
            ev(
                3,
                Sender::Bot,
                EventBody::message(Content::Bot {
                    reply: serde_json::json!({"text": "有的"}),
                }),
            ),
            ev(4, Sender::System, EventBody::Reopened),
            ev(
                5,
                Sender::Agent(agent),
                EventBody::message(Content::Text {
                    text: "亲，今天发货".into(),
                }),
            ),
        ];
        let mail = transcript_mail("示例小店", &events, &crate::clock::TimeZone::shanghai(), &|_| {
            "小美".into()
        });
        assert!(mail.text.contains("[2026-12-01 10:00] 我：有货吗"), "{}", mail.text);
        assert!(mail.text.contains("智能客服：有的"));
        assert!(mail.text.contains("小美：亲，今天发货"));
        assert_eq!(mail.text.matches("\n[").count(), 4);
        assert!(mail.html.contains("亲，今天发货"));
    }
}
