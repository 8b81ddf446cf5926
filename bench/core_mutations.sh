#!/bin/bash
# Mutations of the core's guarantees (issue 13, item 1); each must make the named tests fail ("killed"). Run from
# the repository root: bash bench/core_mutations.sh. Each mutation edits one file, runs the tests, puts it back.
set -u
source "$(dirname "$0")/_mutate.sh"
mutate claim-without-live-lease-check app/core/store.py '            if job.lease_held(now):
                return None
' '' tests/test_core.py -k second_run_while
mutate wake-without-catch-up app/core/hibernation.py '        logger.info("session seen: scheduler awake")
        self._catch_up(now)' '        logger.info("session seen: scheduler awake")' tests/test_core.py -k hibernation
mutate timeout-does-not-cancel app/core/runner.py '        self._ctx.cancelled.set()  # its next progress() raises' '        return None' tests/test_core.py -k cancels
mutate progress-ignores-cancellation app/core/context.py '        if self.cancelled.is_set():
            raise RunCancelledError' '        if False:
            raise RunCancelledError' tests/test_core.py -k cancels
mutate reap-without-orphan-sweep app/core/store.py '            orphans = conn.execute(
                update(runs)
                .where(runs.c.status == RunStatus.RUNNING.value, runs.c.lease_expires_at <= now)
                .values(status=RunStatus.ABANDONED.value, finished_at=now, error="lease expired")
            ).rowcount' '            orphans = 0' tests/test_core.py -k "no_longer_points_at"
mutate make-due-if-stale-without-fence-cas app/core/store.py '                .where(jobs.c.name == name, jobs.c.fence == job.fence)
                .values(follow_up_at=now, follow_up_reason=RunReason.CATCH_UP.value, follow_up_attempt=1)' '                .where(jobs.c.name == name)
                .values(follow_up_at=now, follow_up_reason=RunReason.CATCH_UP.value, follow_up_attempt=1)' tests/test_core.py -k moved_on
mutate claim-without-compare-and-set-on-sqlite app/core/store.py '                .where(jobs.c.name == name, jobs.c.fence == job.fence, slot_column == scheduled_for)' '                .where(jobs.c.name == name)' tests/test_core.py -k "changed_since and sqlite"
mutate lease-writes-not-retried-after-a-lost-connection app/core/store.py 'stop=stop_after_attempt(2)' 'stop=stop_after_attempt(1)' tests/test_core.py -k connection_lost
# web/worker split (issue 14, item 3)
mutate request-run-without-notify app/core/store.py '                conn.execute(select(func.pg_notify(REQUEST_CHANNEL, name)))' '                pass' tests/test_web_worker.py -k "notifies or (serve_each_web_request and postgresql)"
mutate web-role-runs-requests-itself app/core/scheduler.py '        return self.worker or self.settings.scheduler_role != "web"' '        return True' tests/test_web_worker.py -k never_runs_it_itself
mutate web-dispatch-unguarded app/core/dispatch.py '        if not self.executes_runs():  # the last guard of the web role: whatever calls this, runs happen in workers
            return outcomes' '' tests/test_web_worker.py -k never_runs_it_itself
mutate web-status-ignores-worker-heartbeats app/core/status.py '            state = "running" if found.state == "running" else "silent"' '            pass' tests/test_web_worker.py -k follows_the_workers
mutate worker-hibernates app/core/hibernation.py '        if self.worker:
            return False  # a worker' '        if False:
            return False  # a worker' tests/test_web_worker.py -k never_hibernates
mutate listener-no-reconnect app/core/listener.py '            self._stop.wait(self.reconnect_seconds)' '            break' tests/test_web_worker.py -k loses_its_listen
mutate listener-forgets-requests-made-while-down app/core/listener.py '                    self.check_pending()  # requests made while this connection was down' '' tests/test_web_worker.py -k loses_its_listen
mutate poll-without-sqlite-wakeups app/core/listener.py '            self.check_pending()
            self._stop.wait(self.poll_seconds)' '            self._stop.wait(self.poll_seconds)' tests/test_web_worker.py -k "serve_each_web_request and sqlite"
# Issue 13 items 2-4: the three stop signals, the façade, the seed's status dict.
mutate guard-raises-the-base-class app/core/store.py '            raise LeaseTakenOverError(f"run' '            raise __import__("app.errors").errors.LeaseLostError(f"run' tests/test_core.py -k three_signals
mutate progress-raises-the-base-class app/core/context.py '            raise RunCancelledError(f"run' '            raise __import__("app.errors").errors.LeaseLostError(f"run' tests/test_core.py -k three_signals
mutate ui-reaches-into-the-store app/ui/components/history.py 'scheduler.list_jobs()' 'scheduler.store.list_jobs()' tests/test_layers.py
mutate cli-reaches-into-the-status-reader app/cli/reports.py 'obj.scheduler.history(job, limit, status_filter)' 'obj.scheduler.status_reader.history(job, limit, status_filter)' tests/test_layers.py
mutate cli-action-reaches-into-the-store app/cli/actions.py 'obj.scheduler.reset_cursor(job)' 'obj.scheduler.store.reset_cursor(job)' tests/test_layers.py -k cli/actions
mutate seed-status-keeps-a-tuple app/core/records.py '        values["depends_on"] = list(self.depends_on)
' '' tests/test_records.py
mutate seed-status-keeps-a-record app/core/records.py '        values["current_run"] = None if self.current_run is None else self.current_run.as_dict()
' '' tests/test_records.py
# Runs in a child process (issue 14, item 2)
mutate timeout-does-not-stop-the-child app/core/runner.py '            work.stop(self.kill_grace_seconds)  # a child process is gone when this returns' '            pass' tests/test_child_runs.py -k "blocking_call and sqlite"
mutate no-sigkill-after-the-grace app/core/child.py '            self.process.kill()
' '' tests/test_child_runs.py -k ignores_sigterm
mutate child-outlives-its-parent app/core/child.py '        except (EOFError, OSError):
            os._exit(ORPHANED_EXIT)' '        except (EOFError, OSError):
            return' tests/test_multiprocess.py -k "kill_9 and sqlite-process"
mutate child-runs-the-main-script app/core/child.py '            data.pop("init_main_from_path", None)' '            pass' tests/test_child_runs.py -k main_script
mutate lost-lease-does-not-stop-the-child app/core/runner.py '        if status in (RunStatus.TIMEOUT, RunStatus.ABANDONED):' '        if status == RunStatus.TIMEOUT:' tests/test_child_runs.py -k "taken_over_is_stopped and sqlite"
# Issue 13 item 2: the scheduler split by concern; APScheduler stays behind app/core/timer.py.
mutate apscheduler-outside-the-timer app/core/scheduler.py 'from app.core.timer import' 'from apscheduler.triggers.interval import IntervalTrigger  # noqa: F401
from app.core.timer import' tests/test_layers.py -k only_the_timer
mutate housekeeping-without-reap app/core/housekeeping.py '        reaped = self.store.reap_expired(now)' '        reaped = 0' tests/test_housekeeping.py -k reaps
mutate watch-on-every-beat app/core/housekeeping.py 'if self._watched_at is None or now - self._watched_at >= WATCH_EVERY:' 'if True:' tests/test_housekeeping.py -k watch_every
mutate housekeeping-never-watches app/core/housekeeping.py '            self.watch(now)' '            pass' tests/test_catalogue.py -k heartbeat_raises
mutate timer-aims-a-held-back-job-at-once app/core/timer.py '            if held_back:' '            if False:' tests/test_timer.py -k held_back
mutate timer-without-lead app/core/timer.py '            wanted = max(due - TIMER_LEAD, now)' '            wanted = max(due, now)' tests/test_timer.py -k minus_the_lead
mutate dispatch-runs-a-dependent-that-should-wait app/core/dispatch.py '            if verdict == Verdict.WAIT:' '            if False:' tests/test_dispatch.py tests/test_catalogue.py -k waits
mutate dependents-not-woken app/core/dispatch.py '                self._wake_job(dependent)' '                pass' tests/test_dispatch.py -k wakes_its_dependents
mutate handle-does-not-follow-an-abandoned-run app/core/handle.py '            self._follow(here)' '            pass' tests/test_run_wait.py -k abandons_a_dead_run
mutate handle-never-reaps app/core/handle.py '            self._scheduler.store.reap_expired(self._scheduler.clock.now())' '            pass' tests/test_run_wait.py -k poll_alone
# what the 2026-12 look at every page found (tests/test_ui_review.py)
mutate ui-run-reason-untranslated app/ui/components/history.py 'frame["reason"].map(lambda w: reason_word(lang, w))' 'frame["reason"].fillna(DASH)' tests/test_ui_review.py
mutate ui-job-origin-untranslated app/ui/components/jobs.py '                values["origin"] = _origin(values["origin"], lang)' '                pass' tests/test_ui_review.py
mutate ui-setting-origin-untranslated pages/2_Settings.py '{name: origin_word(lang, value) if name == "origin" else plain(value)' '{name: plain(value)' tests/test_ui_review.py
mutate settings-booleans-as-python app/config.py '        return "true" if value else "false"' '        return str(value)' tests/test_ui_review.py
mutate badge-progress-sleeps app/ui/components/scheduler_status.py '        running_box(shown_view.progress, _run_detail(status.current_run, lang, status.timezone))' '        st.status(shown_view.progress, state="running")' tests/test_layers.py -k sleeps
mutate ui-emoji-dot app/ui/components/datasets.py '"info": ":blue[●]",' '"info": "🔵",' tests/test_ui_review.py -k sidebar
mutate run-log-line-hides-the-process app/core/child.py '        return f"in process {self.pid}" if self.pid is not None' '        return "in a thread" if self.pid is not None' tests/test_child_runs.py -k "progress_log_lines and sqlite"
mutate run-wait-timeout-exits-0 app/cli/actions.py '        sys.exit(EXIT_FAILED)
    if record is None:' '    if record is None:' tests/test_cli.py -k nobody_starts
mutate ui-never-beat-reads-silent-since-a-dash app/ui/components/freshness.py '    if state == "silent" and not status.silent_since:' '    if False:' tests/test_ui_review.py -k never_beat
mutate ui-idle-dashboard-promises-a-sync app/ui/components/dashboard.py '    if status and status.state in {"silent", "stopped"}:' '    if False:' tests/test_ui_review.py -k empty_dashboard
mutate run-process-at-full-priority app/core/child.py '    _lower_priority()
' '' tests/test_child_runs.py -k yields
# Issue 13 item 4: one word per concept, down to the columns (migration 0002) and the CLI's stable keys.
mutate renames-by-batch-copy app/core/migrations/versions/0002_one_word_per_concept.py '        op.alter_column(table, old, new_column_name=new)' '        with op.batch_alter_table(table, recreate="always") as batch:
            batch.alter_column(old, new_column_name=new)' tests/test_migrations.py -k "baseline_revision and sqlite"
mutate a-rename-left-out app/core/migrations/versions/0002_one_word_per_concept.py '    ("jobs", "extra_at", "follow_up_at"),
' '' tests/test_migrations.py -k baseline_revision
mutate cli-run-shape-drops-the-trigger-key app/shapes.py ', "trigger": run.reason}' '}' tests/test_cli.py -k json_shapes
# pages while a sync runs (issue 14 item 2): one status read per script run, versions paced during a run
mutate pages-read-status-per-call app/ui/resources.py '    if ctx is None:
        return make()' '    if True:
        return make()' tests/test_ui.py -k reads_each_status
mutate pages-requery-every-commit app/ui/data.py '    used = {str(s.job): paced(s, settings.reread_during_sync_seconds, settings.database_url) for s in found}' '    used = {str(s.job): int(s.data_version) for s in found}' tests/test_pace.py -k page_rerun_during_a_sync
mutate pace-never-holds app/ui/pace.py '                version = held.version' '                version = committed' tests/test_pace.py -k pages_move_on
# Health and status from the heartbeats (fixes, items 1-2): a clean stop counts at once; a CLI is no scheduler.
mutate a-stopped-beat-counts-as-running app/core/status.py 'RUNNING_AT = select(func.max(instances.c.heartbeat_at)).where(instances.c.state == "running")' 'RUNNING_AT = select(func.max(instances.c.heartbeat_at))' tests/test_cli.py -k health
mutate a-stopped-beat-reads-as-silent app/core/status.py '    if newest is not None and newest[2] in ("stopped", "hibernating"):' '    if newest is not None and newest[2] in ("hibernating",):' tests/test_cli.py -k health
mutate a-tick-without-timer-beats app/core/scheduler.py '        state = self.state_name if self.timer_running else None' '        state = self.state_name' tests/test_cli.py -k health
mutate cli-status-is-its-own-word app/core/queries.py 'None if seen_by else self.state_name' 'seen_by or self.state_name' tests/test_web_worker.py -k cli_status_follows
mutate cli-stopped-without-since app/core/status.py 'if state == "silent" or (local_state is None and state == "stopped") else None' 'if state == "silent" else None' tests/test_web_worker.py -k cli_status_follows
# Orderly exit (fixes, item 3): the live schedulers stop before Python closes its thread pools.
mutate no-scheduler-shutdown-at-exit app/core/process_registry.py '    if hook:
        _before_thread_pools_close(shutdown_live)' '    if hook:
        pass' tests/test_timer.py -k exits
mutate exit-hook-after-the-pools-closed app/core/process_registry.py '            register_hook(hook)
            return' '            atexit.register(hook)
            return' tests/test_timer.py -k exits
# a status is one statement (a page reads it on every run)
mutate status-reads-the-last-run-apart app/core/status.py '        last, current = _run_of(row, "last__"), _run_of(row, "current__")' '        last, current = self.run(row["last__id"]) if row["last__id"] else None, _run_of(row, "current__")' tests/test_records.py -k one_statement
mutate status-swaps-last-and-current app/core/status.py '        last, current = _run_of(row, "last__"), _run_of(row, "current__")' '        current, last = _run_of(row, "last__"), _run_of(row, "current__")' tests/test_records.py tests/test_core.py
# the orders table: the zone's wall clock as naive values (pyarrow imports pytz for every aware column)
mutate orders-table-zone-aware app/ui/components/dashboard.py '.dt.tz_convert(tz_name).dt.tz_localize(None)' '.dt.tz_convert(tz_name)' tests/test_ui.py -k wall_clock
mutate pace-shared-across-stores app/ui/pace.py '        key, committed = (store, str(status.job)), int(status.data_version)' '        key, committed = ("", str(status.job)), int(status.data_version)' tests/test_pace.py -k pages_move_on
# replicas starting together on a fresh database register a job once (CI: a worker died on the primary key)
mutate job-insert-races app/core/store.py '                    .on_conflict_do_nothing(index_elements=["name"])
' '' tests/test_core.py -k register_a_new_job_once
mutate exit-hook-before-the-pools-module app/core/process_registry.py '    import concurrent.futures.thread  # noqa: F401
' '' tests/test_timer.py -k before_the_thread_pools_close
mutate settings-loaded-per-call app/ui/resources.py '    return per_run("settings", _load_settings)' '    return _load_settings()' tests/test_ui.py -k reads_each_status
# replicas creating one fresh SQLite file together (CI: "database is locked" from the switch to WAL)
mutate wal-switch-not-retried app/core/database.py '        retry=retry_if_exception(_locked),' '        retry=retry_if_exception(lambda _exc: False),' tests/test_migrations.py -k fresh_sqlite_file_locked
# pages move on to a newer version during a run only once its reads were made ahead of them (app/ui/pace.py)
mutate pages-wait-for-the-newer-version app/ui/pace.py '                    held.warming = committed
' '                    self._held[key] = _Held(committed, now)
                    return committed
' tests/test_pace.py
mutate read-ahead-keyed-on-the-held-version app/ui/pace.py '        self.function(tuple(version if j == job else v for j, v in versions), *self.args)' '        self.function(tuple(v for j, v in versions), *self.args)' tests/test_pace.py
mutate read-ahead-never-adopted app/ui/pace.py '                    held.warming, held.warmed = None, version' '                    held.warming = None' tests/test_pace.py
mutate finished-run-waits-for-the-pace app/ui/pace.py '            if status.current_run is not None and every > 0 and held is not None and held.version < committed:' '            if every > 0 and held is not None and held.version < committed:' tests/test_pace.py
mutate first-data-waits-for-the-pace app/ui/pace.py '(held.version == 0 or now - held.since >= every)' '(now - held.since >= every)' tests/test_pace.py -k first_data
mutate dashboard-reads-nothing-on-no-data app/ui/components/dashboard.py '        data.compute(_numbers, (), (), tz_name, lang, datasets=on)
' '' tests/test_pace.py -k first_rows
# the server's import-time heap is frozen once its first scheduler started (full collections paused pages)
mutate heap-never-frozen app/ui/resources.py '    gc.freeze()
' '' tests/test_ui.py -k heap
mutate heap-frozen-with-its-garbage app/ui/resources.py '    gc.collect()
' '' tests/test_ui.py -k heap
