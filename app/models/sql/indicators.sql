-- Indicators: the per-action record's representation and change log, and the rules on actuals
-- and units that the database holds whoever writes. Statements each begin a line with CREATE
-- (app/models/sql/__init__.py); a migration moves the database to them.

-- A per-action record as GET shows it (app/indicators/schemas.py, ActionIndicatorRead):
-- values as the decimal strings they were sent as, actuals in (date, order recorded) order.
CREATE FUNCTION public.relance_action_indicator_data(record action_indicators) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', record.id, 'action_id', record.action_id, 'indicator_id', record.indicator_id,
    'unit', record.unit,
    'baseline', CASE WHEN record.baseline_value IS NOT NULL THEN jsonb_build_object(
      'value', record.baseline_value::text, 'on', record.baseline_on) END,
    'targets', coalesce((SELECT jsonb_agg(jsonb_build_object('year', t.year,
                                                             'value', t.value::text)
                                          ORDER BY t.year)
                         FROM indicator_targets t WHERE t.action_indicator_id = record.id),
                        '[]'::jsonb),
    'actuals', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                  'on', a.measured_on, 'value', a.value::text,
                                  'partner_id', a.partner_id, 'external_ref', a.external_ref)
                                ORDER BY a.measured_on, a.id)
                         FROM indicator_actuals a WHERE a.action_indicator_id = record.id),
                        '[]'::jsonb),
    'created_at', record.created_at, 'updated_at', record.updated_at)
$$;

CREATE FUNCTION public.relance_capture_action_indicators() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level, like relance_capture_changes, but the snapshot includes the targets and
-- actuals, which the API writes before the record's row (their foreign keys are deferred), so
-- each write is one entry. Only a new version is a change: a programme that follows its action
-- (ON UPDATE CASCADE) changes nothing GET shows.
DECLARE
  who text := nullif(current_setting('relance.actor_name', true), '');
  what text := nullif(current_setting('relance.actor_role', true), '');
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    SELECT 'action_indicators', r.id, 'create', r.version,
           relance_action_indicator_data(r), who, what
    FROM new_rows n JOIN action_indicators r ON r.id = n.id;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO changes (resource, resource_id, op, version, data, actor_name, actor_role)
    SELECT 'action_indicators', r.id, 'update', r.version,
           relance_action_indicator_data(r), who, what
    FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN action_indicators r ON r.id = n.id
    WHERE n.version <> o.version;
  ELSE
    INSERT INTO changes (resource, resource_id, op, version, actor_name, actor_role)
    SELECT 'action_indicators', o.id, 'delete', o.version, who, what
    FROM old_rows o;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.indicator_actuals_not_in_future() RETURNS trigger
LANGUAGE plpgsql AS $$
-- Statement level: one look at the statement's new rows, however many.
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE measured_on > current_date) THEN
    RAISE EXCEPTION 'an indicator value is dated in the future'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'indicator_actuals_on_not_in_future_check';
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION public.indicator_units_unmixed() RETURNS trigger
LANGUAGE plpgsql AS $$
-- A `sum` indicator adds its actions' values up: all of them must be in its unit.
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows n JOIN action_indicators r ON r.indicator_id = n.id
             WHERE n.aggregation = 'sum' AND r.unit <> n.unit) THEN
    RAISE EXCEPTION 'a sum indicator has values in another unit'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'indicators_units_unmixed_check';
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER indicators_capture_insert AFTER INSERT ON public.indicators
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER indicators_capture_update AFTER UPDATE ON public.indicators
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER indicators_capture_delete AFTER DELETE ON public.indicators
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_changes();
CREATE TRIGGER indicators_units_unmixed AFTER UPDATE ON public.indicators
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION indicator_units_unmixed();

CREATE TRIGGER action_indicators_capture_insert AFTER INSERT ON public.action_indicators
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_action_indicators();
CREATE TRIGGER action_indicators_capture_update AFTER UPDATE ON public.action_indicators
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_action_indicators();
CREATE TRIGGER action_indicators_capture_delete AFTER DELETE ON public.action_indicators
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION relance_capture_action_indicators();

CREATE TRIGGER indicator_actuals_not_in_future_insert AFTER INSERT ON public.indicator_actuals
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION indicator_actuals_not_in_future();
CREATE TRIGGER indicator_actuals_not_in_future_update AFTER UPDATE ON public.indicator_actuals
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION indicator_actuals_not_in_future();
