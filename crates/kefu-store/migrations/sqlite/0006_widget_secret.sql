-- The secret a shop's own servers sign buyer tokens with (SPEC §2.6); none until the shop makes one.
ALTER TABLE shops ADD COLUMN widget_secret TEXT;
