-- How many actions each chantier has (chantier_action_counts), kept by statement triggers on
-- actions: each statement adds its new rows and takes out its old ones, summed by chantier and
-- applied in chantier order. A writer holds its chantiers' rows until it commits, as the
-- roll-ups' writers hold theirs; two transactions moving actions across the same chantiers in
-- opposite orders can deadlock, and the one PostgreSQL picks is answered 503 with Retry-After
-- (40P01 is retryable). A chantier's row stays at 0 when its last action goes; it goes with the
-- chantier.

CREATE FUNCTION public.chantier_action_counts_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO chantier_action_counts AS n (chantier_id, actions)
  SELECT chantier_id, count(*) FROM new_rows GROUP BY chantier_id ORDER BY chantier_id
  ON CONFLICT (chantier_id) DO UPDATE SET actions = n.actions + EXCLUDED.actions;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.chantier_action_counts_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Only statements that move actions between chantiers change a count.
  INSERT INTO chantier_action_counts AS n (chantier_id, actions)
  SELECT chantier_id, sum(delta)
  FROM (SELECT chantier_id, 1 AS delta FROM new_rows
        UNION ALL
        SELECT chantier_id, -1 FROM old_rows) AS moved
  GROUP BY chantier_id
  HAVING sum(delta) <> 0
  ORDER BY chantier_id
  ON CONFLICT (chantier_id) DO UPDATE SET actions = n.actions + EXCLUDED.actions;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.chantier_action_counts_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- Every chantier of a deleted action has its row, so this only ever updates (an upsert
  -- rather than an UPDATE ... FROM for its lock order).
  INSERT INTO chantier_action_counts AS n (chantier_id, actions)
  SELECT chantier_id, -count(*) FROM old_rows GROUP BY chantier_id ORDER BY chantier_id
  ON CONFLICT (chantier_id) DO UPDATE SET actions = n.actions + EXCLUDED.actions;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.chantier_action_counts_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM chantier_action_counts;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.chantier_action_counts_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
-- Recount from the actions (a migration's backfill, or a repair by ops); writers of actions
-- wait meanwhile (SHARE ROW EXCLUSIVE: reads go on, and two rebuilds take turns).
BEGIN
  LOCK TABLE actions IN SHARE ROW EXCLUSIVE MODE;
  DELETE FROM chantier_action_counts;
  INSERT INTO chantier_action_counts (chantier_id, actions)
  SELECT chantier_id, count(*) FROM actions GROUP BY chantier_id;
END
$$;

CREATE TRIGGER actions_count_insert AFTER INSERT ON public.actions
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION chantier_action_counts_on_insert();

CREATE TRIGGER actions_count_update AFTER UPDATE ON public.actions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION chantier_action_counts_on_update();

CREATE TRIGGER actions_count_delete AFTER DELETE ON public.actions
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION chantier_action_counts_on_delete();

CREATE TRIGGER actions_count_truncate AFTER TRUNCATE ON public.actions
  FOR EACH STATEMENT EXECUTE FUNCTION chantier_action_counts_on_truncate();
