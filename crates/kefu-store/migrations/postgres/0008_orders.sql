-- The seller's side of an order (SPEC §4): memo, flag, parcel, shipping insurance, and a
-- version that every change bumps, so two agents (or two nodes' schedulers) changing one order
-- at once cannot both win: the second is told the order changed and reads it again.
ALTER TABLE orders ADD COLUMN seller_memo TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN flag TEXT;
ALTER TABLE orders ADD COLUMN shipment JSONB;
ALTER TABLE orders ADD COLUMN shipping_insurance BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE orders ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
CREATE INDEX orders_shop_state ON orders (shop_id, state, created_at);

-- Who changed what, when and why (SPEC §4.3): the core's OrderRecord as JSON.
CREATE TABLE order_records (
    id        UUID PRIMARY KEY,
    shop_id   UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    order_id  UUID NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    at        TIMESTAMPTZ NOT NULL,
    kind      TEXT NOT NULL,
    record    JSONB NOT NULL
);
CREATE INDEX order_records_order ON order_records (order_id, at);

-- A parcel's tracking events (物流信息); a feed repeating an event adds nothing.
CREATE TABLE logistics_events (
    id        UUID PRIMARY KEY,
    shop_id   UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    order_id  UUID NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    at        TIMESTAMPTZ NOT NULL,
    status    TEXT NOT NULL,
    location  TEXT NOT NULL,
    text      TEXT NOT NULL,
    UNIQUE (order_id, at, status, location, text)
);

-- After-sales cases (售后, SPEC §4.5): the core's ticket as JSON beside the columns searched
-- on. One open case per order.
CREATE TABLE after_sales (
    id          UUID PRIMARY KEY,
    shop_id     UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    order_id    UUID NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    is_open     BOOLEAN NOT NULL,
    refunded_fen BIGINT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    version     BIGINT NOT NULL DEFAULT 0,
    ticket      JSONB NOT NULL
);
CREATE UNIQUE INDEX after_sales_one_open ON after_sales (order_id) WHERE is_open;
CREATE INDEX after_sales_shop ON after_sales (shop_id, is_open, updated_at);

CREATE TABLE after_sales_steps (
    id         UUID PRIMARY KEY,
    shop_id    UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    ticket_id  UUID NOT NULL REFERENCES after_sales(id) ON DELETE CASCADE,
    at         TIMESTAMPTZ NOT NULL,
    step       JSONB NOT NULL
);
CREATE INDEX after_sales_steps_ticket ON after_sales_steps (ticket_id, at);

-- Bad reviews and complaints (中差评, 投诉, SPEC §4.6).
CREATE TABLE service_tickets (
    id           UUID PRIMARY KEY,
    shop_id      UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    customer_id  UUID NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    order_id     UUID REFERENCES orders(id) ON DELETE SET NULL,
    kind         TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    version      BIGINT NOT NULL DEFAULT 0,
    ticket       JSONB NOT NULL
);
CREATE INDEX service_tickets_shop ON service_tickets (shop_id, state, updated_at);

CREATE TABLE service_records (
    id         UUID PRIMARY KEY,
    shop_id    UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    ticket_id  UUID NOT NULL REFERENCES service_tickets(id) ON DELETE CASCADE,
    at         TIMESTAMPTZ NOT NULL,
    record     JSONB NOT NULL
);
CREATE INDEX service_records_ticket ON service_records (ticket_id, at);
