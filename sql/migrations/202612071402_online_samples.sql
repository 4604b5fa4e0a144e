-- Sessions online, sampled every five minutes by the beat (ebs.sample_online,
-- billing/online_samples.py) for the dashboard's day chart. Counting who was online at
-- each hour from the closed sessions would read every session that ended in the last day
-- (hundreds of thousands at a large ISP's reconnect rate); a sample is one row, and the
-- chart reads at most a day of them by the key.
CREATE TABLE online_samples (
    sampled_at timestamptz PRIMARY KEY,
    sessions integer NOT NULL CHECK (sessions >= 0)
);
