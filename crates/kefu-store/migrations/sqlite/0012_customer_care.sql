-- Customer care: buyer types (买家类型, SPEC §3.1): the one an agent set on a customer, with who and when. The
-- type kefu suggests is computed from orders, chats and complaints, never stored.
CREATE TABLE customer_types (
    customer_id  BLOB PRIMARY KEY,
    shop_id      BLOB NOT NULL,
    buyer_type   TEXT NOT NULL CHECK (buyer_type IN ('friendly', 'dominant', 'analytical', 'self_centered',
                                                     'sociable', 'decisive', 'polite', 'bargainer', 'no_pay')),
    -- Who set it, as they were: an account removed later leaves its judgement.
    set_by       BLOB,
    set_by_name  TEXT NOT NULL,
    set_at       TEXT NOT NULL,
    FOREIGN KEY (customer_id, shop_id) REFERENCES customers(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX customer_types_shop ON customer_types (shop_id, buyer_type);

-- Follow-up visits (客户回访, SPEC §4.6): one per finished after-sales case or closed bad review
-- or complaint, due a few days after; done once its outcome is recorded.
CREATE TABLE follow_up_visits (
    id           BLOB PRIMARY KEY,
    shop_id      BLOB NOT NULL,
    customer_id  BLOB NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('after_sales', 'negative_review', 'complaint')),
    source_id    BLOB NOT NULL,
    order_id     BLOB,
    -- The agent who closed the case; NULL: anyone on the team.
    assignee     BLOB,
    due_at       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    outcome      TEXT CHECK (outcome IN ('satisfied', 'unsatisfied', 'unreachable', 'declined')),
    note         TEXT NOT NULL DEFAULT '',
    done_at      TEXT,
    done_by      BLOB,
    UNIQUE (source, source_id),
    FOREIGN KEY (customer_id, shop_id) REFERENCES customers(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX follow_up_visits_due ON follow_up_visits (shop_id, done_at, due_at);
