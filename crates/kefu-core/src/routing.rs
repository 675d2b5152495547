//! Which agent gets a chat (SPEC §2.2–2.3). Only agents who are online (not suspended, not
//! offline), take part in routing and are below their capacity may get one; a chat with a skill
//! group goes to that group's agents or to agents without a group (generalists); among those the
//! least loaded wins, ties going to whoever has waited longest since their last chat.

use crate::account::SkillGroup;
use crate::ids::AccountId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An agent's availability, switched in the workbench (在线 / 挂起 / 离线).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Takes new chats.
    Online,
    /// 挂起: keeps serving current chats, gets no new ones; buyers see no change.
    Suspended,
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Suspended => "suspended",
            Presence::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Option<Presence> {
        Some(match s {
            "online" => Presence::Online,
            "suspended" => Presence::Suspended,
            "offline" => Presence::Offline,
            _ => return None,
        })
    }
}

/// What routing needs to know of one agent at the moment of choosing.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentLoad {
    pub id: AccountId,
    pub presence: Presence,
    /// Takes part in routing (an account setting) and is not disabled.
    pub takes_chats: bool,
    pub skill_group: Option<SkillGroup>,
    pub capacity: u32,
    /// Chats the agent serves now.
    pub load: u32,
    /// When the agent last got a chat (or came online): the longest idle wins a tie.
    pub idle_since: DateTime<Utc>,
}

impl AgentLoad {
    /// Whether this agent may get a new chat of `group`.
    pub fn can_take(&self, group: Option<&SkillGroup>) -> bool {
        self.presence == Presence::Online
            && self.takes_chats
            && self.load < self.capacity
            && match (group, &self.skill_group) {
                (Some(g), Some(mine)) => g == mine,
                _ => true,
            }
    }
}

/// The agent who gets a chat of `group`, if anyone can take it now.
pub fn pick(agents: &[AgentLoad], group: Option<&SkillGroup>) -> Option<AccountId> {
    agents
        .iter()
        .filter(|a| a.can_take(group))
        .min_by(|a, b| {
            a.load
                .cmp(&b.load)
                .then(a.idle_since.cmp(&b.idle_since))
                .then(a.id.cmp(&b.id))
        })
        .map(|a| a.id)
}

/// Whether an agent may be given a chat by a teammate (转接, SPEC §2.4): present (online or
/// suspended — a suspended agent still serves) and below capacity; skill groups do not bind a
/// deliberate transfer.
pub fn can_receive_transfer(agent: &AgentLoad) -> Result<(), &'static str> {
    if !agent.takes_chats {
        return Err("does not take chats");
    }
    if agent.presence == Presence::Offline {
        return Err("is offline");
    }
    if agent.load >= agent.capacity {
        return Err("is at capacity");
    }
    Ok(())
}

/// An account as routing, transfers and the live monitor see it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct AgentStatus {
    pub account_id: AccountId,
    pub display_name: String,
    pub role: crate::account::Role,
    pub skill_group: Option<SkillGroup>,
    pub takes_chats: bool,
    pub capacity: u32,
    pub presence: Presence,
    /// Open chats with this agent now.
    pub load: u32,
    /// Since when the presence holds.
    pub since: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub idle_since: DateTime<Utc>,
    #[serde(skip)]
    pub disabled: bool,
}

impl AgentStatus {
    /// Online and taking part in routing, full or not: someone the shop can say is there.
    pub fn on_duty(&self) -> bool {
        self.presence == Presence::Online && self.takes_chats && !self.disabled
    }

    pub fn routing(&self) -> AgentLoad {
        AgentLoad {
            id: self.account_id,
            presence: self.presence,
            takes_chats: self.takes_chats && !self.disabled,
            skill_group: self.skill_group.clone(),
            capacity: self.capacity,
            load: self.load,
            idle_since: self.idle_since,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn agent(n: u8, presence: Presence, group: Option<&str>, capacity: u32, load: u32, idle_min: u32) -> AgentLoad {
        AgentLoad {
            id: AccountId(uuid::Uuid::from_u128(n as u128)),
            presence,
            takes_chats: true,
            skill_group: group.map(|g| SkillGroup::parse(g).unwrap()),
            capacity,
            load,
            idle_since: Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
                + chrono::Duration::minutes(idle_min as i64),
        }
    }

    fn id(n: u8) -> Option<AccountId> {
        Some(AccountId(uuid::Uuid::from_u128(n as u128)))
    }

    #[test]
    fn least_loaded_then_longest_idle() {
        use Presence::*;
        let pre = SkillGroup::parse("售前").unwrap();
        let after = SkillGroup::parse("售后").unwrap();
        type Case<'a> = (&'a str, Vec<AgentLoad>, Option<&'a SkillGroup>, Option<AccountId>);
        let cases: Vec<Case> = vec![
            ("nobody", vec![], None, None),
            (
                "least loaded",
                vec![agent(1, Online, None, 5, 3, 0), agent(2, Online, None, 5, 1, 9)],
                None,
                id(2),
            ),
            (
                "tie: longest idle",
                vec![agent(1, Online, None, 5, 2, 5), agent(2, Online, None, 5, 2, 1)],
                None,
                id(2),
            ),
            (
                "full is skipped",
                vec![agent(1, Online, None, 2, 2, 0), agent(2, Online, None, 5, 4, 0)],
                None,
                id(2),
            ),
            ("everyone full", vec![agent(1, Online, None, 2, 2, 0)], None, None),
            (
                "suspended gets none",
                vec![agent(1, Suspended, None, 5, 0, 0), agent(2, Online, None, 5, 4, 0)],
                None,
                id(2),
            ),
            ("offline gets none", vec![agent(1, Offline, None, 5, 0, 0)], None, None),
            (
                "group",
                vec![
                    agent(1, Online, Some("售前"), 5, 0, 0),
                    agent(2, Online, Some("售后"), 5, 3, 0),
                ],
                Some(&after),
                id(2),
            ),
            (
                "group: generalist too",
                vec![agent(1, Online, Some("售前"), 5, 0, 0), agent(2, Online, None, 5, 3, 0)],
                Some(&after),
                id(2),
            ),
            (
                "group: nobody in it",
                vec![agent(1, Online, Some("售前"), 5, 0, 0)],
                Some(&after),
                None,
            ),
            (
                "no group: anyone",
                vec![agent(1, Online, Some("售后"), 5, 0, 0)],
                None,
                id(1),
            ),
            (
                "group matches",
                vec![agent(1, Online, Some("售前"), 5, 1, 0)],
                Some(&pre),
                id(1),
            ),
        ];
        for (name, agents, group, want) in cases {
            assert_eq!(pick(&agents, group), want, "{name}");
        }
        let mut not_routing = agent(1, Online, None, 5, 0, 0);
        not_routing.takes_chats = false;
        assert_eq!(pick(&[not_routing], None), None);
    }

    #[test]
    fn transfers_need_presence_and_room() {
        use Presence::*;
        assert!(can_receive_transfer(&agent(1, Suspended, Some("售后"), 5, 1, 0)).is_ok());
        assert_eq!(
            can_receive_transfer(&agent(1, Offline, None, 5, 1, 0)),
            Err("is offline")
        );
        assert_eq!(
            can_receive_transfer(&agent(1, Online, None, 2, 2, 0)),
            Err("is at capacity")
        );
    }
}
