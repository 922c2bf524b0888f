-- The change log: every create, update and delete of a resource becomes one row of `changes`,
-- written by these triggers in the writing transaction, so that no write path (the API, the
-- CLI, psql, a migration) can bypass the change feed or the history.
--
-- `data` is the resource as stored after the change, as JSON: the API turns it into the
-- resource's representation with the same read model as GET (app/changes/service.py).
-- Statements in this file each begin a line with CREATE; alembic_utils compares them with the
-- database (`alembic check`), and a migration moves the database to them.

-- Money is stored as a decimal string with its two decimals: a JSON number would reach Python
-- as a float and lose cents. STABLE, as jsonb_build_object is: an IMMUTABLE function calling
-- it is never inlined, and a call per row of a 10,000-row statement costs more than its JSON.
CREATE FUNCTION public.relance_resource_data(resource text, row_data jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  -- Money travels as a decimal string, in the feed as in the API.
  SELECT CASE WHEN resource = 'commitments' THEN row_data || jsonb_build_object(
      'amount', row_data ->> 'amount', 'disbursed_amount', row_data ->> 'disbursed_amount')
    WHEN resource = 'payments' THEN row_data || jsonb_build_object(
      'amount', row_data ->> 'amount')
    ELSE row_data END
$$;

-- A chantier with the priorities it serves and its yearly targets, in GET's order.
CREATE FUNCTION public.relance_chantier_data(chantier chantiers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT to_jsonb(chantier) || jsonb_build_object(
    'priority_ids', coalesce((SELECT jsonb_agg(p.priority_id ORDER BY p.priority_id)
                              FROM chantier_priorities p WHERE p.chantier_id = chantier.id),
                             '[]'::jsonb),
    'targets', coalesce((SELECT jsonb_agg(jsonb_build_object('year', t.year,
                                                             'amount', t.amount::text)
                                          ORDER BY t.year)
                         FROM chantier_targets t WHERE t.chantier_id = chantier.id),
                        '[]'::jsonb))
$$;

CREATE FUNCTION public.relance_capture_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level, with the statement's transition tables: a 10,000-row upsert costs one
-- INSERT ... SELECT here. The actor is what the API set for this transaction
-- (relance.actor_name, relance.actor_role); other writers leave it null. Each row's JSON is
-- made once, in a subquery, so that relance_resource_data gets a plain column and is inlined
-- (with the expression itself as its argument it would be called once per row).
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
  what text := nullif(current_setting('relance.actor_role', true), '');
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    SELECT TG_TABLE_NAME, n.id, 'create', n.version,
           relance_resource_data(TG_TABLE_NAME, n.row_data), who, what
    FROM (SELECT n.id, n.version, to_jsonb(n) AS row_data FROM new_rows n OFFSET 0) AS n;
  ELSIF TG_OP = 'UPDATE' THEN
    -- A row rewritten with the same values is no change: no entry. The new rows that no old
    -- row equals (the id is in the row): a set difference, hashed or sorted, never a join of
    -- the two transition tables, which a plan cached for a small statement (PostgreSQL fixes
    -- a transition table's estimated size when it first plans a statement of the session)
    -- would run as a nested loop, 1,000 rows against 1,000.
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    SELECT TG_TABLE_NAME, (d.row_data ->> 'id')::uuid, 'update',
           (d.row_data ->> 'version')::int, relance_resource_data(TG_TABLE_NAME, d.row_data),
           who, what
    FROM (SELECT to_jsonb(n) AS row_data FROM new_rows n
          EXCEPT ALL
          SELECT to_jsonb(o) FROM old_rows o) AS d;
  ELSE
    INSERT INTO changes (resource, resource_id, op, version, actor_name, actor_role)
    SELECT TG_TABLE_NAME, o.id, 'delete', o.version, who, what
    FROM old_rows o;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.relance_capture_chantier() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Row level and deferred to commit: a chantier's priority links and targets live in child
-- tables that the ORM writes after the chantier row, and at commit the snapshot includes them.
-- An update that leaves the whole representation as the last entry has it adds nothing.
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
  what text := nullif(current_setting('relance.actor_role', true), '');
  snapshot jsonb;
  previous jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO changes (resource, resource_id, op, version, actor_name, actor_role)
    VALUES ('chantiers', OLD.id, 'delete', OLD.version, who, what);
    RETURN NULL;
  END IF;
  snapshot := relance_chantier_data(NEW);
  IF TG_OP = 'INSERT' THEN
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    VALUES ('chantiers', NEW.id, 'create', NEW.version, snapshot, who, what);
    RETURN NULL;
  END IF;
  SELECT c.data INTO previous FROM changes c
  WHERE c.resource_id = NEW.id AND c.op <> 'delete' ORDER BY c.id DESC LIMIT 1;
  IF previous IS NOT DISTINCT FROM snapshot THEN
    RETURN NULL;
  END IF;
  INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
  VALUES ('chantiers', NEW.id, 'update', NEW.version, snapshot, who, what);
  RETURN NULL;
END
$$;

CREATE TRIGGER priorities_capture_insert AFTER INSERT ON public.priorities
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER priorities_capture_update AFTER UPDATE ON public.priorities
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER priorities_capture_delete AFTER DELETE ON public.priorities
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();

CREATE TRIGGER actions_capture_insert AFTER INSERT ON public.actions
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER actions_capture_update AFTER UPDATE ON public.actions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER actions_capture_delete AFTER DELETE ON public.actions
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();

CREATE TRIGGER partners_capture_insert AFTER INSERT ON public.partners
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER partners_capture_update AFTER UPDATE ON public.partners
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER partners_capture_delete AFTER DELETE ON public.partners
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();

CREATE TRIGGER commitments_capture_insert AFTER INSERT ON public.commitments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER commitments_capture_update AFTER UPDATE ON public.commitments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER commitments_capture_delete AFTER DELETE ON public.commitments
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();

CREATE TRIGGER payments_capture_insert AFTER INSERT ON public.payments
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER payments_capture_update AFTER UPDATE ON public.payments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER payments_capture_delete AFTER DELETE ON public.payments
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();

CREATE CONSTRAINT TRIGGER chantiers_capture_insert AFTER INSERT ON public.chantiers
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION relance_capture_chantier();
CREATE CONSTRAINT TRIGGER chantiers_capture_update AFTER UPDATE ON public.chantiers
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION relance_capture_chantier();
CREATE CONSTRAINT TRIGGER chantiers_capture_delete AFTER DELETE ON public.chantiers
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION relance_capture_chantier();

CREATE TRIGGER programmes_capture_insert AFTER INSERT ON public.programmes
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER programmes_capture_update AFTER UPDATE ON public.programmes
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER programmes_capture_delete AFTER DELETE ON public.programmes
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
