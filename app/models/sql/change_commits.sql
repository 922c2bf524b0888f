-- Commit order for the change feed: each transaction that logged a change gets a position,
-- taken while it commits, in the order transactions commit. /v1/changes reads
-- `changes JOIN change_commits USING (txid) ORDER BY position, id`.
--
-- Why the feed can neither skip nor reorder:
-- 1. A position is taken by the deferred trigger below, inside COMMIT, after the transaction's
--    last statement, under one transaction-level advisory lock. PostgreSQL releases that lock
--    only after the commit is visible to every new snapshot (ProcArrayEndTransaction runs
--    before the locks are released), or after the transaction aborted.
-- 2. So position p + 1 is taken only once the holder of p has committed and is visible, or
--    rolled back (then p is a gap that nothing ever fills: sequence values are never reused).
-- 3. Any snapshot that sees position q therefore sees every committed p < q: the visible
--    positions are always a prefix. A reader that resumes after (position, id) cannot miss a
--    transaction that commits later, because that one gets a larger position.
-- 4. Two transactions that write one row are serialised by its row lock, the second writing
--    after the first committed: the first has the smaller position, so each resource's
--    versions appear in the feed in the order they were made, and its last entry is its
--    current state.
-- Only transactions that logged a change take the lock, and only for the end of their commit
-- (the WAL flush included): change-producing commits are serialised, readers never wait.
-- The sequence must keep CACHE 1 (the default), or sessions would draw from their own ranges.

CREATE FUNCTION public.change_commits_register() RETURNS trigger
LANGUAGE plpgsql AS $$
-- After every INSERT into changes (one statement, once): the first statement of a transaction
-- that logged a change enters the transaction; the later ones find it and do nothing.
BEGIN
  INSERT INTO change_commits (txid)
  SELECT pg_current_xact_id()::text::bigint
  WHERE EXISTS (SELECT FROM changes WHERE txid = pg_current_xact_id()::text::bigint)
  ON CONFLICT (txid) DO NOTHING;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.change_commits_take_position() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Deferred to COMMIT. The lock is held until the commit is visible (see the top of the file).
BEGIN
  PERFORM pg_advisory_xact_lock(7245002);
  UPDATE change_commits SET position = nextval('change_commits_position_seq')
  WHERE txid = NEW.txid;
  RETURN NULL;
END
$$;

CREATE TRIGGER changes_register_transaction AFTER INSERT ON public.changes
  FOR EACH STATEMENT EXECUTE FUNCTION change_commits_register();

CREATE CONSTRAINT TRIGGER change_commits_take_position AFTER INSERT ON public.change_commits
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION change_commits_take_position();
