-- Territorial roll-ups: per (level, territory, programme, chantier, partner, year, status,
-- instrument), the sums of amount and disbursed_amount placed in that territory and the number
-- of commitments placed there, kept exact by these triggers in the writing transaction (README,
-- "How the aggregates stay fast and exact").
--
-- A commitment's money is split among its action's communes in equal shares to the cent, the
-- first (cents mod n) communes a cent more, as the territorial drilldowns read it over the base
-- tables (territorial_source in app/reporting/statements.py). At each level (commune, EPCI,
-- département) a commitment counts once in each territory that holds a share of it, with the
-- sum of its shares there; '' stands for no territory (an action without communes, a commune
-- the referential does not know or does not place in an EPCI). The place of a commune code is
-- its commune-like territory, the commune first.
--
-- The triggers on commitments mirror the commitment roll-up's (statement level, transition
-- tables, cells upserted in key order, the action looked up as it stands, its places computed
-- once per action of the statement, not once per commitment, inline: a SQL function called with a
-- sub-select is not inlined and is planned again at each call, 0.39 ms of a one-row insert); an action changing
-- chantier or communes moves its commitments' figures; a change of the referential that can
-- move a commune (a new commune-like territory, a commune changing EPCI or département)
-- rebuilds the table, in the loading transaction.

CREATE FUNCTION public.territorial_places(communes character varying[])
RETURNS TABLE(level text, territory text, ranks integer[], n integer)
LANGUAGE sql STABLE AS $$
  -- The territories of an action's communes at each level: for each, the ranks of the communes
  -- it holds (sorted) and the number of shares. Without communes: one place, '', of one share.
  SELECT v.level, coalesce(v.territory, '') AS territory,
         array_agg(cm.rank::integer ORDER BY cm.rank) AS ranks,
         greatest(cardinality(communes), 1) AS n
  FROM (SELECT NULL::text AS commune, 1::bigint AS rank WHERE cardinality(communes) = 0
        UNION ALL
        SELECT u.commune, u.rank FROM unnest(communes) WITH ORDINALITY AS u(commune, rank)) AS cm
  LEFT JOIN LATERAL (SELECT t.epci_code, t.departement_code FROM territories t
                     WHERE t.code = cm.commune
                       AND t.kind IN ('commune', 'arrondissement_municipal',
                                      'commune_deleguee', 'commune_associee')
                     ORDER BY t.kind <> 'commune', t.kind LIMIT 1) AS place ON true
  CROSS JOIN LATERAL (VALUES ('commune', cm.commune),
                             ('epci', place.epci_code),
                             ('departement', place.departement_code)) AS v(level, territory)
  GROUP BY v.level, coalesce(v.territory, '')
$$;

CREATE FUNCTION public.territorial_share(money numeric, n integer, ranks integer[])
RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$
  -- The sum of the shares of ranks (sorted) among n equal shares of money, to the cent: each
  -- share has money's cents div n, and the first (cents mod n) one cent more.
  SELECT round((div(money * 100, n) * cardinality(ranks)
                + width_bucket(money * 100 - div(money * 100, n) * n, ranks)) / 100, 2)
$$;

CREATE FUNCTION public.territorial_rollups_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO territorial_rollups AS r
    (level, territory, programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT p.level, p.territory, p.programme_id, p.chantier_id,
         c.partner_id, c.year, c.status, c.instrument,
         sum(territorial_share(c.amount, p.n, p.ranks)),
         sum(territorial_share(c.disbursed_amount, p.n, p.ranks)), count(*)
  FROM new_rows c
  JOIN (SELECT a.id AS action_id, a.programme_id, a.chantier_id,
               pl.level, pl.territory, pl.ranks, pl.n
        FROM (SELECT DISTINCT action_id FROM new_rows) AS d
        CROSS JOIN LATERAL (SELECT id, programme_id, chantier_id, communes FROM actions
                            WHERE id = d.action_id OFFSET 0) AS a
        CROSS JOIN LATERAL territorial_places(a.communes) AS pl) AS p
    ON p.action_id = c.action_id
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
  ON CONFLICT (level, territory, programme_id, chantier_id, partner_id, year, status, instrument)
  DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.territorial_rollups_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
-- The new rows count in, the old rows count out; cells whose delta is nil are left alone, and
-- cells that no commitment feeds any more are deleted.
BEGIN
  INSERT INTO territorial_rollups AS r
    (level, territory, programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT level, territory, programme_id, chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), sum(commitments)
  FROM (SELECT p.level, p.territory, p.programme_id, p.chantier_id,
               c.partner_id, c.year, c.status, c.instrument,
               c.sign * territorial_share(c.amount, p.n, p.ranks) AS amount,
               c.sign * territorial_share(c.disbursed_amount, p.n, p.ranks) AS disbursed_amount,
               c.sign AS commitments
        FROM (SELECT action_id, partner_id, year, status, instrument, amount, disbursed_amount,
                     1 AS sign
              FROM new_rows
              UNION ALL
              SELECT action_id, partner_id, year, status, instrument, amount, disbursed_amount,
                     -1
              FROM old_rows) AS c
        JOIN (SELECT a.id AS action_id, a.programme_id, a.chantier_id,
                     pl.level, pl.territory, pl.ranks, pl.n
              FROM (SELECT action_id FROM new_rows UNION SELECT action_id FROM old_rows) AS d
              CROSS JOIN LATERAL (SELECT id, programme_id, chantier_id, communes FROM actions
                                  WHERE id = d.action_id OFFSET 0) AS a
              CROSS JOIN LATERAL territorial_places(a.communes) AS pl) AS p
          ON p.action_id = c.action_id) AS delta
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  HAVING sum(commitments) <> 0 OR sum(amount) <> 0 OR sum(disbursed_amount) <> 0
  ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
  ON CONFLICT (level, territory, programme_id, chantier_id, partner_id, year, status, instrument)
  DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM territorial_rollups r
  USING (SELECT DISTINCT p.level, p.territory, p.programme_id, p.chantier_id,
                         c.partner_id, c.year, c.status, c.instrument
         FROM old_rows c
         JOIN (SELECT a.id AS action_id, a.programme_id, a.chantier_id,
                      pl.level, pl.territory, pl.ranks, pl.n
               FROM (SELECT DISTINCT action_id FROM old_rows) AS d
               CROSS JOIN LATERAL (SELECT id, programme_id, chantier_id, communes FROM actions
                                   WHERE id = d.action_id OFFSET 0) AS a
               CROSS JOIN LATERAL territorial_places(a.communes) AS pl) AS p
           ON p.action_id = c.action_id) AS left_cells
  WHERE r.commitment_count = 0
    AND (r.level, r.territory, r.programme_id, r.chantier_id, r.partner_id, r.year, r.status,
         r.instrument)
      = (left_cells.level, left_cells.territory, left_cells.programme_id,
         left_cells.chantier_id, left_cells.partner_id, left_cells.year, left_cells.status,
         left_cells.instrument);
  RETURN NULL;
END
$$;

CREATE FUNCTION public.territorial_rollups_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO territorial_rollups AS r
    (level, territory, programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT p.level, p.territory, p.programme_id, p.chantier_id,
         c.partner_id, c.year, c.status, c.instrument,
         -sum(territorial_share(c.amount, p.n, p.ranks)),
         -sum(territorial_share(c.disbursed_amount, p.n, p.ranks)), -count(*)
  FROM old_rows c
  JOIN (SELECT a.id AS action_id, a.programme_id, a.chantier_id,
               pl.level, pl.territory, pl.ranks, pl.n
        FROM (SELECT DISTINCT action_id FROM old_rows) AS d
        CROSS JOIN LATERAL (SELECT id, programme_id, chantier_id, communes FROM actions
                            WHERE id = d.action_id OFFSET 0) AS a
        CROSS JOIN LATERAL territorial_places(a.communes) AS pl) AS p
    ON p.action_id = c.action_id
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
  ON CONFLICT (level, territory, programme_id, chantier_id, partner_id, year, status, instrument)
  DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM territorial_rollups r
  USING (SELECT DISTINCT p.level, p.territory, p.programme_id, p.chantier_id,
                         c.partner_id, c.year, c.status, c.instrument
         FROM old_rows c
         JOIN (SELECT a.id AS action_id, a.programme_id, a.chantier_id,
                      pl.level, pl.territory, pl.ranks, pl.n
               FROM (SELECT DISTINCT action_id FROM old_rows) AS d
               CROSS JOIN LATERAL (SELECT id, programme_id, chantier_id, communes FROM actions
                                   WHERE id = d.action_id OFFSET 0) AS a
               CROSS JOIN LATERAL territorial_places(a.communes) AS pl) AS p
           ON p.action_id = c.action_id) AS left_cells
  WHERE r.commitment_count = 0
    AND (r.level, r.territory, r.programme_id, r.chantier_id, r.partner_id, r.year, r.status,
         r.instrument)
      = (left_cells.level, left_cells.territory, left_cells.programme_id,
         left_cells.chantier_id, left_cells.partner_id, left_cells.year, left_cells.status,
         left_cells.instrument);
  RETURN NULL;
END
$$;

CREATE FUNCTION public.territorial_rollups_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM territorial_rollups;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.territorial_rollups_on_action_move() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Row level on actions: an action that changes chantier (and perhaps programme) or communes
-- takes its commitments' figures from its old places to its new ones.
BEGIN
  INSERT INTO territorial_rollups AS r
    (level, territory, programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT level, territory, programme_id, chantier_id, partner_id, year, status, instrument,
         sum(amount), sum(disbursed_amount), sum(commitments)
  FROM (SELECT p.level, p.territory, OLD.programme_id AS programme_id,
               OLD.chantier_id AS chantier_id, c.partner_id, c.year, c.status, c.instrument,
               -territorial_share(c.amount, p.n, p.ranks) AS amount,
               -territorial_share(c.disbursed_amount, p.n, p.ranks) AS disbursed_amount,
               -1 AS commitments
        FROM commitments c CROSS JOIN territorial_places(OLD.communes) AS p
        WHERE c.action_id = NEW.id
        UNION ALL
        SELECT p.level, p.territory, NEW.programme_id, NEW.chantier_id,
               c.partner_id, c.year, c.status, c.instrument,
               territorial_share(c.amount, p.n, p.ranks),
               territorial_share(c.disbursed_amount, p.n, p.ranks), 1
        FROM commitments c CROSS JOIN territorial_places(NEW.communes) AS p
        WHERE c.action_id = NEW.id) AS moved
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
  HAVING sum(commitments) <> 0 OR sum(amount) <> 0 OR sum(disbursed_amount) <> 0
  ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
  ON CONFLICT (level, territory, programme_id, chantier_id, partner_id, year, status, instrument)
  DO UPDATE
  SET amount_sum = r.amount_sum + EXCLUDED.amount_sum,
      disbursed_sum = r.disbursed_sum + EXCLUDED.disbursed_sum,
      commitment_count = r.commitment_count + EXCLUDED.commitment_count;

  DELETE FROM territorial_rollups
  WHERE chantier_id = OLD.chantier_id AND programme_id = OLD.programme_id
    AND commitment_count = 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.territorial_rollups_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
-- Recompute from scratch (a migration's backfill, a change of the referential, or a repair by
-- ops); writers wait meanwhile.
BEGIN
  LOCK TABLE commitments, actions IN SHARE MODE;
  DELETE FROM territorial_rollups;
  INSERT INTO territorial_rollups
    (level, territory, programme_id, chantier_id, partner_id, year, status, instrument,
     amount_sum, disbursed_sum, commitment_count)
  SELECT p.level, p.territory, p.programme_id, p.chantier_id,
         c.partner_id, c.year, c.status, c.instrument,
         sum(territorial_share(c.amount, p.n, p.ranks)),
         sum(territorial_share(c.disbursed_amount, p.n, p.ranks)), count(*)
  FROM commitments c
  JOIN (SELECT a.id AS action_id, a.programme_id, a.chantier_id,
               pl.level, pl.territory, pl.ranks, pl.n
        FROM actions a CROSS JOIN LATERAL territorial_places(a.communes) AS pl) AS p
    ON p.action_id = c.action_id
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
END
$$;

CREATE FUNCTION public.territorial_rollups_on_referential() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level on territories: only a change that can move a commune's share rebuilds (a
-- reload that changes nothing, a population or a name, a territory retired, leave it alone).
DECLARE
  moved boolean := true;
BEGIN
  IF TG_OP = 'INSERT' THEN
    moved := EXISTS (SELECT 1 FROM new_rows
                     WHERE kind IN ('commune', 'arrondissement_municipal',
                                    'commune_deleguee', 'commune_associee'));
  ELSIF TG_OP = 'UPDATE' THEN
    moved := EXISTS (SELECT kind, code, epci_code, departement_code FROM new_rows
                     WHERE kind IN ('commune', 'arrondissement_municipal',
                                    'commune_deleguee', 'commune_associee')
                     EXCEPT
                     SELECT kind, code, epci_code, departement_code FROM old_rows);
  END IF;
  IF moved THEN
    PERFORM territorial_rollups_rebuild();
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER commitments_territorial_rollup_insert AFTER INSERT ON public.commitments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION territorial_rollups_on_insert();
CREATE TRIGGER commitments_territorial_rollup_update AFTER UPDATE ON public.commitments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION territorial_rollups_on_update();
CREATE TRIGGER commitments_territorial_rollup_delete AFTER DELETE ON public.commitments
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION territorial_rollups_on_delete();
CREATE TRIGGER commitments_territorial_rollup_truncate AFTER TRUNCATE ON public.commitments
  FOR EACH STATEMENT EXECUTE FUNCTION territorial_rollups_on_truncate();
CREATE TRIGGER actions_territorial_rollup_move AFTER UPDATE OF chantier_id, communes
  ON public.actions
  FOR EACH ROW WHEN (OLD.chantier_id IS DISTINCT FROM NEW.chantier_id
                     OR OLD.communes IS DISTINCT FROM NEW.communes)
  EXECUTE FUNCTION territorial_rollups_on_action_move();
CREATE TRIGGER territories_territorial_rollup_insert AFTER INSERT ON public.territories
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION territorial_rollups_on_referential();
CREATE TRIGGER territories_territorial_rollup_update AFTER UPDATE ON public.territories
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION territorial_rollups_on_referential();
CREATE TRIGGER territories_territorial_rollup_delete AFTER DELETE OR TRUNCATE
  ON public.territories
  FOR EACH STATEMENT EXECUTE FUNCTION territorial_rollups_on_referential();
