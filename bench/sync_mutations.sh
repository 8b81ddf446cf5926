#!/bin/bash
# Mutations of the sync's guarantees; each must make the named tests fail ("killed"). Run from the repository
# root: bash bench/sync_mutations.sh. Each mutation edits one file, runs the tests and puts the file back.
set -u
source "$(dirname "$0")/_mutate.sh"
mutate job-passes-no-guard app/jobs/datasets.py "guard=ctx.guard" "guard=None" tests/test_sync_job_faithful.py -k zombie
mutate engine-ignores-guard app/sync/engine.py "                if guard is not None:
                    guard(conn)
                self._advance_cursor" "                self._advance_cursor" tests/test_sync.py -k zombie
mutate cursor-and-data-in-two-transactions app/sync/engine.py "                self._advance_cursor(conn, version, batch.last.as_json(), now)
                if self.around_batch is None:" "                pass
            with write_transaction(self.destination_engine) as conn:
                self._advance_cursor(conn, version, batch.last.as_json(), now)
            with write_transaction(self.destination_engine) as conn:
                if self.around_batch is None:" tests/test_sync.py -k "stale or fails_after"
mutate data-committed-before-the-cursor app/sync/engine.py "                self._advance_cursor(conn, version, batch.last.as_json(), now)
                if self.around_batch is None:
                    written = self.destination.write(conn, batch)
                else:
                    with self.around_batch(conn, self.table(), batch):
                        written = self.destination.write(conn, batch)" "                if self.around_batch is None:
                    written = self.destination.write(conn, batch)
                else:
                    with self.around_batch(conn, self.table(), batch):
                        written = self.destination.write(conn, batch)
            with write_transaction(self.destination_engine) as conn:
                self._advance_cursor(conn, version, batch.last.as_json(), now)" tests/test_sync.py -k "stale or fails_after"
mutate no-key-uniqueness-check app/sync/engine.py "        self.source.check_keys()
" "" tests/test_sync_shapes.py -k not_unique
mutate json-read-as-python app/sync/types.py 'as_text=src == "postgresql",
            cast_on_write=to_pg,' 'as_text=False,
            cast_on_write=False,' tests/test_types_matrix.py -k "every and postgresql"
mutate wide-decimal-as-float app/sync/types.py '    return ColumnPlan(name, t, sqltypes.Text(), convert=_decimal_text)' '    return ColumnPlan(name, t, sqltypes.Numeric(), convert=_decimal_float)' tests/test_types_matrix.py -k every
mutate collation-kept app/sync/types.py '        return sqltypes.String(t.length)
    return sqltypes.Text()' '        return sqltypes.String(t.length, collation=t.collation)
    return sqltypes.Text(collation=t.collation)' tests/test_types_matrix.py -k every
mutate no-null-cursor-pass app/sync/source.py '        for rows, types in self._pages(reader, "null", None, batch_size):' '        for rows, types in []:' tests/test_sync_shapes.py -k null_cursor
mutate reconcile-without-guard app/sync/reconcile.py '                if guard is not None:
                    guard(conn)
' '' tests/test_reconcile.py -k zombie
mutate whole-copy-keeps-deleted-rows app/sync/engine.py '            deleted, version = self._reconcile(batch_size, guard, stored, version)' '            pass' tests/test_sync_shapes.py -k without_a_cursor
mutate unchanged-revisit-still-commits app/sync/engine.py '                    raise _Unchanged' '                    pass' tests/test_sync_shapes.py -k without_a_cursor
mutate deletes-without-the-cursor-compare-and-set app/sync/engine.py '            self._advance_cursor(conn, at[0], stored, self.clock.now())' '            pass' tests/test_reconcile.py -k "stale_cursor or own_trigger"
mutate reconcile-job-only-syncs app/jobs/datasets.py '    result = syncer.reconcile(settings.sync_batch_size, guard=ctx.guard)' '    result = syncer.run(settings.sync_batch_size, guard=ctx.guard)' tests/test_datasets.py -k three_sources
mutate dataset-job-keeps-first-key-only app/jobs/datasets.py '        dataset.key,' '        dataset.key[0],' tests/test_datasets.py -k each_dataset_is_its_own_job
mutate max-age-not-an-alert-limit app/core/alerts.py 'limit = self._max_age.get(name) or stale_limit' 'limit = stale_limit' tests/test_alerts.py -k max_age
mutate old-cursor-on-a-new-table app/sync/engine.py '        if created and stored is not None:' '        if False:' tests/test_datasets.py -k new_destination
mutate partial-unique-index-proves-key-pg app/sync/source.py 'AND i.indpred IS NULL AND i.indexprs IS NULL' 'AND i.indexprs IS NULL' tests/test_sync_shapes.py -k "prove and pg-source"
mutate partial-unique-index-proves-key app/sync/source.py 'if ix["unique"] and not any(k.endswith("_where") for k in ix.get("dialect_options", {}))' 'if ix["unique"]' tests/test_sync_shapes.py -k "prove and sqlite-source"
mutate copy-savepoint-not-rolled-back app/sync/copy_writer.py '        cursor.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}")' '        pass' tests/test_pg_copy.py -k "twice or misfit or another_python_type or already_in"
mutate nan-column-check-passes-all app/sync/types.py '    _no_nan: lambda values: not any(map(math.isnan, values)),' '    _no_nan: lambda values: True,' tests/test_types_matrix.py -k would_change
mutate sqlite-boolean-column-unchecked app/sync/destination.py 'return values if set(map(type, values)) <= _BOOLS else list(map(processor, values))' 'return values' tests/test_pg_copy.py -k sqlite_booleans
mutate datetime-column-takes-aware-values app/sync/destination.py 'if set(map(type, values)) == {datetime} and not any(map(_TZINFO, values)):' 'if set(map(type, values)) <= {datetime}:' tests/test_pg_copy.py -k sqlite_datetime_text
mutate no-statistics-during-a-first-load app/sync/destination.py '        if not self._empty_at_start or not any(' '        if True or not any(' tests/test_pg_copy.py -k analyzes
mutate statistics-on-every-run app/sync/destination.py '        if not self._empty_at_start or not any(' '        if not any(' tests/test_pg_copy.py -k analyzes
mutate failed-run-keeps-its-source-connection app/sync/engine.py '        if close is not None:
            close()' '        pass' tests/test_pg_copy.py -k gives_back
mutate mysql-double-through-decimal-processor app/sync/types.py 'convert=None if to_pg else _no_nan, source_processor=False)' 'convert=None if to_pg else _no_nan)' tests/test_types_matrix.py -k "every and mariadb"
mutate decimal-column-conversion-unchecked app/sync/types.py '    if not all(map(Decimal.is_finite, values)):' '    if False:' tests/test_types_matrix.py -k would_change
mutate converted-column-loses-its-nulls app/sync/keyset.py '    return [None if v is None else next(found) for v in values]' '    return list(found)' tests/test_types_matrix.py -k "every and mariadb"
mutate mysql-zero-date-passes app/sync/types.py '        raise ValueError(f"{_short(value)} is not a date and time (a MySQL zero date has no Python value)") from None' '        return value' tests/test_types_matrix.py -k would_change
mutate mariadb-dialect-not-read-as-mysql app/sync/types.py '"mysql" if source.name == "mariadb" else source.name' 'source.name' tests/test_types_matrix.py -k "mariadb_url or duration"
# the HTTP source (app/sync/http_source.py, http_transport.py): secrets, retries, rate limit
mutate http-error-not-scrubbed app/sync/http_source.py '        return SourceError(self._scrub(message))' '        return SourceError(message)' tests/test_http_source.py -k "never_appears_in_errors or without_any_secret or echoes_the_token"
mutate http-429-not-retried app/sync/http_source.py '        if response.status_code != 429 and response.status_code < 500:' '        if response.status_code < 500:' tests/test_http_source.py -k 429
mutate http-rate-limit-ignored app/sync/http_source.py '        self.limiter.acquire()
' '' tests/test_http_source.py -k rate_limit
