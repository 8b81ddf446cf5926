#!/bin/bash
# Mutations of the core's guarantees (issue 13, item 1); each must make the named tests fail ("killed"). Run from
# the repository root: bash bench/core_mutations.sh. Each mutation edits one file, runs the tests, puts it back.
set -u
source "$(dirname "$0")/_mutate.sh"
mutate claim-without-live-lease-check app/core/store.py '            if job.lease_held(now):
                return None
' '' tests/test_core.py -k second_run_while
mutate wake-without-catch-up app/core/scheduler.py '        logger.info("session seen: scheduler awake")
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
mutate web-dispatch-unguarded app/core/scheduler.py '        if not self.executes_runs:  # the last guard of the web role: whatever calls this, runs happen in workers
            return outcomes' '' tests/test_web_worker.py -k never_runs_it_itself
mutate web-status-ignores-worker-heartbeats app/core/status.py '            state = "running" if not silent and beat_state == "running" else "silent"' '            pass' tests/test_web_worker.py -k follows_the_workers
mutate worker-hibernates app/core/scheduler.py '        if self.worker:
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
mutate cli-reaches-into-the-status-reader app/cli.py 'obj.scheduler.history(job, limit, status_filter)' 'obj.scheduler.status_reader.history(job, limit, status_filter)' tests/test_layers.py
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
# Issue 13 item 4: one word per concept, down to the columns (migration 0002) and the CLI's stable keys.
mutate renames-by-batch-copy app/core/migrations/versions/0002_one_word_per_concept.py '        op.alter_column(table, old, new_column_name=new)' '        with op.batch_alter_table(table, recreate="always") as batch:
            batch.alter_column(old, new_column_name=new)' tests/test_migrations.py -k "baseline_revision and sqlite"
mutate a-rename-left-out app/core/migrations/versions/0002_one_word_per_concept.py '    ("jobs", "extra_at", "follow_up_at"),
' '' tests/test_migrations.py -k baseline_revision
mutate cli-run-shape-drops-the-trigger-key app/shapes.py ', "trigger": run.reason}' '}' tests/test_cli.py -k json_shapes
