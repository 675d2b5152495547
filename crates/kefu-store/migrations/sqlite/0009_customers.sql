-- Customers (SPEC §3) and payment reminders (SPEC §4.7). A signed buyer's chat (visitor
-- `buyer:<nick>`) is the customer with that nick; lifecycle groups are computed from chats
-- and orders, not stored.

CREATE TABLE customer_notes (
    id           BLOB PRIMARY KEY,
    shop_id      BLOB NOT NULL,
    customer_id  BLOB NOT NULL,
    -- The author as they were: an account removed later leaves its notes.
    author_id    BLOB,
    author_name  TEXT NOT NULL,
    text         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    FOREIGN KEY (customer_id, shop_id) REFERENCES customers(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX customer_notes_customer ON customer_notes (customer_id, created_at);

CREATE TABLE customer_tags (
    shop_id      BLOB NOT NULL,
    customer_id  BLOB NOT NULL,
    tag          TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag),
    FOREIGN KEY (customer_id, shop_id) REFERENCES customers(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX customer_tags_tag ON customer_tags (shop_id, tag);

-- Buyers who asked to hear no more outreach (回复TD退订, or set by staff).
CREATE TABLE customer_opt_outs (
    customer_id  BLOB PRIMARY KEY,
    shop_id      BLOB NOT NULL,
    at           TEXT NOT NULL,
    FOREIGN KEY (customer_id, shop_id) REFERENCES customers(id, shop_id) ON DELETE CASCADE
);

CREATE TABLE customer_groups (
    id          BLOB PRIMARY KEY,
    shop_id     BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (shop_id, name),
    UNIQUE (id, shop_id)
);

CREATE TABLE customer_group_members (
    group_id     BLOB NOT NULL,
    shop_id      BLOB NOT NULL,
    customer_id  BLOB NOT NULL,
    added_at     TEXT NOT NULL,
    PRIMARY KEY (group_id, customer_id),
    FOREIGN KEY (group_id, shop_id) REFERENCES customer_groups(id, shop_id) ON DELETE CASCADE,
    FOREIGN KEY (customer_id, shop_id) REFERENCES customers(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX customer_group_members_customer ON customer_group_members (customer_id);

-- Proactive messages sent (SPEC §3.3): the per-buyer weekly cap counts these.
CREATE TABLE outreach_messages (
    id               BLOB PRIMARY KEY,
    shop_id          BLOB NOT NULL,
    customer_id      BLOB NOT NULL,
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    sent_by          BLOB,
    text             TEXT NOT NULL,
    sent_at          TEXT NOT NULL,
    FOREIGN KEY (customer_id, shop_id) REFERENCES customers(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX outreach_messages_customer ON outreach_messages (shop_id, customer_id, sent_at);

-- Payment reminders (催付). (order_id, number) is the claim: the n-th reminder of an order
-- is inserted once, whichever node or agent tries first.
CREATE TABLE payment_reminders (
    id               BLOB PRIMARY KEY,
    shop_id          BLOB NOT NULL,
    order_id         BLOB NOT NULL,
    number           INTEGER NOT NULL CHECK (number >= 1),
    reason           TEXT NOT NULL CHECK (reason IN ('bargaining', 'comparing', 'worried', 'forgot')),
    text             TEXT NOT NULL,
    -- NULL: sent by the scheduler (automatic reminders).
    sent_by          BLOB,
    sent_at          TEXT NOT NULL,
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    UNIQUE (order_id, number),
    -- orders have no (id, shop_id) key; every query filters by shop_id as well.
    FOREIGN KEY (order_id) REFERENCES orders(id) ON DELETE CASCADE
);
CREATE INDEX payment_reminders_shop ON payment_reminders (shop_id, sent_at);

-- Who saw or took buyers' private data (SPEC §3.4): reveals and exports.
CREATE TABLE audit_log (
    id            BLOB PRIMARY KEY,
    shop_id       BLOB NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    at            TEXT NOT NULL,
    account_id    BLOB,
    account_name  TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('reveal', 'export')),
    customer_id   BLOB,
    detail        TEXT NOT NULL
);
CREATE INDEX audit_log_shop ON audit_log (shop_id, at);
