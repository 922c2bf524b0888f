-- Commitment roll-ups: per (programme, chantier, partner, year, status, instrument), the sums
-- of amount and disbursed_amount and the number of commitments, kept exact by these triggers
-- in the writing transaction (README, "How the aggregates stay fast and exact").
--
-- Statement level with transition tables: each statement adds its delta with one upsert.
-- Cells are upserted in grain order, so that concurrent writers lock them in one order.
-- The chantier and its programme come from the action by a lateral lookup fenced by OFFSET 0,
-- not a plain join: the planner cannot estimate a transition table, and unfenced it flattens
-- the lookup into a join whose plan, cached for the session, hashed the whole actions table for
-- every one-row statement (84-165 single-row inserts a second instead of thousands). Both are read from the action as it stands, for old rows too: when an
-- action moves, the cascade that updates its commitments' programme_id then moves nothing,
-- and the action's own trigger moves the figures once.

CREATE FUNCTION public.commitment_rollups_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), count(*)
  FROM (SELECT a.programme_id, a.chantier_id,
               c.partner_id, c.year, c.status, c.instrument, c.amount, c.disbursed_amount
        FROM new_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id OFFSET 0) AS a) AS added
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.commitment_rollups_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
-- The new rows count in, the old rows count out; cells whose delta is nil are left alone, and
-- cells that no commitment feeds any more are deleted.
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), sum(commitments)
  FROM (SELECT a.programme_id, a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
               c.amount, c.disbursed_amount, 1 AS commitments
        FROM new_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id OFFSET 0) AS a
        UNION ALL
        SELECT a.programme_id, a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
               -c.amount, -c.disbursed_amount, -1
        FROM old_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id OFFSET 0) AS a) AS delta
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  HAVING sum(commitments) <> 0 OR sum(amount) <> 0 OR sum(disbursed_amount) <> 0
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups r
  USING (SELECT DISTINCT a.programme_id, a.chantier_id,
                         c.partner_id, c.year, c.status, c.instrument
         FROM old_rows c
         CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                             WHERE id = c.action_id OFFSET 0) AS a) AS left_cells
  WHERE r.commitment_count = 0
    AND (r.programme_id, r.chantier_id, r.partner_id, r.year, r.status, r.instrument)
      = (left_cells.programme_id, left_cells.chantier_id, left_cells.partner_id,
         left_cells.year, left_cells.status, left_cells.instrument);
  RETURN NULL;
END
$$;

CREATE FUNCTION public.commitment_rollups_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         -sum(amount), -sum(disbursed_amount), -count(*)
  FROM (SELECT a.programme_id, a.chantier_id,
               c.partner_id, c.year, c.status, c.instrument, c.amount, c.disbursed_amount
        FROM old_rows c
        CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                            WHERE id = c.action_id OFFSET 0) AS a) AS removed
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups r
  USING (SELECT DISTINCT a.programme_id, a.chantier_id,
                         c.partner_id, c.year, c.status, c.instrument
         FROM old_rows c
         CROSS JOIN LATERAL (SELECT programme_id, chantier_id FROM actions
                             WHERE id = c.action_id OFFSET 0) AS a) AS left_cells
  WHERE r.commitment_count = 0
    AND (r.programme_id, r.chantier_id, r.partner_id, r.year, r.status, r.instrument)
      = (left_cells.programme_id, left_cells.chantier_id, left_cells.partner_id,
         left_cells.year, left_cells.status, left_cells.instrument);
  RETURN NULL;
END
$$;

CREATE FUNCTION public.commitment_rollups_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM commitment_rollups;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.commitment_rollups_on_action_move() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Row level on actions: an action that changes chantier (and perhaps programme) takes its
-- commitments' figures along.
BEGIN
  INSERT INTO commitment_rollups AS r
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT programme_id, chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), sum(commitments)
  FROM (SELECT OLD.programme_id AS programme_id, OLD.chantier_id AS chantier_id, partner_id,
               year, status, instrument,
               -amount AS amount, -disbursed_amount AS disbursed_amount, -1 AS commitments
        FROM commitments WHERE action_id = NEW.id
        UNION ALL
        SELECT NEW.programme_id, NEW.chantier_id, partner_id, year, status, instrument,
               amount, disbursed_amount, 1
        FROM commitments WHERE action_id = NEW.id) AS moved
  GROUP BY programme_id, chantier_id, partner_id, year, status, instrument
  HAVING sum(commitments) <> 0 OR sum(amount) <> 0 OR sum(disbursed_amount) <> 0
  ORDER BY programme_id, chantier_id, partner_id, year, status, instrument
  ON CONFLICT (programme_id, chantier_id, partner_id, year, status, instrument) DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM commitment_rollups
  WHERE programme_id = OLD.programme_id AND chantier_id = OLD.chantier_id
    AND commitment_count = 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.commitment_rollups_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
-- Recompute from scratch (a migration's backfill, or a repair by ops); writers wait meanwhile.
BEGIN
  LOCK TABLE commitments, actions IN SHARE MODE;
  DELETE FROM commitment_rollups;
  INSERT INTO commitment_rollups
    (programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT a.programme_id, a.chantier_id, c.partner_id, c.year, c.status, c.instrument,
         sum(c.amount), sum(c.disbursed_amount), count(*)
  FROM commitments c JOIN actions a ON a.id = c.action_id
  GROUP BY 1, 2, 3, 4, 5, 6;
END
$$;

CREATE TRIGGER commitments_rollup_insert AFTER INSERT ON public.commitments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION commitment_rollups_on_insert();
CREATE TRIGGER commitments_rollup_update AFTER UPDATE ON public.commitments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION commitment_rollups_on_update();
CREATE TRIGGER commitments_rollup_delete AFTER DELETE ON public.commitments
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION commitment_rollups_on_delete();
CREATE TRIGGER commitments_rollup_truncate AFTER TRUNCATE ON public.commitments
  FOR EACH STATEMENT EXECUTE FUNCTION commitment_rollups_on_truncate();
CREATE TRIGGER actions_rollup_move AFTER UPDATE OF chantier_id ON public.actions
  FOR EACH ROW WHEN (OLD.chantier_id IS DISTINCT FROM NEW.chantier_id)
  EXECUTE FUNCTION commitment_rollups_on_action_move();
