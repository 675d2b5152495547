-- Product knowledge (商品知识库, SPEC §2.10), PostgreSQL flavour: per product its info (size
-- chart, care, use, selling points, comparisons; the attributes stay on the product), its
-- own FAQ, and related products with a reason. Rows name the product with its shop, so no
-- row can tie one shop's product to another's.
CREATE UNIQUE INDEX products_id_shop ON products (id, shop_id);

CREATE TABLE product_knowledge (
    product_id  UUID PRIMARY KEY,
    shop_id     UUID NOT NULL,
    info        JSONB NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (product_id, shop_id) REFERENCES products(id, shop_id) ON DELETE CASCADE
);

CREATE TABLE product_faq (
    id                UUID PRIMARY KEY,
    shop_id           UUID NOT NULL,
    product_id        UUID NOT NULL,
    question          TEXT NOT NULL,
    similar_questions JSONB NOT NULL,
    answer            TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (product_id, shop_id) REFERENCES products(id, shop_id) ON DELETE CASCADE,
    UNIQUE (product_id, question)
);
CREATE INDEX product_faq_shop ON product_faq (shop_id, product_id);

CREATE TABLE related_products (
    shop_id     UUID NOT NULL,
    product_id  UUID NOT NULL,
    related_id  UUID NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (product_id, related_id),
    CHECK (product_id <> related_id),
    FOREIGN KEY (product_id, shop_id) REFERENCES products(id, shop_id) ON DELETE CASCADE,
    FOREIGN KEY (related_id, shop_id) REFERENCES products(id, shop_id) ON DELETE CASCADE
);
CREATE INDEX related_products_shop ON related_products (shop_id, product_id);
