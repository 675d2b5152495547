//! Typed identifiers. Every id is a UUIDv7: unique across nodes without coordination and
//! sorted by creation time, which later serves as a cursor for paging and replay.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

id_type!(
    /// A shop (店铺): the unit of isolation; every other row belongs to one.
    ShopId
);
id_type!(
    /// A staff account (主账号 / 子账号).
    AccountId
);
id_type!(
    /// A product (宝贝).
    ProductId
);
id_type!(
    /// A buyer (买家) known to the shop.
    CustomerId
);
id_type!(
    /// An order (订单).
    OrderId
);
id_type!(
    /// A knowledge-base category (知识库分类).
    CategoryId
);
id_type!(
    /// A knowledge-base entry (标准问题 with its similar phrasings and answer).
    EntryId
);
id_type!(
    /// A conversation (会话) between a buyer and the shop: bot, queue, agent, closed.
    ConversationId
);
id_type!(
    /// A quick phrase (快捷短语), the team's or one agent's.
    PhraseId
);
id_type!(
    /// An after-sales ticket (售后单): refund only, return and refund, or exchange.
    AfterSalesId
);
id_type!(
    /// A review or complaint ticket (中差评 / 投诉 处理单).
    ServiceTicketId
);
id_type!(
    /// A shop's own customer group (自定义分组), beside the lifecycle groups.
    CustomerGroupId
);
id_type!(
    /// A follow-up visit (客户回访) due after a case closed.
    VisitId
);
id_type!(
    /// A question of one product's own FAQ (商品常见问题).
    ProductFaqId
);
