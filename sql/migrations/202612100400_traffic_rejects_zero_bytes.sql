-- Rows the collector wrote with no bytes (counter-less IPFIX records, MikroTik sends
-- them, when nothing else of the same address, class and direction came in that minute)
-- are counted by the rater as rejected, reason zero_bytes, instead of being dropped
-- unseen by the collector.
ALTER TABLE traffic_rejects DROP CONSTRAINT traffic_rejects_reason_check;
ALTER TABLE traffic_rejects ADD CONSTRAINT traffic_rejects_reason_check
    CHECK (reason IN ('no_holder', 'no_direction', 'zero_bytes'));
