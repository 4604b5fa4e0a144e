-- A session the stale-session sweep closed may still get its real Stop (with the final
-- counters) long after: its mark remembers that it was swept, so the session rater keeps
-- reading its history row by key for a day instead of forgetting it once the window has
-- passed.
ALTER TABLE session_rating_marks ADD COLUMN swept boolean NOT NULL DEFAULT false;
