-- kefu foundation schema, PostgreSQL flavour. Every row belongs to a shop (shop_id).
-- Ids are UUIDv7; instants are TIMESTAMPTZ; money is integer fen.

CREATE TABLE shops (
    id          UUID PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    settings    JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE accounts (
    id            UUID PRIMARY KEY,
    shop_id       UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    username      TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'supervisor', 'agent')),
    skill_group   TEXT,
    takes_chats   BOOLEAN NOT NULL,
    capacity      BIGINT NOT NULL CHECK (capacity > 0),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (shop_id, username),
    UNIQUE (id, shop_id)
);
-- Exactly one owner per shop.
CREATE UNIQUE INDEX accounts_one_owner ON accounts (shop_id) WHERE role = 'owner';

CREATE TABLE sessions (
    token_hash  BYTEA PRIMARY KEY,
    shop_id     UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    account_id  UUID NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (account_id, shop_id) REFERENCES accounts(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX sessions_account ON sessions (account_id);

CREATE TABLE login_failures (
    key              TEXT PRIMARY KEY,
    failures         BIGINT NOT NULL,
    last_failure_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE products (
    id          UUID PRIMARY KEY,
    shop_id     UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    sku         TEXT NOT NULL,
    title       TEXT NOT NULL,
    category    TEXT NOT NULL,
    price_fen   BIGINT NOT NULL CHECK (price_fen >= 0),
    stock       BIGINT NOT NULL,
    attributes  JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (shop_id, sku)
);

CREATE TABLE customers (
    id          UUID PRIMARY KEY,
    shop_id     UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    nick        TEXT NOT NULL,
    name        TEXT NOT NULL,
    phone       TEXT NOT NULL,
    address     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (shop_id, nick),
    UNIQUE (id, shop_id)
);

CREATE TABLE orders (
    id                UUID PRIMARY KEY,
    shop_id           UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    order_no          TEXT NOT NULL,
    customer_id       UUID NOT NULL,
    state             TEXT NOT NULL,
    close_reason      TEXT,
    items             JSONB NOT NULL,
    shipping_fee_fen  BIGINT NOT NULL,
    address           TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    paid_at           TIMESTAMPTZ,
    shipped_at        TIMESTAMPTZ,
    completed_at      TIMESTAMPTZ,
    closed_at         TIMESTAMPTZ,
    UNIQUE (shop_id, order_no),
    FOREIGN KEY (customer_id, shop_id) REFERENCES customers(id, shop_id)
);
CREATE INDEX orders_shop_created ON orders (shop_id, created_at);
CREATE INDEX orders_customer ON orders (customer_id);

CREATE TABLE kb_categories (
    id        UUID PRIMARY KEY,
    shop_id   UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    position  BIGINT NOT NULL,
    UNIQUE (shop_id, name),
    UNIQUE (id, shop_id)
);

CREATE TABLE kb_entries (
    id           UUID PRIMARY KEY,
    shop_id      UUID NOT NULL REFERENCES shops(id) ON DELETE CASCADE,
    category_id  UUID NOT NULL,
    question     TEXT NOT NULL,
    similar_questions JSONB NOT NULL,
    answer       TEXT NOT NULL,
    enabled      BOOLEAN NOT NULL,
    valid_from   TIMESTAMPTZ,
    valid_until  TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (category_id, shop_id) REFERENCES kb_categories(id, shop_id)
);
CREATE INDEX kb_entries_shop ON kb_entries (shop_id, category_id);
