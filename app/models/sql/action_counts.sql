-- How many actions each chantier has (chantier_action_counts), kept by statement triggers on
-- actions: each statement adds its new rows and takes out its old ones, summed by chantier and
-- applied in chantier order (two statements touching the same chantiers lock them in one
-- order). A chantier's row stays at 0 when its last action goes; it goes with the chantier.

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
