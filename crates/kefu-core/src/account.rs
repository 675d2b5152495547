//! Staff accounts and what each role may do (SPEC §0, §6.1).

use crate::ValidationError;
use crate::ids::{AccountId, ShopId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The four roles of a shop's staff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// 主账号: the shop's main account, exactly one per shop.
    Owner,
    /// 管理员: manages staff, knowledge base and settings.
    Admin,
    /// 主管: watches live monitoring and statistics, reads every chat.
    Supervisor,
    /// 子账号 / 客服: answers chats.
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "supervisor" => Role::Supervisor,
            "agent" => Role::Agent,
            _ => return None,
        })
    }

    /// Owners and admins manage sub-accounts, settings and the knowledge base.
    pub fn is_manager(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Whether this role may create, change or remove an account of role `target`.
    /// The owner account is unique and made with the shop; admins cannot make or touch admins,
    /// so an admin can never lock the owner or a fellow admin out.
    /// The role with its English article, for messages: "an owner", "a supervisor".
    pub fn with_article(self) -> &'static str {
        match self {
            Role::Owner => "an owner",
            Role::Admin => "an admin",
            Role::Supervisor => "a supervisor",
            Role::Agent => "an agent",
        }
    }

    pub fn may_manage(self, target: Role) -> bool {
        match self {
            Role::Owner => target != Role::Owner,
            Role::Admin => matches!(target, Role::Supervisor | Role::Agent),
            Role::Supervisor | Role::Agent => false,
        }
    }
}

/// A login name: 2–32 characters of letters (Chinese included), digits, `_ - .`.
/// Chinese sub-account names such as `小美` are common, so letters are not only ASCII.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "xiaomei")]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, ValidationError> {
        let s = s.trim();
        let n = s.chars().count();
        if !(2..=32).contains(&n) {
            return Err(ValidationError::new("username", "must be 2 to 32 characters long"));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(ValidationError::new(
                "username",
                format!("must not contain “{c}”: use letters, digits, _ - ."),
            ));
        }
        Ok(Username(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Username {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        Username::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> String {
        u.0
    }
}

/// Checks a new password. Length is what protects; composition rules only annoy.
pub fn check_new_password(pw: &str, username: &str) -> Result<(), ValidationError> {
    let n = pw.chars().count();
    if n < 8 {
        return Err(ValidationError::new("password", "must be at least 8 characters long"));
    }
    if n > 128 {
        return Err(ValidationError::new("password", "must be at most 128 characters long"));
    }
    if pw.eq_ignore_ascii_case(username) {
        return Err(ValidationError::new("password", "must not be the login name"));
    }
    Ok(())
}

/// The skill group an agent serves in; 售前 (pre-sales) and 售后 (after-sales) by default,
/// shops may add their own names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, example = "售前")]
pub struct SkillGroup(String);

impl SkillGroup {
    pub const PRE_SALES: &'static str = "售前";
    pub const AFTER_SALES: &'static str = "售后";

    pub fn parse(s: &str) -> Result<SkillGroup, ValidationError> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 20 {
            return Err(ValidationError::new(
                "skill_group",
                "must be 1 to 20 characters, e.g. 售前 or 售后",
            ));
        }
        Ok(SkillGroup(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SkillGroup {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        SkillGroup::parse(&s)
    }
}

impl From<SkillGroup> for String {
    fn from(g: SkillGroup) -> String {
        g.0
    }
}

/// How routing (分流) treats an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoutingProfile {
    pub skill_group: Option<SkillGroup>,
    /// Whether new chats are routed to this account at all.
    pub takes_chats: bool,
    /// Most chats served at once.
    pub capacity: u16,
}

pub const MAX_CAPACITY: u16 = 100;

impl RoutingProfile {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.capacity == 0 || self.capacity > MAX_CAPACITY {
            return Err(ValidationError::new(
                "capacity",
                format!("must be between 1 and {MAX_CAPACITY} concurrent chats"),
            ));
        }
        Ok(())
    }
}

impl Default for RoutingProfile {
    fn default() -> Self {
        RoutingProfile {
            skill_group: None,
            takes_chats: true,
            capacity: 8,
        }
    }
}

/// A staff account as the rest of kefu sees it (never with its password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    pub id: AccountId,
    pub shop_id: ShopId,
    pub username: Username,
    pub display_name: String,
    pub role: Role,
    pub routing: RoutingProfile,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

pub fn check_display_name(name: &str) -> Result<(), ValidationError> {
    let n = name.trim().chars().count();
    if n == 0 || n > 32 {
        return Err(ValidationError::new("display_name", "must be 1 to 32 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owners_and_admins_manage_and_never_upwards() {
        use Role::*;
        let all = [Owner, Admin, Supervisor, Agent];
        for r in all {
            assert!(!r.may_manage(Owner), "{r:?} may not manage the owner");
        }
        assert!(Owner.may_manage(Admin) && Owner.may_manage(Supervisor) && Owner.may_manage(Agent));
        assert!(!Admin.may_manage(Admin) && Admin.may_manage(Supervisor) && Admin.may_manage(Agent));
        for r in [Supervisor, Agent] {
            assert!(all.iter().all(|t| !r.may_manage(*t)));
            assert!(!r.is_manager());
        }
        for r in all {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn usernames_allow_chinese_and_fold_case() {
        assert_eq!(Username::parse(" XiaoMei ").unwrap().as_str(), "xiaomei");
        assert_eq!(Username::parse("小美").unwrap().as_str(), "小美");
        assert_eq!(Username::parse("agent_01.sh").unwrap().as_str(), "agent_01.sh");
        for bad in ["a", "", "with space", "a:b", "semi;colon", &"x".repeat(33)] {
            assert!(Username::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords_need_length_only() {
        assert!(check_new_password("short", "u").is_err());
        assert!(check_new_password("xiaomei1", "XiaoMei1").is_err());
        assert!(check_new_password("店铺客服密码很长的", "u").is_ok());
        assert!(check_new_password(&"p".repeat(129), "u").is_err());
    }

    #[test]
    fn capacity_is_bounded() {
        let mut p = RoutingProfile::default();
        p.validate().unwrap();
        p.capacity = 0;
        assert_eq!(p.validate().unwrap_err().field, "capacity");
        p.capacity = 101;
        assert!(p.validate().is_err());
        assert!(SkillGroup::parse("").is_err());
        assert_eq!(SkillGroup::parse("售后").unwrap().as_str(), SkillGroup::AFTER_SALES);
    }
}
