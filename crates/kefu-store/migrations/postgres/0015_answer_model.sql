-- The bot's answer threshold is now held against the answer model's probability that the best
-- entry is right (kefu-bot/src/answer.rs), no longer against a score: a shop's own answer
-- threshold, set on the old scale, is dropped so that the shop gets the calibrated default
-- until it sets one again.
UPDATE shops SET settings = settings #- '{bot,answer_threshold}';
