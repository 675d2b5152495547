-- Buyer types (买家类型, SPEC §3.1): the one an agent set on a customer, with who and when. The
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
